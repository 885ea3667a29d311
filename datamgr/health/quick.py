"""Cheap health answers from a file's footer and the cached session calendar (numpy only).

The inventory and ``status`` use these: they must not import polars, pandas or
pandas_market_calendars when the session cache (:mod:`datamgr.calendar.cache`) is warm. The
answers are the same as :func:`datamgr.health.gaps.quick_flags`, ``expected_between`` and
:func:`datamgr.health.staleness.staleness` (tests compare them).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from datamgr.calendar.cache import MINUTE_US, Segments, cached_segments, spec_for

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAY = dt.timedelta(days=1)


def _us(t: dt.datetime) -> int:
    return (t - _EPOCH) // dt.timedelta(microseconds=1)


def expected_between(seg: Segments, start: dt.datetime, end: dt.datetime) -> int:
    """Expected 1-minute bars whose open lies in ``[start, end]`` (a file's first and last bar)."""
    s = seg.between(start.date() - _DAY, end.date() + _DAY)
    lo, hi = _us(start), _us(end) + MINUTE_US
    return int(np.clip(np.minimum(s.end, hi) - np.maximum(s.start, lo), 0, None).sum() // MINUTE_US)


def behind(seg: Segments, last_bar: dt.datetime | None, now: dt.datetime) -> tuple[int, int]:
    """``(expected_bars, sessions)`` whose minute has fully elapsed after ``last_bar`` by ``now``.

    Counted per segment in closed form (no minute is materialised): the expected minutes of a
    segment are ``start + k`` minutes for ``k`` in ``[0, n)``.
    """
    s = seg.between((last_bar or now).date() - 3 * _DAY, now.date() + 10 * _DAY)
    n = np.maximum((s.end - s.start) // MINUTE_US, 0)
    k_hi = np.clip((_us(now) - MINUTE_US - s.start) // MINUTE_US + 1, 0, n)
    k_lo = np.clip((_us(last_bar) - s.start) // MINUTE_US + 1, 0, n) if last_bar else np.zeros_like(n)
    count = np.maximum(k_hi - k_lo, 0)
    days = np.sort(s.day[count > 0].view("int64"))  # distinct by sort + diff: np.unique imports numpy.ma
    return int(count.sum()), int(len(days) > 0) + int(np.count_nonzero(np.diff(days)))


def segments_for(settings, ticker: str, first: dt.date | None = None, last: dt.date | None = None) -> Segments:
    """The cached segments of ``ticker``'s calendar with the folder's overrides."""
    return cached_segments(Path(settings.data_dir), spec_for(settings, ticker), first, last)


def quick_flags(settings, ticker: str, meta, now: dt.datetime | None = None,
                seg: Segments | None = None) -> list[str]:
    """Cheap health flags from footer metadata (see :func:`datamgr.health.gaps.quick_flags`).

    Parameters
    ----------
    settings : Settings
    ticker : str
    meta : FileMeta or None
    now : datetime, optional
        The clock for staleness (UTC-aware); the wall clock when omitted.
    seg : Segments, optional
        The ticker's cached segments (looked up when omitted).
    """
    if meta is None or meta.rows == 0 or meta.start is None or meta.end is None:
        return []
    flags = [f"footer: {p}" for p in getattr(meta, "problems", ())]
    now = now or dt.datetime.now(dt.UTC)
    seg = seg if seg is not None else segments_for(settings, ticker, meta.start.date(), now.date())
    _, sessions = behind(seg, meta.end, now)
    if sessions > 1:
        flags.append(f"behind: {sessions} sessions")
    return flags  # gaps and coverage: Health's figure (datamgr.health.coverage_cache), not a footer estimate
