"""Synthetic 1m bars on the real calendar (vectorised), for tests and benchmarks."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from datamgr.calendar.sessions import get_calendar


def make_bars(start: dt.date, end: dt.date, *, seed: int = 1, calendar: str = "CME Globex Equity",
              drop_frac: float = 0.0, tick: float = 0.25, price: float = 4000.0) -> pl.DataFrame:
    """Random-walk 1m bars on every expected minute of trading days ``[start, end]``.

    ``drop_frac`` removes that share of bars at random (planted gaps). Prices are on the tick
    grid and satisfy the OHLC invariants.
    """
    cal = get_calendar(calendar)
    ts = cal.expected_minutes(start, end)
    rng = np.random.default_rng(seed)
    n = ts.len()
    if drop_frac:
        keep = rng.random(n) >= drop_frac
        ts = ts.filter(pl.Series(keep))
        n = ts.len()
    steps = rng.integers(-4, 5, n)
    close = price + np.cumsum(steps) * tick
    open_ = np.concatenate([[price], close[:-1]])
    up = rng.integers(0, 4, n) * tick
    dn = rng.integers(0, 4, n) * tick
    high = np.maximum(open_, close) + up
    low = np.minimum(open_, close) - dn
    vol = rng.integers(1, 500, n).astype("int64")
    return pl.DataFrame({
        "datetime": ts, "open": open_, "high": high, "low": low, "close": close,
        "volume": vol, "source": "demo",
    })
