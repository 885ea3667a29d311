"""Inventory, Health and Backups render from the cached answers (datamgr.ops.answers): a rerun on
unchanged files computes nothing (counted by the module's own hit/miss statistics), a new
generation of the master or an edited overrides file gives a new answer, and the Backups page
never hashes a copy on render.

The wall clock is held at the start of a minute (time-machine, ticking) so that two renders of
a test never straddle a minute boundary: the staleness part of an answer follows the minute.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
import time_machine

from datamgr.core.config import Settings
from datamgr.ops import answers
from datamgr.ops.demo import write_demo
from datamgr.ops.ranges import delete_range
from datamgr.store.backup import list_backups
from datamgr.store.store import Store

END = dt.date(2025, 11, 20)
CLOCK = dt.datetime(2025, 11, 21, 15, 0, 0, tzinfo=dt.UTC)  # a Friday session, the minute just began
PAGE_KINDS = ("inventory", "inventory_view", "preview", "health", "health_now", "health_view", "gaps", "candles",
              "backups", "restore_plan")


@pytest.fixture
def demo(app_data):
    s = Settings.load(data_dir=app_data, env={})
    write_demo(s, "ES1", months=1, end=END)
    answers.clear()
    with time_machine.travel(CLOCK, tick=True):
        yield s


def misses() -> dict[str, int]:
    return {k: answers.stats(k).misses for k in PAGE_KINDS}


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def rerun_computes_nothing(at) -> None:
    """One more render of the same page: only hits, not one miss of any kind."""
    before, hits = misses(), answers.stats().hits
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert misses() == before
    assert answers.stats().hits > hits


def test_inventory_rerun_on_unchanged_files_computes_nothing_and_a_new_generation_does(demo, page_test):
    s = demo
    at = page_test("inventory").run()
    assert not at.exception, [e.value for e in at.exception]
    first = misses()
    assert first["inventory"] == 1 and first["inventory_view"] == 1 and first["preview"] == 1
    rows = metrics(at)["Bars (all market files)"]
    rerun_computes_nothing(at)
    rerun_computes_nothing(at)
    # a new generation of the master (a write renames a new file into place): a new answer
    store = Store(s)
    store.write("ES1", "1m", store.read("ES1", "1m").head(1000), operation="test")
    at.run()
    assert misses()["inventory"] == first["inventory"] + 1
    assert metrics(at)["Bars (all market files)"] != rows
    rerun_computes_nothing(at)


def test_health_rerun_and_a_filter_change_never_recompute_the_report(demo, page_test):
    s = demo
    at = page_test("health")
    at.session_state["ticker"] = "ES1"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert misses()["health"] == 1 and misses()["candles"] == 1
    rerun_computes_nothing(at)
    # a widget interaction with a new filter: a new gap selection, never a new report or bar read
    before = misses()
    at.number_input(key="health_min_gap").set_value(2).run()
    after = misses()
    assert after["gaps"] > before["gaps"]
    assert {k: v for k, v in after.items() if k != "gaps"} == {k: v for k, v in before.items() if k != "gaps"}
    rerun_computes_nothing(at)
    # a new generation of the master: a new report
    holes = metrics(at)["Holes"]
    store = Store(s)
    bars = store.read("ES1", "1m")
    store.write("ES1", "1m", bars.filter(bars["datetime"].dt.date() != bars["datetime"][-2000].date()),
                operation="test")
    at.run()
    assert misses()["health"] == after["health"] + 1
    assert int(metrics(at)["Holes"]) > int(holes)


def test_health_answer_follows_an_edit_of_the_overrides_file(demo, page_test):
    s = demo
    at = page_test("health")
    at.session_state["ticker"] = "ES1"
    at.run()
    rerun_computes_nothing(at)
    n = misses()["health"]
    strays = int(metrics(at)["Stray bars"].replace(",", ""))
    # close a trading hour that has bars: they become stray prints, coverage changes
    s.overrides_path.write_text('[[closed]]\nstart = "2025-11-18T10:00:00-05:00"\n'
                                'end = "2025-11-18T11:00:00-05:00"\nreason = "test"\n', encoding="utf-8")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert misses()["health"] == n + 1
    assert int(metrics(at)["Stray bars"].replace(",", "")) == strays + 60
    rerun_computes_nothing(at)


def test_backups_render_never_hashes_and_verify_results_are_cached_by_size_and_mtime(demo, page_test):
    s = demo
    delete_range(s, "ES1", "2025-11-18", "2025-11-18", confirm=True, no_derived=True)
    at = page_test("backups").run()
    assert not at.exception, [e.value for e in at.exception]
    # rendering hashed nothing: the copy has no verdict until Verify
    assert at.dataframe[0].value["state"].tolist() == ["not verified yet"]
    rerun_computes_nothing(at)
    at.button(key="bk_verify").click().run()
    assert at.session_state["job:verify"].wait(120)
    at.run()
    assert at.dataframe[0].value["state"].tolist() == ["verified"]
    rerun_computes_nothing(at)  # the verdict is remembered: no re-hash, no new answer
    # a copy with a new mtime (same bytes) has no verdict any more: never "verified" from a stale key
    p = s.data_dir / list_backups(s)[0].path
    st_ = p.stat()
    os.utime(p, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000_000))
    at.run()
    assert at.dataframe[0].value["state"].tolist() == ["not verified yet"]
