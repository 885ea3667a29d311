"""Bars from a known no-trade model: a minute prints a bar only when it had a trade.

Trades per expected minute are Poisson with a rate that depends on the ET clock (thin nights, a
liquid cash session), so the true probability that a minute had no trade is ``exp(-rate)``.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from datamgr.calendar.sessions import get_calendar

# (first ET minute of day, rate of trades per minute) -- the rate holds until the next entry
RATES = ((0, 0.8), (3 * 60, 6.0), (9 * 60 + 30, 40.0), (16 * 60, 2.0), (18 * 60, 3.0), (20 * 60, 0.8))


def rate_at(et_minute: np.ndarray) -> np.ndarray:
    starts = np.array([r[0] for r in RATES])
    vals = np.array([r[1] for r in RATES])
    return vals[np.searchsorted(starts, et_minute, side="right") - 1]


def thin_bars(start: dt.date, end: dt.date, *, seed: int = 3, holes=(), calendar: str = "CME Globex Equity",
              drop_clock=None) -> pl.DataFrame:
    """Bars of trading days ``start..end``: a bar where the minute had >= 1 trade, minus ``holes``
    (``[start, end)`` aware) and minus ``drop_clock = (h, m, n, days)``: the ET minutes h:m..+n on
    each of the given trading days (a schedule the calendar does not know)."""
    t = get_calendar(calendar).expected_minutes(start, end)
    loc = t.dt.convert_time_zone("America/New_York")
    et_min = (loc.dt.hour().cast(pl.Int32) * 60 + loc.dt.minute().cast(pl.Int32)).to_numpy()
    rng = np.random.default_rng(seed)
    trades = rng.poisson(rate_at(et_min))
    keep = trades > 0
    n = len(t)
    price = np.round((5000 + np.cumsum(rng.normal(0, 0.5, n))) * 4) / 4
    df = pl.DataFrame({"datetime": t, "open": price, "high": price + 0.25, "low": price - 0.25, "close": price,
                       "volume": (trades * rng.integers(1, 4, n)).astype(np.int64), "source": "demo"}).filter(
        pl.Series(keep))
    for a, b in holes:
        df = df.filter(~pl.col("datetime").is_between(a, b, closed="left"))
    if drop_clock is not None:
        h, m, k, days = drop_clock
        lt = pl.col("datetime").dt.convert_time_zone("America/New_York")
        mins = lt.dt.hour().cast(pl.Int32) * 60 + lt.dt.minute().cast(pl.Int32)
        df = df.filter(~(mins.is_between(h * 60 + m, h * 60 + m + k - 1) & lt.dt.date().is_in(list(days))))
    return df
