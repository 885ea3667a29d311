"""``yahoo``: Yahoo Finance streaming through yfinance's own ``yfinance.live.WebSocket``.

Its URL, its JSON subscribe message, its base64 ``PricingData`` protobuf decoding are yfinance's. The URL
is a setting: the ``--url`` option or env ``DATAMGR_YAHOO_WS_URL`` (tests point it at a WebSocket server on
127.0.0.1).
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
from datamgr.live.quotes.base import Quote, WebSocketSource, _num, quote_times

log = logging.getLogger(__name__)
YAHOO_WS_URL = "wss://streamer.finance.yahoo.com/?version=2"
URL_ENV = "DATAMGR_YAHOO_WS_URL"


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
                **quote_times(ts, self.tz)}

    def stream(self, on_quote: Callable[[Quote], None], stop: threading.Event,
               on_connected: Callable[[], None] = lambda: None) -> None:
        """Connect, subscribe and deliver quotes until the connection drops or ``stop`` is set."""
        from yfinance.live import WebSocket  # heavy: only when the feed connects

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
