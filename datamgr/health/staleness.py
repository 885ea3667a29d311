"""Freshness: how far a bar file is behind the session calendar (SPEC 5 "staleness").

``expected_bars`` counts the expected 1-minute bars whose minute has fully elapsed after the last
stored bar; ``sessions`` how many trading days they belong to; ``next_bar`` is the open time of
the first expected bar after now (when the market is closed: the next open).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from datamgr.calendar.sessions import MINUTE_US, SessionCalendar
from datamgr.core.timefmt import ET, to_et_iso

_DAY_MARGIN = dt.timedelta(days=3)


def _us(t: dt.datetime) -> int:
    return int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1))


def _dt(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


def _us_col(seg: pl.DataFrame, col: str) -> np.ndarray:
    return seg[col].cast(pl.Int64).to_numpy()


def _expand(seg: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected minute open times, their day index, and the minutes per segment."""
    starts, ends = _us_col(seg, "start"), _us_col(seg, "end")
    n = np.maximum((ends - starts) // MINUTE_US, 0)
    day_idx = seg["trading_day"].rank("dense").cast(pl.Int64).to_numpy() - 1
    offsets = np.arange(int(n.sum()), dtype="int64") - np.repeat(np.cumsum(n) - n, n)
    return np.repeat(starts, n) + offsets * MINUTE_US, np.repeat(day_idx, n), n


@dataclass(frozen=True)
class Staleness:
    """Expected bars and sessions between the last stored bar and ``now``."""

    last_bar: dt.datetime | None
    now: dt.datetime
    expected_bars: int
    sessions: int
    next_bar: dt.datetime | None
    verdict: str = field(default="")

    def to_json(self, tz: str = ET) -> dict[str, Any]:
        return {"last_bar": to_et_iso(self.last_bar, tz), "now": to_et_iso(self.now, tz),
                "expected_bars_behind": self.expected_bars, "sessions_behind": self.sessions,
                "next_bar": to_et_iso(self.next_bar, tz), "verdict": self.verdict}


def staleness(last_bar: dt.datetime | None, cal: SessionCalendar,
              now: dt.datetime | None = None) -> Staleness:
    """How far the file is behind the calendar.

    Parameters
    ----------
    last_bar : datetime or None
        Open time of the last stored bar (aware).
    cal : SessionCalendar
    now : datetime, optional
        Defaults to the current time.
    """
    now = now or dt.datetime.now(dt.UTC)
    start = (last_bar or now).date() - _DAY_MARGIN
    seg = cal.segments(start, now.date() + dt.timedelta(days=10))
    e, eday, _ = _expand(seg) if seg.height else (np.array([], "int64"),) * 3
    now_us, last_us = _us(now), _us(last_bar) if last_bar else None
    done = e + MINUTE_US <= now_us
    behind = done & (e > last_us) if last_us is not None else done
    n = int(behind.sum())
    sessions = len(np.unique(eday[behind])) if n else 0
    nxt = e[e >= now_us]
    next_bar = _dt(nxt[0]) if len(nxt) else None
    if last_bar is None:
        verdict = "no data"
    elif n == 0:
        verdict = "up to date"
    else:
        verdict = f"{sessions} session{'s' if sessions != 1 else ''} behind ({n:,} expected bars)"
    if next_bar is not None:
        verdict += f"; next bar {to_et_iso(next_bar)[:16].replace('T', ' ')} ET"
    return Staleness(last_bar, now, n, sessions, next_bar, verdict)
