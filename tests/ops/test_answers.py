"""Cached page answers: reused while nothing changes, recomputed when a file, the overrides or the
minute change."""

from __future__ import annotations

import datetime as dt

from datamgr.ops import answers
from datamgr.ops.demo import make_demo_bars

NOW = dt.datetime(2025, 3, 10, 15, 0, 20, tzinfo=dt.UTC)


def test_inventory_answers_are_reused_until_a_file_changes(settings, store):
    answers.clear()
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 5)), operation="test")
    first = answers.inventory(settings, now=NOW)
    assert answers.inventory(settings, now=NOW + dt.timedelta(seconds=30)) is first  # same minute
    assert answers.inventory(settings, now=NOW + dt.timedelta(minutes=1)) is not first
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7)), operation="test")
    after = answers.inventory(settings, now=NOW)
    assert after is not first
    assert next(f for f in after if f.name == "ES1_1m.parquet").generation == 2


def test_health_answers_follow_the_master_and_the_overrides(settings, store):
    answers.clear()
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7)), operation="test")
    rep = answers.health_report(settings, "ES1", now=NOW)
    assert answers.health_report(settings, "ES1", now=NOW) is rep
    assert answers.health_report(settings, "ES1", now=NOW, min_gap=5) is not rep
    settings.overrides_path.write_text(
        '[[closed]]\nstart = "2025-03-05T10:00:00-05:00"\nend = "2025-03-05T11:00:00-05:00"\nreason = "x"\n',
        encoding="utf-8")
    again = answers.health_report(settings, "ES1", now=NOW)
    assert again is not rep and again.continuity.expected == rep.continuity.expected - 60
