"""The inventory's cheap health flags come from the Parquet footer and the calendar only."""

from __future__ import annotations

import datetime as dt

from datamgr.config import Settings
from datamgr.demo import PlantedGap, make_demo_bars
from datamgr.health import quick_flags
from datamgr.store import Store


def test_quick_flags_report_staleness_and_missing_minutes_from_the_footer(tmp_path):
    s = Settings.load(data_dir=tmp_path, env={})
    start = dt.datetime(2025, 6, 3, 14, 0, tzinfo=dt.UTC)
    bars = make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6),
                          gaps=[PlantedGap(start, start + dt.timedelta(minutes=90))])
    store = Store(s)
    store.write("ES1", "1m", bars, operation="test")
    flags = quick_flags(s, "ES1", store.read_meta("ES1", "1m"))
    assert "gaps: ~90 missing minutes" in flags
    assert any(f.startswith("stale: ") and f.endswith("sessions behind") for f in flags)


def test_quick_flags_are_empty_for_a_complete_current_file(tmp_path):
    s = Settings.load(data_dir=tmp_path, env={})
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    bars = make_demo_bars(end - dt.timedelta(days=10), end)
    store = Store(s)
    store.write("ES1", "1m", bars, operation="test")
    assert quick_flags(s, "ES1", store.read_meta("ES1", "1m")) == []


def test_quick_flags_of_a_missing_file_are_empty(tmp_path):
    assert quick_flags(Settings.load(data_dir=tmp_path, env={}), "ES1", None) == []
