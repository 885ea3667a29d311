"""The inventory's cheap health flags come from the Parquet footer and the calendar only."""

from __future__ import annotations

import datetime as dt

import pytest

from datamgr.core.config import Settings
from datamgr.health.gaps import quick_flags
from datamgr.ops.demo import PlantedGap, make_demo_bars
from datamgr.store.store import Store


def test_quick_flags_report_staleness_but_never_guess_gaps_from_the_footer(tmp_path):
    s = Settings.load(data_dir=tmp_path, env={})
    start = dt.datetime(2025, 6, 3, 14, 0, tzinfo=dt.UTC)
    bars = make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6),
                          gaps=[PlantedGap(start, start + dt.timedelta(minutes=90))])
    store = Store(s)
    store.write("ES1", "1m", bars, operation="test")
    flags = quick_flags(s, "ES1", store.read_meta("ES1", "1m"))
    assert not any(f.startswith("gaps") for f in flags)  # rows - expected counts strays: not a figure
    assert any(f.startswith("behind: ") and f.endswith(" sessions") for f in flags)


# Clocks around a file that ends with the session of Friday 2025-06-06 (closes 17:00 ET). The
# count includes the session in progress, so one missing session (the current one) is not "behind".
_CLOCKS = [
    (dt.datetime(2025, 6, 7, 3, 30, tzinfo=dt.UTC), []),                       # Fri 23:30 ET, closed
    (dt.datetime(2025, 6, 8, 21, 0, tzinfo=dt.UTC), []),                       # Sun 17:00 ET, before the open
    (dt.datetime(2025, 6, 9, 16, 0, tzinfo=dt.UTC), []),                       # Mon 12:00 ET, in Monday's session
    (dt.datetime(2025, 6, 9, 23, 30, tzinfo=dt.UTC), ["behind: 2 sessions"]),  # Mon 19:30 ET: Monday missed
    (dt.datetime(2025, 6, 10, 23, 30, tzinfo=dt.UTC), ["behind: 3 sessions"]),  # Tue 19:30 ET
]


@pytest.mark.parametrize(("now", "expected"), _CLOCKS, ids=lambda v: v.strftime("%a-%H%MZ") if isinstance(v, dt.datetime) else "")
def test_quick_flags_of_a_complete_file_depend_only_on_the_given_clock(tmp_path, now, expected):
    s = Settings.load(data_dir=tmp_path, env={})
    end = dt.date(2025, 6, 6)
    bars = make_demo_bars(end - dt.timedelta(days=10), end)
    store = Store(s)
    store.write("ES1", "1m", bars, operation="test")
    assert quick_flags(s, "ES1", store.read_meta("ES1", "1m"), now=now) == expected


def test_quick_flags_of_a_missing_file_are_empty(tmp_path):
    assert quick_flags(Settings.load(data_dir=tmp_path, env={}), "ES1", None) == []
