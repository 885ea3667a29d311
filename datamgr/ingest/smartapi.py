"""Angel One SmartAPI historical candles (``getCandleData``): the adapter only fetches.

Protocol (Angel One's documented REST API, the routes and JSON of their ``smartapi-python`` SDK)::

    POST {base}/rest/auth/angelbroking/user/v1/loginByPassword
         {"clientcode", "password" (the PIN), "totp"}  ->  {"status", "message", "errorcode",
         "data": {"jwtToken", "refreshToken", "feedToken"}}
    POST {base}/rest/secure/angelbroking/historical/v1/getCandleData   (Authorization: Bearer jwt)
         {"exchange", "symboltoken", "interval", "fromdate", "todate"}  ("yyyy-MM-dd HH:mm",
         exchange time, both ends inclusive)  ->  {"status", "message", "errorcode",
         "data": [["2024-01-15T09:15:00+05:30", open, high, low, close, volume], ...]}

    headers: Content-Type / Accept application/json, X-UserType USER, X-SourceID WEB,
             X-ClientLocalIP, X-ClientPublicIP, X-MACAddress, X-PrivateKey (the API key)

Decisions:

* A thin client on ``requests`` (installed, well kept) instead of the official SDK
  ``smartapi-python`` 1.5.5: that SDK looks up the machine's public IP over the network when its
  class is defined, writes every failed request with its headers (the API key) and the login
  parameters (the PIN) to ``./logs/<date>/app.log`` and stderr, and hard-codes its root URL per
  class. Containing all three would mean patching its internals.
* Credentials come only from the environment (:data:`ENV`); the TOTP is computed with ``pyotp``
  from the secret at login. None of them is ever logged, put in an error message or written.
* Request windows are split by the API's per-interval day limits (:data:`MAX_DAYS`, Angel One's
  historical-API documentation); consecutive requests are spaced by ``min_interval`` seconds
  (the API allows about 3 requests a second).
* HTTP 429, 5xx, connection errors and the API's "exceeding access rate" answers are retried
  ``retries`` times with exponential backoff; any other failure is a :class:`SourceError` at once.
* A malformed candle (wrong arity, a time that does not parse, a non-numeric price or volume)
  is an :class:`~datamgr.core.errors.InputError` naming the request window, the row and the
  field; an empty answer is a :class:`SourceError` ("no data" is never a silent success).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from datamgr.core.errors import ConfigError, InputError, SourceError
from datamgr.core.progress import Progress, report
from datamgr.core.schema import conform
from datamgr.ingest.smartapi_names import ENV, INTERVAL_MINUTES, URL_ENV

log = logging.getLogger(__name__)
NAME = "smartapi"
BASE_URL = "https://apiconnect.angelone.in"
LOGIN_ROUTE = "/rest/auth/angelbroking/user/v1/loginByPassword"
CANDLE_ROUTE = "/rest/secure/angelbroking/historical/v1/getCandleData"
IST = ZoneInfo("Asia/Kolkata")
#: interval -> most calendar days one getCandleData request may span
MAX_DAYS = {"ONE_MINUTE": 30, "THREE_MINUTE": 60, "FIVE_MINUTE": 100, "TEN_MINUTE": 100,
            "FIFTEEN_MINUTE": 200, "THIRTY_MINUTE": 200, "ONE_HOUR": 400, "ONE_DAY": 2000}
EXCHANGES = ("NSE", "NFO", "BSE", "BFO", "MCX", "CDS", "NCDEX")
_RATE_WORDS = ("access rate", "rate limit", "too many requests")


@dataclass(frozen=True)
class Credentials:
    """SmartAPI login; ``repr`` never shows a secret."""

    api_key: str
    client_code: str
    pin: str
    totp_secret: str

    def __repr__(self) -> str:
        return f"Credentials(client_code={self.client_code!r}, secrets hidden)"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Credentials:
        """Read the four variables of :data:`ENV`.

        Raises
        ------
        ConfigError
            Naming every variable that is missing (never a value).
        """
        env = os.environ if env is None else env
        missing = [v for v in ENV.values() if not env.get(v)]
        if missing:
            msg = f"SmartAPI history: set the credentials in the environment: {', '.join(missing)} missing"
            raise ConfigError(msg)
        return cls(**{k: env[v] for k, v in ENV.items()})


def split_windows(start: dt.datetime, end: dt.datetime, interval: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Split the inclusive range ``[start, end]`` into request windows of at most ``MAX_DAYS[interval]``
    days; consecutive windows do not overlap (the next starts one candle after the previous end)."""
    if interval not in MAX_DAYS:
        raise ConfigError(f"interval {interval!r} not supported; expected one of {', '.join(MAX_DAYS)}")
    if end < start:
        return []
    span = dt.timedelta(days=MAX_DAYS[interval])
    step = dt.timedelta(minutes=min(INTERVAL_MINUTES[interval], 1440))
    out, a = [], start
    while a <= end:
        b = min(a + span - step, end)
        out.append((a, b))
        a = b + step
    return out


class SmartApiHistory:
    """Fetch raw candles from Angel One SmartAPI (a :class:`~datamgr.ingest.base.BarSource`).

    Parameters
    ----------
    credentials : Credentials, optional
        Default: :meth:`Credentials.from_env` (checked at the first request).
    base_url : str, optional
        Default: env ``DATAMGR_SMARTAPI_URL`` or Angel One's production root.
    session : requests.Session, optional
        HTTP session (a new one by default).
    timeout : float
        Seconds per HTTP request.
    retries : int
        Retries of a request that hit the rate limit, a 5xx or a connection error.
    backoff : float
        First retry delay in seconds (doubles each time).
    min_interval : float
        Seconds between two requests (the API allows ~3 a second).
    sleep : callable
        ``time.sleep`` (tests pass a recorder).
    """

    name = NAME

    def __init__(self, credentials: Credentials | None = None, base_url: str | None = None, session: Any = None,
                 timeout: float = 15.0, retries: int = 4, backoff: float = 0.5, min_interval: float = 0.35,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._creds = credentials
        self.base_url = (base_url or os.environ.get(URL_ENV) or BASE_URL).rstrip("/")
        self._session = session
        self.timeout, self.retries, self.backoff, self.min_interval = timeout, retries, backoff, min_interval
        self.sleep = sleep
        self._jwt: str | None = None
        self.feed_token: str | None = None
        self._last = 0.0
        self.requests = 0

    # ------------------------------------------------------------------ HTTP
    def _http(self):
        if self._session is None:
            import requests  # only when SmartAPI is asked

            self._session = requests.Session()
        return self._session

    def _headers(self) -> dict[str, str]:
        creds = self._credentials()
        h = {"Content-Type": "application/json", "Accept": "application/json", "X-UserType": "USER",
             "X-SourceID": "WEB", "X-ClientLocalIP": "127.0.0.1",
             "X-ClientPublicIP": os.environ.get("DATAMGR_SMARTAPI_PUBLIC_IP", "127.0.0.1"),
             "X-MACAddress": ":".join(f"{(uuid.getnode() >> s) & 0xFF:02x}" for s in range(40, -1, -8)),
             "X-PrivateKey": creds.api_key}
        if self._jwt:
            h["Authorization"] = f"Bearer {self._jwt}"
        return h

    def _credentials(self) -> Credentials:
        if self._creds is None:
            self._creds = Credentials.from_env()
        return self._creds

    def _post(self, route: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        """POST with retries; the parsed JSON answer with ``status`` true, else SourceError."""
        import requests  # only when SmartAPI is asked

        url = self.base_url + route
        for attempt in range(self.retries + 1):
            wait = self.min_interval - (time.monotonic() - self._last)
            if wait > 0:
                self.sleep(wait)
            self._last = time.monotonic()
            self.requests += 1
            retry_why = None
            try:
                r = self._http().post(url, json=body, headers=self._headers(), timeout=self.timeout)
            except requests.RequestException as err:
                retry_why = f"{type(err).__name__}"
                r = None
            if r is not None:
                payload = _json(r)
                message = str((payload or {}).get("message") or r.text[:200]).strip()
                code = (payload or {}).get("errorcode") or ""
                if r.status_code == 429 or r.status_code >= 500 or any(w in message.lower() for w in _RATE_WORDS):
                    retry_why = f"HTTP {r.status_code} {message}".strip()
                elif r.status_code >= 400:
                    raise SourceError(f"SmartAPI {what}: HTTP {r.status_code}: {message}"
                                      f"{f' ({code})' if code else ''}. Nothing was written.")
                elif payload is None:
                    raise SourceError(f"SmartAPI {what}: the answer is not JSON: {r.text[:200]!r}. Nothing was written.")
                elif payload.get("status") in (False, "false", "False"):
                    raise SourceError(f"SmartAPI {what}: {message or 'request refused'}"
                                      f"{f' ({code})' if code else ''}. Nothing was written.")
                else:
                    return payload
            if attempt < self.retries:
                delay = self.backoff * 2 ** attempt
                log.warning("SmartAPI %s: %s; retry %d/%d in %.2f s", what, retry_why, attempt + 1, self.retries, delay)
                self.sleep(delay)
        raise SourceError(f"SmartAPI {what}: {retry_why} after {self.retries + 1} attempts. Nothing was written.")

    @property
    def session_token(self) -> str | None:
        """The JWT of the current login (for the live feed's WebSocket; never logged)."""
        return self._jwt

    @property
    def api_key(self) -> str:
        return self._credentials().api_key

    @property
    def client_code(self) -> str:
        return self._credentials().client_code

    # ------------------------------------------------------------------ API
    def login(self) -> None:
        """Log in with client code + PIN + TOTP (pyotp); keeps the JWT in memory only.

        Raises
        ------
        ConfigError
            Credentials missing from the environment.
        SourceError
            The server refused the login (its message and error code, never the secrets).
        """
        import pyotp  # only at login

        creds = self._credentials()
        try:
            totp = pyotp.TOTP(creds.totp_secret).now()
        except Exception:  # noqa: BLE001 - a malformed secret (binascii.Error, ValueError); never echo it
            raise ConfigError(f"SmartAPI: {ENV['totp_secret']} is not a base32 TOTP secret") from None
        self._jwt = None
        data = self._post(LOGIN_ROUTE, {"clientcode": creds.client_code, "password": creds.pin, "totp": totp},
                          f"login of client {creds.client_code}")
        jwt = (data.get("data") or {}).get("jwtToken") if isinstance(data.get("data"), dict) else None
        if not jwt:
            raise SourceError(f"SmartAPI login of client {creds.client_code}: no jwtToken in the answer")
        self._jwt = jwt.removeprefix("Bearer ")
        self.feed_token = data["data"].get("feedToken")
        log.info("SmartAPI: logged in as client %s", creds.client_code)

    def candles(self, exchange: str, token: str, interval: str, start: dt.datetime, end: dt.datetime, *,
                progress: Progress = None) -> pl.DataFrame:
        """Candles with open times in ``[start, end]`` (inclusive, like the API), canonical and in UTC.

        Parameters
        ----------
        exchange : str
            ``NSE``, ``NFO``, ``BSE``, ...
        token : str
            SmartAPI symbol token (``99926000`` for NIFTY).
        interval : str
            ``ONE_MINUTE`` ... ``ONE_DAY``.
        start, end : datetime
            Aware, or naive meaning India time (the exchange clock).

        Raises
        ------
        ConfigError
            Unknown exchange or interval, or a token that is not digits.
        SourceError
            Login refused, HTTP error, rate limit that outlasts the retries, or no candle at all.
        InputError
            A malformed candle (names the window, the row and the field).
        """
        if exchange not in EXCHANGES:
            raise ConfigError(f"exchange {exchange!r} not supported; expected one of {', '.join(EXCHANGES)}")
        if not str(token).isdigit():
            raise ConfigError(f"token {token!r} must be the SmartAPI symbol token (digits, e.g. 99926000)")
        start, end = _ist(start), _ist(end)
        windows = split_windows(start, end, interval)
        if not windows:
            raise ConfigError(f"from_date {start:%Y-%m-%d %H:%M} is after to_date {end:%Y-%m-%d %H:%M}")
        if self._jwt is None:
            self.login()
        frames = []
        for i, (a, b) in enumerate(windows):
            report(progress, i, len(windows), f"SmartAPI {exchange}:{token} {interval} {a:%Y-%m-%d %H:%M} .. {b:%Y-%m-%d %H:%M}")
            what = f"getCandleData {exchange}:{token} {interval} {a:%Y-%m-%d %H:%M} .. {b:%Y-%m-%d %H:%M} IST"
            body = {"exchange": exchange, "symboltoken": str(token), "interval": interval,
                    "fromdate": f"{a:%Y-%m-%d %H:%M}", "todate": f"{b:%Y-%m-%d %H:%M}"}
            payload = self._post(CANDLE_ROUTE, body, what)
            frames.append(parse_candles(payload.get("data"), what))
        report(progress, len(windows), len(windows), "SmartAPI: fetched")
        out = pl.concat(frames) if frames else pl.DataFrame()
        if out.height == 0:
            msg = (f"SmartAPI returned no candles for {exchange}:{token} {interval} {start:%Y-%m-%d %H:%M} .. "
                   f"{end:%Y-%m-%d %H:%M} IST (holiday, wrong token or exchange?). Nothing was written.")
            raise SourceError(msg)
        out = out.unique("datetime", keep="last").sort("datetime")
        lo, hi = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        out = out.filter(pl.col("datetime").is_between(pl.lit(lo).cast(out.schema["datetime"]),
                                                       pl.lit(hi).cast(out.schema["datetime"])))
        log.info("SmartAPI %s:%s %s: %d candles in %d request(s)", exchange, token, interval, out.height, len(windows))
        return out

    def fetch(self, symbol: str, interval: str, start: dt.datetime, end: dt.datetime, *,
              progress: Progress = None) -> pl.DataFrame:
        """:class:`~datamgr.ingest.base.BarSource`: ``symbol`` is ``EXCHANGE:TOKEN``, ``interval`` ``1m``/``1d``
        or a SmartAPI interval name; the range is ``[start, end)``."""
        exchange, _, token = symbol.partition(":")
        name = {"1m": "ONE_MINUTE", "1d": "ONE_DAY"}.get(interval, interval)
        step = dt.timedelta(minutes=INTERVAL_MINUTES.get(name, 1))
        out = self.candles(exchange, token, name, start, end - step, progress=progress)
        return out


def _ist(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=IST) if t.tzinfo is None else t.astimezone(IST)


def _json(r) -> dict[str, Any] | None:
    try:
        obj = r.json()
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def parse_candles(data: Any, what: str) -> pl.DataFrame:
    """``[[time, o, h, l, c, v], ...]`` -> canonical bars (UTC, source ``smartapi``), not validated.

    Raises
    ------
    InputError
        ``data`` is not a list, or a row has the wrong shape, a time that is not ISO 8601 with an
        offset, or a non-numeric price/volume (row number and field named).
    """
    if data is None:
        return conform(pl.DataFrame({"datetime": [], "open": [], "high": [], "low": [], "close": [], "volume": [],
                                     "source": []}, schema={"datetime": pl.Datetime("us", "UTC"), "open": pl.Float64,
                                     "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
                                     "volume": pl.Int64, "source": pl.String}))
    if not isinstance(data, list):
        raise InputError(f"{what}: field 'data' is not a list of candles: {str(data)[:80]!r}", file=what, field="data")
    fields = ("timestamp", "open", "high", "low", "close", "volume")
    times, cols = [], {f: [] for f in fields[1:]}
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) < 6:
            raise InputError(f"{what}: candle {i}: expected [timestamp, open, high, low, close, volume], got {row!r}",
                             file=what, line=i, field="data")
        try:
            t = dt.datetime.fromisoformat(str(row[0]))
        except ValueError:
            t = None
        if t is None or t.tzinfo is None:
            raise InputError(f"{what}: candle {i}: field timestamp: {row[0]!r} is not an ISO 8601 time with offset",
                             file=what, line=i, field="timestamp")
        times.append(t.astimezone(dt.UTC))
        for j, f in enumerate(fields[1:], start=1):
            v = row[j]
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or (f == "volume" and float(v) != int(v)):
                raise InputError(f"{what}: candle {i}: field {f}: {v!r} is not a {'whole ' if f == 'volume' else ''}number",
                                 file=what, line=i, field=f)
            cols[f].append(float(v) if f != "volume" else int(v))
    df = pl.DataFrame({"datetime": pl.Series(times, dtype=pl.Datetime("us", "UTC")),
                       **{f: pl.Series(cols[f], dtype=pl.Float64) for f in ("open", "high", "low", "close")},
                       "volume": pl.Series(cols["volume"], dtype=pl.Int64),
                       "source": pl.Series([NAME] * len(times), dtype=pl.String)})
    return conform(df)
