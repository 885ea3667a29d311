"""Angel One SmartAPI WebSocket V2 ("Smart Stream") source for the live feed.

Protocol (Angel One's SmartAPI WebSocket V2, as their ``smartapi-python`` client speaks it):

* connect to ``wss://smartapisocket.angelone.in/smart-stream`` with headers ``Authorization``
  (the login JWT), ``x-api-key``, ``x-client-code`` and ``x-feed-token``;
* subscribe with JSON ``{"correlationID", "action": 1, "params": {"mode": 2, "tokenList":
  [{"exchangeType": 2, "tokens": ["35001"]}]}}`` (mode 2 = QUOTE: price, OHLC and volume);
* the server sends binary little-endian packets: mode (u8), exchange type (u8), token (25 bytes,
  NUL-padded), sequence (i64), exchange time in ms (i64), LTP (i64, paise), then in QUOTE mode
  last qty, average price, day volume (i64), total buy / sell qty (f64), open, high, low, close
  (i64, paise);
* the client sends the text ``ping`` every 10 s; the server answers ``pong``.

Credentials come from the environment (never from the command line, which other users can see):
``DATAMGR_SMARTAPI_JWT``, ``DATAMGR_SMARTAPI_API_KEY``, ``DATAMGR_SMARTAPI_CLIENT_CODE``,
``DATAMGR_SMARTAPI_FEED_TOKEN``; the URL from ``--url`` or ``DATAMGR_SMARTAPI_WS_URL``.
Symbols are configured instrument names with a SmartAPI token (``NIFTY`` -> ``NSE_CM:99926000``)
or ``EXCHANGE:TOKEN`` (``NSE_FO:35001`` or ``2:35001``); a quote shows the instrument's name when
one is configured for its exchange and token (``NIFTY``, never ``NSE_CM:99926000``), else the
symbol as given. Exchange times are shown in the instrument's display zone (IST for NSE).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import struct
import threading
from collections.abc import Callable, Mapping
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, SourceError
from datamgr.live.quotes.base import WebSocketSource, quote_times

log = logging.getLogger(__name__)
SMARTAPI_WS_URL = "wss://smartapisocket.angelone.in/smart-stream"
URL_ENV = "DATAMGR_SMARTAPI_WS_URL"
CREDENTIALS = {"Authorization": "DATAMGR_SMARTAPI_JWT", "x-api-key": "DATAMGR_SMARTAPI_API_KEY",
               "x-client-code": "DATAMGR_SMARTAPI_CLIENT_CODE", "x-feed-token": "DATAMGR_SMARTAPI_FEED_TOKEN"}
#: an instrument's ``exchange`` setting (getCandleData's exchange) -> WebSocket exchange segment
SEGMENT_OF = {"NSE": "NSE_CM", "NFO": "NSE_FO", "BSE": "BSE_CM", "BFO": "BSE_FO", "MCX": "MCX_FO",
              "NCDEX": "NCX_FO", "CDS": "CDE_FO"}
EXCHANGES = {"NSE_CM": 1, "NSE_FO": 2, "BSE_CM": 3, "BSE_FO": 4, "MCX_FO": 5, "NCX_FO": 7, "CDE_FO": 13}
QUOTE_MODE = 2
HEARTBEAT_SECONDS = 10.0
_HEAD = struct.Struct("<BB25sqqq")            # mode, exchange, token, sequence, time ms, ltp
_QUOTE = struct.Struct("<qqqddqqqq")          # qty, avg, volume, buy qty, sell qty, open, high, low, close


def parse_symbol(symbol: str) -> tuple[int, str]:
    """``NSE_FO:35001`` or ``2:35001`` -> (exchange type, token)."""
    exch, sep, token = symbol.partition(":")
    code = EXCHANGES.get(exch.upper()) if not exch.isdigit() else int(exch)
    if not sep or not token or code not in EXCHANGES.values():
        msg = (f"smartapi: symbol {symbol!r} must be EXCHANGE:TOKEN with EXCHANGE one of "
               f"{', '.join(EXCHANGES)} (or its number), e.g. NSE_FO:35001")
        raise ConfigError(msg)
    return code, token


def parse_packet(data: bytes) -> dict[str, Any]:
    """Decode one binary SmartAPI V2 packet (LTP or QUOTE mode); prices in rupees."""
    if len(data) < _HEAD.size:
        raise SourceError(f"smartapi: packet of {len(data)} bytes is shorter than the {_HEAD.size}-byte header")
    mode, exch, token, seq, ms, ltp = _HEAD.unpack_from(data)
    out: dict[str, Any] = {"mode": mode, "exchange_type": exch, "token": token.split(b"\0", 1)[0].decode("ascii"),
                           "sequence": seq, "exchange_ms": ms, "ltp": ltp / 100}
    if mode >= QUOTE_MODE and len(data) >= _HEAD.size + _QUOTE.size:
        _qty, _avg, vol, _buy, _sell, o, h, lo, c = _QUOTE.unpack_from(data, _HEAD.size)
        out.update(volume=vol, open=o / 100, high=h / 100, low=lo / 100, prev_close=c / 100)
    return out


class SmartApiSource(WebSocketSource):
    """Angel One SmartAPI WebSocket V2 in QUOTE mode (see the module docstring)."""

    name = "smartapi"

    def __init__(self, settings: Settings, symbols: list[str], url: str | None = None,
                 heartbeat: float = HEARTBEAT_SECONDS, env: Mapping[str, str] | None = None) -> None:
        self.settings, self.symbols, self.heartbeat = settings, symbols, heartbeat
        self.env = env if env is not None else os.environ
        self.url = url or os.environ.get(URL_ENV) or SMARTAPI_WS_URL
        self.tz = settings.display_tz
        self._ws: Any = None

    def resolve(self, symbol: str) -> tuple[tuple[int, str], str, str]:
        """``((exchange type, token), display name, zone)`` of ``symbol`` (a name or ``EXCH:TOKEN``)."""
        ins = self.settings.instruments.get(symbol)
        if ins is not None and ins.token and ins.exchange:
            key = parse_symbol(f"{SEGMENT_OF.get(ins.exchange, ins.exchange)}:{ins.token}")
            return key, symbol, self.settings.display_tz_for(symbol)
        if ":" not in symbol:
            known = sorted(t for t, i in self.settings.instruments.items() if i.token)
            msg = (f"smartapi: symbol {symbol!r} is neither a configured instrument with a SmartAPI token "
                   f"({', '.join(known)}) nor EXCHANGE:TOKEN (e.g. NSE_CM:99926000)")
            raise ConfigError(msg)
        key = parse_symbol(symbol)
        for t, i in self.settings.instruments.items():
            if i.token and i.exchange and parse_symbol(f"{SEGMENT_OF.get(i.exchange, i.exchange)}:{i.token}") == key:
                return key, t, self.settings.display_tz_for(t)
        return key, symbol, self.tz

    def check(self) -> None:
        """Raise :class:`ConfigError` for bad symbols or missing credentials (naming the variables)."""
        for s in self.symbols:
            self.resolve(s)
        missing = [env for env in CREDENTIALS.values() if not self.env.get(env)]
        if missing:
            raise ConfigError(f"smartapi: set the credentials in the environment: {', '.join(missing)} missing")

    def _subscription(self) -> str:
        by_exchange: dict[int, list[str]] = {}
        for s in self.symbols:
            code, token = self.resolve(s)[0]
            by_exchange.setdefault(code, []).append(token)
        return json.dumps({"correlationID": "datamgr", "action": 1, "params": {
            "mode": QUOTE_MODE, "tokenList": [{"exchangeType": e, "tokens": t} for e, t in by_exchange.items()]}})

    def quote(self, packet: dict[str, Any]) -> dict[str, Any] | None:
        """A feed quote from a decoded packet (``None`` for a token we did not subscribe)."""
        if getattr(self, "_names", None) is None:
            self._names = {key: (name, zone) for key, name, zone in map(self.resolve, self.symbols)}
        found = self._names.get((packet["exchange_type"], packet["token"]))
        if found is None:
            return None
        t = dt.datetime.fromtimestamp(packet["exchange_ms"] / 1000, dt.UTC)
        return {"trading_symbol": found[0], "last_traded_price": packet["ltp"], "open": packet.get("open"),
                "high": packet.get("high"), "low": packet.get("low"), "close": packet["ltp"],
                "volume": packet.get("volume"), **quote_times(t, found[1])}

    def stream(self, on_quote: Callable[[dict[str, Any]], None], stop: threading.Event,
               on_connected: Callable[[], None] = lambda: None) -> None:
        """One connection: subscribe, decode packets, ping every 10 s; raise when it drops."""
        from websockets.sync.client import connect  # only when the feed connects

        headers = {h: os.environ.get(env, "") for h, env in CREDENTIALS.items()}
        try:
            with connect(self.url, additional_headers=headers, open_timeout=10) as ws:
                self._ws = ws
                ws.send(self._subscription())
                on_connected()
                while not stop.is_set():
                    try:
                        msg = ws.recv(timeout=self.heartbeat)
                    except TimeoutError:
                        ws.send("ping")
                        continue
                    if isinstance(msg, bytes):
                        q = self.quote(parse_packet(msg))
                        if q is not None:
                            on_quote(q)
                    elif msg != "pong":
                        log.warning("smartapi: server says %s", msg[:200])
        except SourceError:
            raise
        except Exception as err:  # websockets / OSError: translated at the boundary
            if stop.is_set():
                return
            raise SourceError(f"smartapi: {self.url}: {type(err).__name__}: {err}") from err
        finally:
            self.close()

