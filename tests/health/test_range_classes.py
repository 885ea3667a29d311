"""A gap is classed the same whether the whole file or a short range around it is checked."""

from __future__ import annotations

import datetime as dt

import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.health.gaps import classify_like, continuity
from datamgr.health.report import check_continuity
from datamgr.ops.demo import make_demo_bars
from datamgr.store.store import Store

HOLE = (dt.datetime(2025, 3, 5, 15, 0, tzinfo=dt.UTC), dt.datetime(2025, 3, 5, 15, 30, tzinfo=dt.UTC))


def _bars() -> pl.DataFrame:
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 14), seed=2)
    return bars.filter(~pl.col("datetime").is_between(*HOLE, closed="left"))


def test_a_one_day_window_knows_too_little_but_takes_the_whole_files_class():
    bars, cal = _bars(), get_calendar("CME Globex Equity")
    day = continuity(bars, cal, start=dt.date(2025, 3, 5), end=dt.date(2025, 3, 5))
    whole = continuity(bars, cal)
    assert [(g.start, g.cls) for g in whole.gaps] == [(HOLE[0], "hole")]
    assert [g.cls for g in day.gaps] == ["quiet"]  # what one day of bars alone would say
    fixed = classify_like(day, whole)
    assert [(g.start, g.end, g.cls, g.p_no_trade) for g in fixed.gaps] == \
        [(HOLE[0], HOLE[1], "hole", whole.gaps[0].p_no_trade)]


def test_continuity_of_a_range_classes_gaps_like_the_whole_file(settings):
    Store(settings).write("ES1", "1m", _bars(), operation="test", backup=False)
    ranged = check_continuity(settings, "ES1", start="2025-03-05", end="2025-03-05")
    whole = check_continuity(settings, "ES1")
    assert [(g.start, g.cls) for g in ranged.gaps] == [(g.start, g.cls) for g in whole.gaps] == [(HOLE[0], "hole")]
    assert not ranged.ok and ranged.holes[0].missing == 30
