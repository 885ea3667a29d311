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


def test_a_new_minute_restamps_the_staleness_without_recomputing_the_report(settings, store):
    answers.clear()
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7)), operation="test")
    rep = answers.health_report(settings, "ES1", now=NOW)
    assert answers.stats("health") == answers.CacheStats(hits=0, misses=1)
    later = answers.health_report(settings, "ES1", now=NOW + dt.timedelta(days=1))
    assert answers.stats("health") == answers.CacheStats(hits=1, misses=1)  # gaps, coverage, integrity reused
    assert later.continuity is rep.continuity and later.integrity is rep.integrity
    assert later.staleness.now == (NOW + dt.timedelta(days=1)).replace(second=0)
    assert later.staleness.sessions > rep.staleness.sessions  # Monday's session is now behind
    # the same figures as a report computed from scratch at that time
    from datamgr.health.report import check_health

    fresh = check_health(settings, "ES1", now=(NOW + dt.timedelta(days=1)).replace(second=0))
    assert later.staleness == fresh.staleness and later.problems == fresh.problems


def test_views_count_hits_and_misses_and_follow_the_files(settings, store):
    answers.clear()
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7)), operation="test")
    view = answers.health_view(settings, "ES1", now=NOW)
    assert answers.health_view(settings, "ES1", now=NOW) is view
    assert answers.stats("health_view") == answers.CacheStats(hits=1, misses=1)
    assert view.days[0] == dt.date(2025, 3, 3) and view.years == [2025]
    quiet = answers.gaps(view, ["quiet"])
    assert answers.gaps(view, ["quiet"]) is quiet and answers.stats("gaps").misses == 1
    bars, cal = answers.candle_bars(settings, "ES1", dt.date(2025, 3, 5), dt.date(2025, 3, 5))
    assert bars.height == 1380 and cal.name  # one Globex session, read from its row groups only
    assert answers.candle_bars(settings, "ES1", dt.date(2025, 3, 5), dt.date(2025, 3, 5))[0] is bars
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 6)), operation="test")
    again = answers.health_view(settings, "ES1", now=NOW)
    assert again is not view and again.token != view.token and again.days[-1] == dt.date(2025, 3, 6)
    assert answers.candle_bars(settings, "ES1", dt.date(2025, 3, 5), dt.date(2025, 3, 5))[0] is not bars
    assert answers.health_view(settings, "NQ1", now=NOW).report is None  # no master: no answer to compute


def test_backups_view_never_hashes_and_verify_renews_it(settings, store):
    answers.clear()
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7))
    store.write("ES1", "1m", bars, operation="test")
    store.write("ES1", "1m", bars.head(100), operation="test")  # the second write backs up the first
    view = answers.backups_view(settings)
    assert list(view.states.values()) == ["not verified yet"] and view.verified == 0
    assert answers.backups_view(settings) is view
    checked = answers.verify_backups(settings)
    assert [r.ok for r in checked] == [True]
    after = answers.backups_view(settings)
    assert after is not view and list(after.states.values()) == ["verified"]
    assert answers.stats("backups") == answers.CacheStats(hits=1, misses=2)


def test_an_edit_in_place_that_restores_the_mtime_still_gives_a_new_answer(settings, store):
    import os

    answers.clear()
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 5)), operation="test")
    note = settings.data_dir / "notes.txt"
    note.write_text("aaaa", encoding="utf-8")
    first = answers.inventory(settings, now=NOW)
    st = note.stat()
    with open(note, "r+b") as f:  # same inode, same size; the mtime put back like `cp -p` would
        f.write(b"bbbb")
    os.utime(note, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (note.stat().st_size, note.stat().st_mtime_ns, note.stat().st_ino) == (st.st_size, st.st_mtime_ns,
                                                                                   st.st_ino)
    assert answers.inventory(settings, now=NOW) is not first  # the ctime moved
