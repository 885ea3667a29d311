"""The light health answers (cached calendar, numpy only) equal the full ones."""

from __future__ import annotations

import datetime as dt

import pytest

from datamgr.calendar.sessions import calendar_for
from datamgr.core.config import Settings
from datamgr.health import gaps, quick
from datamgr.health.staleness import staleness
from datamgr.ops.demo import PlantedGap, make_demo_bars
from datamgr.store.store import Store

CLOSED = """
[[closed]]
start = "2025-06-04T10:00:00-04:00"
end = "2025-06-04T11:30:00-04:00"
reason = "outage"
"""

NOWS = [dt.datetime(2025, 6, 7, 3, 30, tzinfo=dt.UTC), dt.datetime(2025, 6, 9, 16, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 6, 9, 23, 30, tzinfo=dt.UTC), dt.datetime(2025, 6, 20, 15, 1, tzinfo=dt.UTC),
        dt.datetime(2025, 6, 5, 15, 7, 30, tzinfo=dt.UTC)]


@pytest.mark.parametrize("overrides", [None, CLOSED])
@pytest.mark.parametrize("now", NOWS, ids=lambda v: v.isoformat())
def test_quick_flags_staleness_and_coverage_equal_the_calendar_answers(tmp_path, overrides, now):
    s = Settings.load(data_dir=tmp_path, env={})
    if overrides:
        s.overrides_path.write_text(overrides, encoding="utf-8")
    hole = dt.datetime(2025, 6, 3, 14, 0, tzinfo=dt.UTC)
    bars = make_demo_bars(dt.date(2025, 5, 26), dt.date(2025, 6, 6),
                          gaps=[PlantedGap(hole, hole + dt.timedelta(minutes=90))])
    store = Store(s)
    store.write("ES1", "1m", bars, operation="test")
    meta = store.read_meta("ES1", "1m")
    assert quick.quick_flags(s, "ES1", meta, now=now) == gaps.quick_flags(s, "ES1", meta, now=now)
    cal = calendar_for(s, "ES1")
    seg = quick.segments_for(s, "ES1")
    expected = int(cal.expected_counts(meta.start.date() - dt.timedelta(days=1), meta.end.date())["expected"].sum())
    assert quick.expected_between(seg, meta.start, meta.end) <= expected
    for last in (meta.end, meta.start, None):
        st = staleness(last, cal, now=now)
        assert quick.behind(seg, last, now) == (st.expected_bars, st.sessions)
