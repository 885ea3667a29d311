"""Exchange session calendars: sessions, breaks, trading days and expected 1-minute bars.

Ground truth is ``pandas_market_calendars``:

* ``"CME Globex Equity"`` (ES, NQ, YM, RTY and their micros): holidays and holiday early
  closes from ``pandas_market_calendars`` "CME Globex Equity" (right on the modern early closes:
  12:15 CT on 2025-07-03, 12:00 CT on 2025-07-04 and 2025-06-19; "CME_Equity" closes all of them
  at 12:00 CT), with the regular-day hours corrected per era (see *Findings* below):

  ==========================  =====================================================  ==========
  trading days                regular session (CT)                                   break
  ==========================  =====================================================  ==========
  before 2012-11-19           15:30 the day before (after a regular day), to 15:15   16:30-17:00
  2012-11-19 .. 2021-06-25    17:00 the day before to 16:15                          15:15-15:30
  from 2021-06-28             17:00 the day before to 16:00                          none
  ==========================  =====================================================  ==========

  A session opens 17:00 CT (18:00 ET) on the calendar day before its trading day (Sunday for
  Monday); early-close days keep the library's close and have no break after it.

Findings (checked 2026-11 with pandas_market_calendars 5.5 and the real MES export):

* ``CME_Equity`` records the halt's removal exactly: its ``break_end`` becomes equal to
  ``break_start`` (15:15 CT) from trading day **2021-06-28** (sessions of 2021-06-25 still have
  15:15-15:30). ``CME_Equity`` also knows the older eras: before 2012-11-19 its session runs
  15:30 CT the day before to 15:15 CT; ``CME Globex Equity`` has one 17:00-16:00 CT schedule for
  all years and no halt. CME's notice for 2012-11-18 moved the end of the Globex equity day from
  15:15 to 16:15 CT with the 15:15-15:30 halt; the 2021 change ended the halt and moved the close
  to 16:00 CT. Both libraries miss the 16:00-16:15 CT minutes of 2012-2021, and ``CME_Equity``
  misses the 16:30-17:00 CT maintenance break before 2012 and the 15:30 CT reopen on Mondays
  (it opens Sunday 15:30): this module encodes the table above instead.
* Early closes: ``CME Globex Equity`` gives 12:15 CT on the day before Independence Day, the day
  after Thanksgiving and Christmas Eve, 12:00 CT on Monday holidays (MLK, Presidents', Memorial,
  Juneteenth, July 4, Labor Day, Thanksgiving), 08:15 CT on the Good Fridays with a jobs report
  (2021-04-02, 2023-04-07, 2024-03-29, 2025-04-18). ``CME_Equity`` has 12:00 CT everywhere;
  ``CME_Agriculture`` only lists its own 12:00 CT closes.
* The real export ``MES 09-25.Last.txt`` (NinjaTrader, stamped in UTC at the bar close) agrees:
  2025-06-19 ends 12:00 CT, 2025-07-03 ends 12:15 CT, 2025-07-04 ends 12:00 CT, every regular
  day ends 16:00 CT with no 15:15 halt, sessions reopen 17:00 CT. It also holds stray prints on
  Saturdays and Sunday afternoons (before the 17:00 CT open), which health reports as strays.
  The file starts 2025-06-12, so it cannot confirm the 2021 date itself.

* ``"NYSE extended"``: NYSE 04:00-20:00 ET (pre-market to post-market), for ETFs such as SPY.
* ``"NYSE"``: regular 09:30-16:00 ET.
* ``"XNSE"`` (alias ``"NSE"``): National Stock Exchange of India, 09:15-15:30 IST, NSE holidays
  (pandas_market_calendars "XNSE"); NIFTY and BANKNIFTY.

The central representation is a frame of *open segments*: contiguous runs of minutes in which
bars are expected, one or two per session (two when a break splits it)::

    trading_day  Date
    start, end   Datetime(us, UTC)    half-open [start, end)

Everything is vectorised (numpy ``searchsorted`` / ``repeat``); no Python loop over days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from datamgr.calendar.cache import (
    ALIASES,
    CALENDARS,
    ERA_2012_DAY,
    HALT_END_DAY,
    MINUTE_US,
    CalendarSpec,
    add_opened,
    base_segments,
    cached_segments,
    schedule,
    spec_for,
)
from datamgr.calendar.cache import cut as _cut
from datamgr.core.errors import ConfigError

__all__ = ["ALIASES", "CALENDARS", "ERA_2012_DAY", "HALT_END_DAY", "MINUTE_US", "SessionCalendar", "calendar_for",
           "get_calendar"]
_UTC = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class SessionCalendar:
    """Sessions of one exchange calendar. Build with :func:`get_calendar`."""

    name: str
    closed: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    opened: tuple[tuple[dt.datetime, dt.datetime, dt.date | None], ...] = ()
    #: data folder whose session cache serves :meth:`segments` (None: built in this process)
    data_dir: Path | None = field(default=None, compare=False, repr=False)
    #: write the cache file when it is missing (False: only read it; for steps that write nothing)
    write_cache: bool = field(default=True, compare=False, repr=False)

    # ------------------------------------------------------------------ sessions
    def sessions(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One row per session whose trading day is in ``[start, end]``.

        Columns: ``trading_day`` (Date), ``open``, ``close``, ``break_start``, ``break_end``
        (Datetime us UTC; breaks null when there is none), ``early_close`` (Boolean: the session
        closes before its era's regular close, e.g. 12:15 CT on 2025-07-03).
        """
        return _sessions(self.name, start, end)

    def segments(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Open segments (``trading_day``, ``start``, ``end``) of trading days in ``[start, end]``,
        with the closed periods of the overrides cut out.

        With a ``data_dir`` the answer comes from the folder's session cache
        (:mod:`datamgr.calendar.cache`; the same segments, without building a schedule)."""
        if self.data_dir is not None:
            spec = CalendarSpec(self.name, self.closed, self.opened)
            seg = cached_segments(self.data_dir, spec, start, end, write=self.write_cache)
            return segments_frame(seg.between(start, end))
        seg = _segments(self.name, start, end)
        for c_start, c_end in self.closed:
            seg = _cut(seg, c_start, c_end)
        if self.opened:
            seg = self._add_opened(seg, start, end)
        return seg

    def early_closes(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """``trading_day``, ``early_close`` of the sessions in ``[start, end]``: the flag of
        :meth:`sessions`, from the folder's session cache when there is one (the calendar's own
        segments, overrides not applied, as :meth:`sessions`): no schedule is built, so an
        incremental regeneration in a fresh process does not import ``pandas_market_calendars``."""
        if self.data_dir is None:
            return self.sessions(start, end).select("trading_day", "early_close")
        return _cached_early(self.data_dir, self.name, start, end).filter(
            pl.col("trading_day").is_between(start, end))

    def _add_opened(self, seg: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
        """Add the ``[[opened]]`` periods as segments of their (or the next) trading day."""
        return add_opened(seg, self.name, self.opened, start, end)

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
        days, at, ok = self._locate(ts)
        td = days.gather(at) if len(days) else pl.Series([None] * len(ok), dtype=pl.Date)
        return pl.DataFrame({"trading_day": td, "in_session": pl.Series(ok, dtype=pl.Boolean)}).with_columns(
            pl.when(pl.col("in_session")).then(pl.col("trading_day")).otherwise(None).alias("trading_day")
        )

    def in_session(self, ts: pl.Series) -> np.ndarray:
        """The ``in_session`` column of :meth:`label` as a numpy mask (no trading days gathered)."""
        if ts.len() == 0:
            return np.zeros(0, dtype=bool)
        return self._locate(ts)[2]

    def _locate(self, ts: pl.Series) -> tuple[pl.Series, np.ndarray, np.ndarray]:
        """(segment trading days, segment index of each stamp, in-session mask) of non-empty ``ts``."""
        ts = ts.cast(_UTC)
        lo, hi = ts.min(), ts.max()
        seg = self.segments(lo.date() - dt.timedelta(days=2), hi.date() + dt.timedelta(days=3))
        starts = seg["start"].to_physical().to_numpy()
        ends = seg["end"].to_physical().to_numpy()
        t = ts.to_physical().to_numpy()  # int64 microseconds, no datetime64 round trip
        idx = np.searchsorted(starts, t, side="right") - 1
        at = np.maximum(idx, 0)
        ok = (idx >= 0) & (t < ends[at]) if len(ends) else np.zeros(len(t), bool)
        return seg["trading_day"], at, ok

    def count_in_session(self, ts: pl.Series) -> int:
        """How many of the timestamps ``ts`` fall inside a session (the ``in_session`` count of
        :meth:`label`). Sorted timestamps (bars of one file) are counted per segment with two
        binary searches each, without a per-bar lookup; unsorted ones go through :meth:`label`."""
        if ts.len() == 0:
            return 0
        ts = ts.cast(_UTC)
        t = ts.to_physical().to_numpy()
        if len(t) > 1 and not bool((t[1:] >= t[:-1]).all()):
            return int(self.label(ts)["in_session"].sum())
        lo, hi = ts[0], ts[-1]
        seg = self.segments(lo.date() - dt.timedelta(days=2), hi.date() + dt.timedelta(days=3))
        if seg.height == 0:
            return 0
        starts = seg["start"].to_physical().to_numpy()
        ends = seg["end"].to_physical().to_numpy()
        # segments are disjoint and in time order: bars in [start, end) of each, summed
        return int((np.searchsorted(t, ends, side="left") - np.searchsorted(t, starts, side="left")).sum())

    def eras(self, trading_days: pl.Series) -> np.ndarray:
        """Schedule era (0-based) of each trading day: for ``CME Globex Equity`` 0 before
        2012-11-19, 1 until 2021-06-25 (the 15:15 CT halt), 2 after; one era for the NYSE calendars."""
        if self.name != "CME Globex Equity":
            return np.zeros(trading_days.len(), dtype=np.int64)
        d = trading_days.cast(pl.Date)
        return ((d >= ERA_2012_DAY).cast(pl.Int64) + (d >= HALT_END_DAY).cast(pl.Int64)).to_numpy()

    def trading_day_of(self, when: dt.datetime) -> dt.date | None:
        """Trading day of one instant, or None outside sessions."""
        s = pl.Series([when], dtype=_UTC)
        return self.label(s)["trading_day"][0]


def get_calendar(name: str, closed: tuple[tuple[dt.datetime, dt.datetime], ...] = (),
                 opened: tuple[tuple[dt.datetime, dt.datetime, dt.date | None], ...] = (),
                 data_dir: Path | None = None, write_cache: bool = True) -> SessionCalendar:
    """The calendar called ``name`` (an instrument's ``calendar`` setting).

    Parameters
    ----------
    name : str
        One of :data:`CALENDARS`.
    closed : tuple of (start, end)
        Extra closed periods ``[start, end)`` (aware datetimes) cut out of the sessions.
    opened : tuple of (start, end, trading_day or None)
        Extra open periods added to the sessions (trading day: given, or the next session's).
    data_dir : Path, optional
        Serve segments from this data folder's session cache (built there when cold).
    """
    name = ALIASES.get(name, name)
    if name not in CALENDARS:
        raise ConfigError(f"unknown calendar {name!r}; expected one of {', '.join(CALENDARS)}")
    return SessionCalendar(name, tuple(closed), tuple(opened), Path(data_dir) if data_dir is not None else None,
                           write_cache)


def calendar_for(settings, ticker: str) -> SessionCalendar:
    """The calendar of ``ticker`` with the data folder's ``calendar_overrides.toml`` applied.

    Parameters
    ----------
    settings : Settings
    ticker : str

    Raises
    ------
    InputError
        The overrides file is malformed (names file, line or entry and field).
    """
    spec = spec_for(settings, ticker)
    return get_calendar(spec.name, spec.closed, spec.opened, data_dir=settings.data_dir)


# ---------------------------------------------------------------------- internals
@lru_cache(maxsize=64)
def _sessions(name: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    # one library schedule per process covers 2000 .. two years ahead (a schedule call costs
    # ~0.1 s whatever its length); the requested days are a filter of it
    lo = min(2000, start.year - 1)
    hi = max(dt.date.today().year + 2, end.year)
    full = _schedule(name, lo, hi)
    return full.filter(pl.col("trading_day").is_between(start, end))


@lru_cache(maxsize=8)
def _schedule(name: str, lo_year: int, hi_year: int) -> pl.DataFrame:
    """The library schedule with the era table (one implementation: :func:`datamgr.calendar.cache.schedule`,
    also behind the cache files) and the ``early_close`` flag."""
    return _mark_early_closes(schedule(name, lo_year, hi_year), name)


def _mark_early_closes(df: pl.DataFrame, name: str) -> pl.DataFrame:
    """``early_close``: the session closes before its era's regular close (ET wall clock), i.e.
    before the most common close of the era over the whole 2000.. schedule (so a sub-range, e.g.
    one changed day of an incremental rebuild, always gets the same answer)."""
    era = SessionCalendar(name).eras(df["trading_day"])
    hm = df.select((pl.col("close").dt.convert_time_zone("America/New_York").dt.hour().cast(pl.Int32) * 60
                    + pl.col("close").dt.convert_time_zone("America/New_York").dt.minute().cast(pl.Int32))
                   .alias("hm"))["hm"].to_numpy()
    regular = np.zeros(len(hm), dtype=np.int64)
    for e in np.unique(era):  # three eras at most
        vals, counts = np.unique(hm[era == e], return_counts=True)
        regular[era == e] = vals[np.argmax(counts)]
    return df.with_columns(pl.Series("early_close", hm < regular, dtype=pl.Boolean))


_EARLY: dict[int, tuple[object, pl.DataFrame]] = {}


def _cached_early(data_dir: Path, name: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    """:func:`_mark_early_closes` over the cached segments of the bare calendar (the same years
    as :func:`_sessions`: a session's close is its last segment's end)."""
    seg = cached_segments(data_dir, CalendarSpec(name), start, end)
    hit = _EARLY.get(id(seg))
    if hit is not None and hit[0] is seg:
        return hit[1]
    df = (segments_frame(seg).group_by("trading_day").agg(pl.col("end").max().alias("close"))
          .sort("trading_day"))
    out = _mark_early_closes(df, name).select("trading_day", "early_close")
    _EARLY[id(seg)] = (seg, out)
    return out


@lru_cache(maxsize=64)
def _segments(name: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return base_segments(_sessions(name, start, end))


def segments_frame(seg) -> pl.DataFrame:
    """Cached :class:`~datamgr.calendar.cache.Segments` as the segments frame."""
    return pl.DataFrame({
        "trading_day": pl.Series(seg.day.astype("datetime64[D]"), dtype=pl.Date),
        "start": pl.Series(seg.start, dtype=pl.Int64).cast(_UTC),
        "end": pl.Series(seg.end, dtype=pl.Int64).cast(_UTC),
    })


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
