"""A fake Yahoo Finance transport: a curl_cffi Session that answers from bars we generate.

It serves the URLs yfinance 1.7 calls (read from its source, ``yfinance/data.py`` and
``yfinance/scrapers/history.py``):

* ``https://fc.yahoo.com`` (cookie), ``https://query{1,2}.finance.yahoo.com/v1/test/getcrumb``
  (crumb), ``https://guce.yahoo.com/consent`` (the csrf strategy; a page without a form, so
  yfinance falls back to the basic strategy);
* ``https://query2.finance.yahoo.com/v8/finance/chart/<SYMBOL>`` with ``range=1d`` (time-zone
  probe) or ``period1/period2/interval`` (the bars): the recorded chart JSON shape
  ``{"chart": {"result": [{"meta", "timestamp", "indicators": {"quote": [{open, high, low,
  close, volume}]}}], "error": null}}``, bars labelled by their open time (1d bars at 00:00
  exchange time of their date).

Any other URL raises :class:`UnexpectedRequest` (a BaseException, so yfinance's broad
``except Exception`` cannot swallow it) and is recorded: the tests never touch the network.
``mode`` simulates failures: ``"empty"`` (a chart without bars), ``"rate_limit"`` (HTTP 429),
``"http_500"`` (Yahoo down), ``"network"`` (connection refused).
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import shutil
import tempfile
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import polars as pl
import yfinance as yf
from curl_cffi import requests as curl_requests
from curl_cffi.requests.exceptions import ConnectionError as CurlConnectionError

# yfinance keeps a time-zone and cookie cache on disk: keep it out of the user's home.
_CACHE = tempfile.mkdtemp(prefix="yf-cache-")
yf.set_tz_cache_location(_CACHE)
atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)

EXCHANGE_TZ = "America/New_York"


class UnexpectedRequest(BaseException):  # noqa: N818 - it is a failure signal, not an error class
    """A URL the fake does not serve: the code under test tried to reach something else."""


def _response(url: str, status: int, body: bytes, ctype: str = "application/json") -> curl_requests.Response:
    r = curl_requests.Response()
    r.url = url
    r.status_code = status
    r.ok = status < 400
    r.reason = "OK" if r.ok else "Error"
    r.content = body
    r.headers["content-type"] = ctype
    return r


def chart_json(symbol: str, bars: pl.DataFrame, interval: str) -> dict:
    """The chart API answer for ``bars`` (canonical frame; 1d bars labelled by date)."""
    meta = {"currency": "USD", "symbol": symbol, "exchangeName": "CME", "fullExchangeName": "CME",
            "instrumentType": "FUTURE", "firstTradeDate": 969249600, "regularMarketTime": 1732300000,
            "hasPrePostMarketData": False, "gmtoffset": -18000, "timezone": "EST",
            "exchangeTimezoneName": EXCHANGE_TZ, "regularMarketPrice": 6000.0, "priceHint": 2,
            "dataGranularity": interval, "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]}
    result: dict = {"meta": meta, "indicators": {"quote": [{}]}}
    if bars.height:
        if interval == "1m":
            ts = [int(t.timestamp()) for t in bars["datetime"].to_list()]
        else:  # Yahoo stamps daily/weekly bars at 00:00 exchange time of their date
            et = ZoneInfo(EXCHANGE_TZ)
            ts = [int(dt.datetime.combine(t.date(), dt.time(), et).timestamp()) for t in bars["datetime"].to_list()]
        result["timestamp"] = ts
        q = {c: bars[c].to_list() for c in ("open", "high", "low", "close", "volume")}
        result["indicators"] = {"quote": [q], "adjclose": [{"adjclose": q["close"]}]}
    return {"chart": {"result": [result], "error": None}}


class FakeYahooSession(curl_requests.Session):
    """curl_cffi Session serving chart responses built from ``bars[interval]``.

    Parameters
    ----------
    bars : dict
        ``{"1m": frame, "1d": frame, "1wk": frame}`` canonical bars to serve.
    mode : str, optional
        ``None`` (serve), ``"empty"``, ``"rate_limit"``, ``"http_500"`` or ``"network"``.
    """

    def __init__(self, bars: dict[str, pl.DataFrame] | None = None, mode: str | None = None) -> None:
        super().__init__()
        self.bars = bars or {}
        self.mode = mode
        self.chart_requests: list[dict] = []
        self.unexpected: list[str] = []

    def request(self, method, url, params=None, **kwargs):  # noqa: D401 - curl_cffi signature
        params = dict(params or {})
        host, path = urlparse(url).netloc, urlparse(url).path
        if self.mode == "network":
            raise CurlConnectionError(f"Failed to connect to {host} port 443: Connection refused")
        if host == "fc.yahoo.com":
            return _response(url, 404, b"", "text/html")
        if host == "guce.yahoo.com":
            return _response(url, 200, b"<html><body>no consent form</body></html>", "text/html")
        if host.startswith("query") and path == "/v1/test/getcrumb":
            return _response(url, 200, b"fake-crumb", "text/plain")
        if host.startswith("query") and path.startswith("/v8/finance/chart/"):
            return self._chart(url, path.rsplit("/", 1)[1], params)
        if self.mode == "http_500" and host.endswith("yahoo.com"):
            return _response(url, 500, b"<html>Internal Server Error</html>", "text/html")
        self.unexpected.append(url)
        raise UnexpectedRequest(f"fake Yahoo transport: unexpected request {method} {url} {params}")

    def _chart(self, url: str, symbol: str, params: dict) -> curl_requests.Response:
        if self.mode == "rate_limit":
            return _response(url, 429, b"Too Many Requests", "text/plain")
        if self.mode == "http_500":
            return _response(url, 500, b"<html>Internal Server Error</html>", "text/html")
        interval = params.get("interval", "1d")
        if "range" in params:  # time-zone probe
            return _response(url, 200, json.dumps(chart_json(symbol, pl.DataFrame(), interval)).encode())
        self.chart_requests.append(dict(params))
        lo = dt.datetime.fromtimestamp(int(params["period1"]), dt.UTC)
        hi = dt.datetime.fromtimestamp(int(params["period2"]), dt.UTC)
        frame = self.bars.get(interval, pl.DataFrame())
        if self.mode == "empty" or frame.height == 0:
            frame = pl.DataFrame()
        elif interval == "1m":
            frame = frame.filter(pl.col("datetime").is_between(lo, hi, closed="left"))
        else:
            frame = frame.filter(pl.col("datetime").is_between(lo - dt.timedelta(days=1), hi, closed="left"))
        return _response(url, 200, json.dumps(chart_json(symbol, frame, interval)).encode())
