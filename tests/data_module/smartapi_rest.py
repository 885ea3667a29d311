"""An HTTP server on 127.0.0.1 speaking Angel One SmartAPI's REST routes (login + getCandleData).

* ``POST /rest/auth/angelbroking/user/v1/loginByPassword`` checks ``X-PrivateKey``, the client code,
  the PIN and the TOTP (pyotp, the current code of :data:`TOTP_SECRET`); answers
  ``{"status": true, "message": "SUCCESS", "errorcode": "", "data": {"jwtToken", "refreshToken", "feedToken"}}``
  or ``{"status": false, "message": "Invalid totp", "errorcode": "AB1050", "data": null}``.
* ``POST /rest/secure/angelbroking/historical/v1/getCandleData`` checks ``Authorization: Bearer <jwt>``
  and ``X-PrivateKey`` (HTTP 401 ``AG8001 Invalid Token`` otherwise), the interval's day limit, and
  answers ``[[ISO time +05:30, o, h, l, c, v], ...]`` for candles with ``fromdate <= open <= todate``
  on the NSE calendar's sessions (deterministic prices per token and minute; coarser intervals are
  aggregated from the minutes, anchored at 09:15).
* Known tokens: NSE 99926000 (NIFTY), 99926009 (BANKNIFTY); BSE 99919000 (SENSEX). Another
  exchange/token pair gets ``{"status": false, "message": "Invalid symbol token", "errorcode": "AB4008"}``
  (what matters: an error, not data).
* ``faults``: a list of ``(http status, body dict or text)`` served, one per candle request, before
  normal answers (rate limit, 5xx, empty data, malformed candles).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import numpy as np
import pandas_market_calendars as mcal
import pyotp

API_KEY, CLIENT, PIN = "key-secret-5521", "T1234", "pin-secret-7395"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
ENV = {"DATAMGR_SMARTAPI_API_KEY": API_KEY, "DATAMGR_SMARTAPI_CLIENT_CODE": CLIENT,
       "DATAMGR_SMARTAPI_PIN": PIN, "DATAMGR_SMARTAPI_TOTP_SECRET": TOTP_SECRET}
TOKENS = {("NSE", "99926000"): 21_500.0, ("NSE", "99926009"): 47_000.0, ("BSE", "99919000"): 71_000.0}
MINUTES = {"ONE_MINUTE": 1, "THREE_MINUTE": 3, "FIVE_MINUTE": 5, "TEN_MINUTE": 10, "FIFTEEN_MINUTE": 15,
           "THIRTY_MINUTE": 30, "ONE_HOUR": 60, "ONE_DAY": 1440}
MAX_DAYS = {"ONE_MINUTE": 30, "THREE_MINUTE": 60, "FIVE_MINUTE": 100, "TEN_MINUTE": 100,
            "FIFTEEN_MINUTE": 200, "THIRTY_MINUTE": 200, "ONE_HOUR": 400, "ONE_DAY": 2000}
IST = ZoneInfo("Asia/Kolkata")
LOGIN = "/rest/auth/angelbroking/user/v1/loginByPassword"
CANDLES = "/rest/secure/angelbroking/historical/v1/getCandleData"
JWT = "eyJ-loopback-jwt"


def _sessions(a: dt.date, b: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
    sched = mcal.get_calendar("XNSE").schedule(a, b)
    return [(o.to_pydatetime().astimezone(IST), c.to_pydatetime().astimezone(IST))
            for o, c in zip(sched["market_open"], sched["market_close"])]


def minute_candles(base: float, a: dt.datetime, b: dt.datetime) -> list[tuple[dt.datetime, float, float, float, float, int]]:
    """Deterministic 1m candles of the sessions between ``a`` and ``b`` (open times inclusive)."""
    out = []
    for o, c in _sessions(a.date(), b.date()):
        n = int((c - o).total_seconds() // 60)
        t0 = int(o.timestamp() // 60)
        k = np.arange(t0, t0 + n)
        close = base + 40 * np.sin(k / 37.0) + 15 * np.sin(k / 5.3)
        opn = np.concatenate([[close[0] - 1.0], close[:-1]])
        high = np.maximum(opn, close) + 2.5
        low = np.minimum(opn, close) - 2.5
        vol = 1000 + (k % 97) * 10
        for i in range(n):
            t = o + dt.timedelta(minutes=i)
            if a <= t <= b:
                out.append((t, round(float(opn[i]), 2), round(float(high[i]), 2), round(float(low[i]), 2),
                            round(float(close[i]), 2), int(vol[i])))
    return out


def candles(base: float, interval: str, a: dt.datetime, b: dt.datetime) -> list[list]:
    """The answer rows for ``interval``: 1m candles aggregated into buckets anchored at the open."""
    step = MINUTES[interval]
    day_lo = dt.datetime.combine(a.date(), dt.time(0), IST)
    day_hi = dt.datetime.combine(b.date(), dt.time(23, 59), IST)
    rows = minute_candles(base, day_lo, day_hi)
    buckets: dict[dt.datetime, list] = {}
    for t, o, h, lo, c, v in rows:
        start = t.replace(hour=9, minute=15)
        label = (t.replace(hour=0, minute=0) if step == 1440
                 else start + dt.timedelta(minutes=((t - start).seconds // 60) // step * step))
        cur = buckets.get(label)
        buckets[label] = [o, h, lo, c, v] if cur is None else [cur[0], max(cur[1], h), min(cur[2], lo), c, cur[4] + v]
    return [[lab.isoformat(), *vals] for lab, vals in sorted(buckets.items()) if a <= lab <= b]


class SmartApiRest:
    """The loopback server; use as a context manager, point ``DATAMGR_SMARTAPI_URL`` at :attr:`url`."""

    def __init__(self) -> None:
        self.faults: list[tuple[int, object]] = []
        self.requests: list[dict] = []
        self.logins = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, body: object) -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status, answer = outer.answer(self.path, dict(self.headers), body)
                self._send(status, answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> SmartApiRest:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def candle_requests(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == CANDLES]

    def answer(self, path: str, headers: dict, body: dict) -> tuple[int, object]:
        self.requests.append({"path": path, "body": body})
        if headers.get("X-PrivateKey") != API_KEY:
            return 401, {"status": False, "message": "Invalid API Key", "errorcode": "AG8004", "data": None}
        if path == LOGIN:
            self.logins += 1
            ok = (body.get("clientcode") == CLIENT and body.get("password") == PIN
                  and pyotp.TOTP(TOTP_SECRET).verify(str(body.get("totp")), valid_window=1))
            if not ok:
                msg = "Invalid totp" if body.get("password") == PIN else "Invalid PIN"
                return 200, {"status": False, "message": msg, "errorcode": "AB1050", "data": None}
            return 200, {"status": True, "message": "SUCCESS", "errorcode": "",
                         "data": {"jwtToken": f"Bearer {JWT}", "refreshToken": "refresh", "feedToken": "feed-1"}}
        if path != CANDLES:
            return 404, {"status": False, "message": "Not found", "errorcode": "AB2000", "data": None}
        if headers.get("Authorization") != f"Bearer {JWT}":
            return 401, {"status": False, "message": "Invalid Token", "errorcode": "AG8001", "data": None}
        if self.faults:
            return self.faults.pop(0)
        key = (body.get("exchange"), str(body.get("symboltoken")))
        interval = body.get("interval")
        if key not in TOKENS:
            return 200, {"status": False, "message": "Invalid symbol token", "errorcode": "AB4008", "data": None}
        if interval not in MINUTES:
            return 200, {"status": False, "message": "Invalid interval", "errorcode": "AB4009", "data": None}
        a = dt.datetime.strptime(body["fromdate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        b = dt.datetime.strptime(body["todate"], "%Y-%m-%d %H:%M").replace(tzinfo=IST)
        if (b - a).days > MAX_DAYS[interval] or b < a:
            return 200, {"status": False, "message": f"Date range exceeds {MAX_DAYS[interval]} days for {interval}",
                         "errorcode": "AB1019", "data": None}
        return 200, {"status": True, "message": "SUCCESS", "errorcode": "", "data": candles(TOKENS[key], interval, a, b)}
