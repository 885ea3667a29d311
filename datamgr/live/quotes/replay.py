"""``replay``: stored 1m bars replayed as if they were arriving live (demos and tests)."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, SourceError
from datamgr.live.quotes.base import Quote, quote_times
from datamgr.store.store import Store

log = logging.getLogger(__name__)


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
        zones = {s: self.settings.display_tz_for(self._ticker(s)) for s in self.symbols}
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
                          **quote_times(t + dt.timedelta(minutes=1), zones[s])})
            i += 1
            if stop.wait(60.0 / self.speed):
                return

    def close(self) -> None:
        """Nothing to interrupt: :meth:`stream` watches the stop event."""
