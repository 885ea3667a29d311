"""Exchange session calendars: sessions, breaks, trading days and expected 1-minute bars.

Ground truth is ``pandas_market_calendars``:

* ``"CME Globex Equity"`` (ES, NQ, YM, RTY and their micros): the modern schedule including
  holiday early closes (12:15 CT on 2025-07-03), **plus** the daily 15:15-15:30 CT halt CME
  equity futures had until the session of 2021-06-28 (the date ``CME_Equity`` records the halt's
  removal, ``break_end`` changes on 2021-06-28). A session opens 17:00 CT (18:00 ET) on the
  calendar day before its trading day.
* ``"NYSE extended"``: NYSE 04:00-20:00 ET (pre-market to post-market), for ETFs such as SPY.
* ``"NYSE"``: regular 09:30-16:00 ET.

The central representation is a frame of *open segments*: contiguous runs of minutes in which
bars are expected, one or two per session (two when a break splits it)::

    trading_day  Date
    start, end   Datetime(us, UTC)    half-open [start, end)

Everything is vectorised (numpy ``searchsorted`` / ``repeat``); no Python loop over days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from .errors import ConfigError

MINUTE_US = 60_000_000
HALT_END_DAY = dt.date(2021, 6, 28)  # first trading day without the 15:15-15:30 CT halt
_UTC = pl.Datetime("us", "UTC")
CALENDARS = ("CME Globex Equity", "NYSE extended", "NYSE")


@dataclass(frozen=True)
class SessionCalendar:
    """Sessions of one exchange calendar. Build with :func:`get_calendar`."""

    name: str
    closed: tuple[tuple[dt.datetime, dt.datetime], ...] = ()

    # ------------------------------------------------------------------ sessions
    def sessions(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One row per session whose trading day is in ``[start, end]``.

        Columns: ``trading_day`` (Date), ``open``, ``close``, ``break_start``, ``break_end``
        (Datetime us UTC; breaks null when there is none).
        """
        return _sessions(self.name, start, end)

    def segments(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Open segments (``trading_day``, ``start``, ``end``) of trading days in ``[start, end]``,
        with the closed periods of the overrides cut out."""
        seg = _segments(self.name, start, end)
        for c_start, c_end in self.closed:
            seg = _cut(seg, c_start, c_end)
        return seg

    # ------------------------------------------------------------------ minutes
    def expected_minutes(self, start: dt.date, end: dt.date) -> pl.Series:
        """Open times (UTC) of every expected 1-minute bar of trading days in ``[start, end]``."""
        seg = self.segments(start, end)
        return pl.Series("datetime", _expand(seg), dtype=_UTC)

    def expected_counts(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Expected 1-minute bars per trading day: ``trading_day``, ``expected``."""
        seg = self.segments(start, end)
        return (
            seg.with_columns(((pl.col("end") - pl.col("start")).dt.total_minutes()).alias("n"))
            .group_by("trading_day", maintain_order=True)
            .agg(pl.col("n").sum().cast(pl.Int64).alias("expected"))
        )

    def label(self, ts: pl.Series) -> pl.DataFrame:
        """Trading day of each timestamp, null where it falls outside every session.

        Returns a frame with ``trading_day`` (Date, nullable) and ``in_session`` (bool), in the
        order of ``ts``.
        """
        if ts.len() == 0:
            return pl.DataFrame(schema={"trading_day": pl.Date, "in_session": pl.Boolean})
        ts = ts.cast(_UTC)
        lo, hi = ts.min(), ts.max()
        seg = self.segments(lo.date() - dt.timedelta(days=2), hi.date() + dt.timedelta(days=3))
        starts = seg["start"].to_numpy().astype("int64")
        ends = seg["end"].to_numpy().astype("int64")
        days = seg["trading_day"]
        t = ts.to_numpy().astype("datetime64[us]").astype("int64")
        idx = np.searchsorted(starts, t, side="right") - 1
        ok = (idx >= 0) & (t < ends[np.clip(idx, 0, None)] if len(ends) else False)
        td = days.gather(np.clip(idx, 0, None)) if len(days) else pl.Series([None] * len(t), dtype=pl.Date)
        return pl.DataFrame({"trading_day": td, "in_session": pl.Series(ok, dtype=pl.Boolean)}).with_columns(
            pl.when(pl.col("in_session")).then(pl.col("trading_day")).otherwise(None).alias("trading_day")
        )

    def trading_day_of(self, when: dt.datetime) -> dt.date | None:
        """Trading day of one instant, or None outside sessions."""
        s = pl.Series([when], dtype=_UTC)
        return self.label(s)["trading_day"][0]


def get_calendar(name: str, closed: tuple[tuple[dt.datetime, dt.datetime], ...] = ()) -> SessionCalendar:
    """The calendar called ``name`` (an instrument's ``calendar`` setting)."""
    if name not in CALENDARS:
        raise ConfigError(f"unknown calendar {name!r}; expected one of {', '.join(CALENDARS)}")
    return SessionCalendar(name, tuple(closed))


# ---------------------------------------------------------------------- internals
@lru_cache(maxsize=8)
def _pmc(name: str):
    import pandas_market_calendars as mcal

    return mcal.get_calendar("NYSE" if name.startswith("NYSE") else name)


@lru_cache(maxsize=64)
def _sessions(name: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    cal = _pmc(name)
    if name == "NYSE extended":
        sched = cal.schedule(start, end, start="pre", end="post")
        o, c = sched["pre"], sched["post"]
    else:
        sched = cal.schedule(start, end)
        o, c = sched["market_open"], sched["market_close"]
    df = pl.DataFrame({
        "trading_day": pl.Series([d.date() for d in sched.index], dtype=pl.Date),
        "open": pl.Series(o.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")),
        "close": pl.Series(c.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")),
    }).with_columns(pl.col("open", "close").dt.replace_time_zone("UTC"))
    if name == "CME Globex Equity":
        ct = "America/Chicago"
        day_ct = pl.col("trading_day").cast(pl.Datetime("us")).dt.replace_time_zone(ct, ambiguous="earliest")
        bs = (day_ct + pl.duration(hours=15, minutes=15)).dt.convert_time_zone("UTC")
        be = (day_ct + pl.duration(hours=15, minutes=30)).dt.convert_time_zone("UTC")
        has = (pl.col("trading_day") < HALT_END_DAY) & (pl.col("close") > be)
        df = df.with_columns(
            pl.when(has).then(bs).otherwise(None).alias("break_start"),
            pl.when(has).then(be).otherwise(None).alias("break_end"),
        )
    else:
        df = df.with_columns(pl.lit(None, _UTC).alias("break_start"), pl.lit(None, _UTC).alias("break_end"))
    return df.with_columns(pl.col("open", "close", "break_start", "break_end").cast(_UTC))


@lru_cache(maxsize=64)
def _segments(name: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    s = _sessions(name, start, end)
    first = s.select("trading_day", pl.col("open").alias("start"),
                     pl.coalesce("break_start", "close").alias("end"))
    second = s.filter(pl.col("break_end").is_not_null()).select(
        "trading_day", pl.col("break_end").alias("start"), pl.col("close").alias("end"))
    return pl.concat([first, second]).sort("start")


def _cut(seg: pl.DataFrame, c_start: dt.datetime, c_end: dt.datetime) -> pl.DataFrame:
    """Remove the closed period ``[c_start, c_end)`` from the segments."""
    cs, ce = pl.lit(c_start).cast(_UTC), pl.lit(c_end).cast(_UTC)
    left = seg.filter(pl.col("start") < cs).with_columns(pl.min_horizontal("end", cs).alias("end"))
    right = seg.filter(pl.col("end") > ce).with_columns(pl.max_horizontal("start", ce).alias("start"))
    untouched = seg.filter((pl.col("end") <= cs) | (pl.col("start") >= ce))
    out = pl.concat([untouched, left, right]).unique(maintain_order=False)
    return out.filter(pl.col("end") > pl.col("start")).sort("start")


def _expand(seg: pl.DataFrame) -> np.ndarray:
    """All minute open times of the segments, as datetime64[us]."""
    if seg.height == 0:
        return np.array([], dtype="datetime64[us]")
    starts = seg["start"].to_numpy().astype("datetime64[us]").astype("int64")
    ends = seg["end"].to_numpy().astype("datetime64[us]").astype("int64")
    n = (ends - starts) // MINUTE_US
    total = int(n.sum())
    offsets = np.arange(total, dtype="int64") - np.repeat(np.cumsum(n) - n, n)
    return (np.repeat(starts, n) + offsets * MINUTE_US).astype("datetime64[us]")
