"""Live price sources: ``replay`` (a stored 1m master), ``yahoo`` (Yahoo streaming) and
``smartapi`` (Angel One SmartAPI WebSocket V2, in :mod:`datamgr.live.quotes.smartapi`).

A source delivers quotes (dicts with the fields of :data:`datamgr.live.files.QUOTE_FIELDS`)
through ``on_quote``. :meth:`stream` runs ONE connection: it returns when ``stop`` is set and
raises :class:`~datamgr.core.errors.SourceError` when the connection fails or drops; the feed process
reconnects with backoff. :meth:`close` interrupts a blocking stream from another thread.

Yahoo streaming uses yfinance's own ``yfinance.live.WebSocket`` (its URL, its JSON subscribe
message, its base64 ``PricingData`` protobuf decoding). The URL is a setting: the ``--url``
option or env ``DATAMGR_YAHOO_WS_URL`` (tests point it at a WebSocket server on 127.0.0.1).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, SourceError
from datamgr.core.timefmt import to_et_iso

log = logging.getLogger(__name__)
YAHOO_WS_URL = "wss://streamer.finance.yahoo.com/?version=2"
URL_ENV = "DATAMGR_YAHOO_WS_URL"
SOURCES = ("replay", "yahoo", "smartapi")
Quote = dict[str, Any]


class ReplaySource:
    """Replays stored 1m bars as if they were arriving live (demos and tests).

    Parameters
    ----------
    settings : Settings
        Where the masters are.
    symbols : list of str
        Tickers (``ES1``) or Yahoo symbols (``ES=F``) of instruments with a 1m master.
    speed : float
        Speed factor: 60 replays one 1m bar per second; 1 is real time.
    start : datetime, optional
        First bar to replay; default: the last 24 hours of the file. The replay loops at the end.
    """

    name = "replay"

    def __init__(self, settings: Settings, symbols: list[str], speed: float = 60.0,
                 start: dt.datetime | None = None) -> None:
        if speed <= 0:
            raise ConfigError(f"replay speed must be > 0, got {speed}")
        self.settings, self.symbols, self.speed, self.start = settings, symbols, speed, start
        self.tz = settings.display_tz

    def _ticker(self, symbol: str) -> str:
        candidates = [symbol] + [t for t, ins in self.settings.instruments.items() if ins.yahoo_symbol == symbol]
        for t in candidates:
            try:
                if self.settings.bar_path(t, "1m").is_file():
                    return t
            except ConfigError:
                continue
        msg = f"replay: no 1m master for {symbol!r} in {self.settings.data_dir} (expected e.g. {symbol}_1m.parquet)"
        raise ConfigError(msg)

    def check(self) -> None:
        """Raise :class:`ConfigError` naming the symbol whose 1m master is missing."""
        for s in self.symbols:
            self._ticker(s)

    def _rows(self, symbol: str) -> list[tuple]:
        from datamgr.store.store import Store

        df = Store(self.settings).read(self._ticker(symbol), "1m")
        if df.is_empty():
            raise SourceError(f"replay: the 1m master of {symbol!r} has no bars")
        start = self.start or (df["datetime"][-1] - dt.timedelta(hours=24))
        sel = df.filter(df["datetime"] >= start)
        sel = sel if not sel.is_empty() else df
        return sel.select("datetime", "open", "high", "low", "close", "volume").rows()

    def stream(self, on_quote: Callable[[Quote], None], stop: threading.Event,
               on_connected: Callable[[], None] = lambda: None) -> None:
        """Emit one bar per symbol every ``60 / speed`` seconds until ``stop`` is set."""
        rows = {s: self._rows(s) for s in self.symbols}
        on_connected()
        day: dict[str, list] = {}
        i = 0
        while not stop.is_set():
            for s, bars in rows.items():
                t, o, h, lo, c, v = bars[i % len(bars)]
                if i % len(bars) == 0 or s not in day:
                    day[s] = [o, h, lo, 0]
                agg = day[s]
                agg[1], agg[2], agg[3] = max(agg[1], h), min(agg[2], lo), agg[3] + v
                on_quote({"trading_symbol": s, "last_traded_price": c, "open": agg[0], "high": agg[1],
                          "low": agg[2], "close": c, "volume": agg[3],
                          "exchange_timestamp": to_et_iso(t + dt.timedelta(minutes=1), self.tz)})
            i += 1
            if stop.wait(60.0 / self.speed):
                return

    def close(self) -> None:
        """Nothing to interrupt: :meth:`stream` watches the stop event."""


class WebSocketSource:
    """What the WebSocket sources share: the open socket, closed from another thread."""

    name = "websocket"
    _ws: Any = None

    def close(self) -> None:
        """Close the WebSocket (unblocks ``stream`` from another thread)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception as err:  # closing a broken socket: nothing left to do
                log.debug("%s: close: %s", self.name, err)


class YahooSource(WebSocketSource):
    """Yahoo Finance streaming through ``yfinance.live.WebSocket``.

    Parameters
    ----------
    settings : Settings
        For the display time zone.
    symbols : list of str
        Yahoo symbols (``ES=F``).
    url : str, optional
        WebSocket URL; default env ``DATAMGR_YAHOO_WS_URL`` or Yahoo's streamer.
    """

    name = "yahoo"

    def __init__(self, settings: Settings, symbols: list[str], url: str | None = None) -> None:
        self.symbols = symbols
        self.url = url or os.environ.get(URL_ENV) or YAHOO_WS_URL
        self.tz = settings.display_tz
        self._ws: Any = None

    def check(self) -> None:
        """Raise :class:`ConfigError` for an unusable URL."""
        if not self.url.startswith(("ws://", "wss://")):
            raise ConfigError(f"yahoo: WebSocket URL must start with ws:// or wss://, got {self.url!r}")

    def quote(self, msg: dict[str, Any]) -> Quote | None:
        """A feed quote from one decoded ``PricingData`` message (``None`` if not usable)."""
        if "error" in msg or msg.get("id") not in self.symbols or "price" not in msg:
            if "error" in msg:
                log.warning("yahoo: undecodable message: %s", msg["error"])
            return None
        ms = msg.get("time")
        ts = dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC) if ms is not None else None
        price = float(msg["price"])
        return {"trading_symbol": msg["id"], "last_traded_price": price,
                "open": _num(msg.get("open_price")), "high": _num(msg.get("day_high")),
                "low": _num(msg.get("day_low")), "close": price,
                "volume": int(msg["day_volume"]) if "day_volume" in msg else None,
                "exchange_timestamp": to_et_iso(ts, self.tz) if ts else None}

    def stream(self, on_quote: Callable[[Quote], None], stop: threading.Event,
               on_connected: Callable[[], None] = lambda: None) -> None:
        """Connect, subscribe and deliver quotes until the connection drops or ``stop`` is set."""
        from yfinance.live import WebSocket

        ws = WebSocket(url=self.url, verbose=False)
        self._ws = ws

        def handle(msg: dict[str, Any]) -> None:
            q = self.quote(msg)
            if q is not None:
                on_quote(q)

        try:
            ws.subscribe(self.symbols)
            on_connected()
            ws.listen(handle)
        except Exception as err:  # websockets / OSError / protobuf: translated at the boundary
            if stop.is_set():
                return
            raise SourceError(f"yahoo: {self.url}: {type(err).__name__}: {err}") from err
        finally:
            self.close()
        if not stop.is_set():
            raise SourceError(f"yahoo: {self.url}: connection closed")



def _num(v: Any) -> float | None:
    return float(v) if v is not None else None


def make_source(settings: Settings, name: str, symbols: list[str], *, speed: float = 60.0,
                url: str | None = None, start: dt.datetime | None = None):
    """The source called ``name`` (``replay``, ``yahoo`` or ``smartapi``)."""
    if not symbols:
        raise ConfigError("live feed: give at least one symbol (--symbols)")
    if name == "replay":
        return ReplaySource(settings, symbols, speed=speed, start=start)
    if name == "yahoo":
        return YahooSource(settings, symbols, url=url)
    if name == "smartapi":
        from datamgr.live.quotes.smartapi import SmartApiSource

        return SmartApiSource(settings, symbols, url=url)
    raise ConfigError(f"unknown live source {name!r}; expected one of {', '.join(SOURCES)}")
