"""Gap classification boundaries (issue 15): recurring windows that span two sessions, exactly
``min_sessions`` and the ``recurring_ratio`` limit, sub-minute stamps as strays, the ``min_gap``
filter at its bound, acknowledged ranges at their exact ends."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.calendar.overrides import AckGap
from datamgr.calendar.sessions import get_calendar
from datamgr.health.gaps import continuity as _continuity
from tests.health.test_health_gaps import build, et

D = dt.date


def continuity(*args, **kw):
    """The class rules without the quiet-minute model (these synthetic bars have a flat volume of 10, so
    the model would call short runs ``quiet``; the model has tests of its own)."""
    kw.setdefault("model", None)
    return _continuity(*args, **kw)

WEEK = (D(2025, 6, 2), D(2025, 6, 6))  # Mon..Fri, five regular sessions


@pytest.fixture(scope="module")
def cme():
    return get_calendar("CME Globex Equity")


def test_a_daily_window_across_the_halt_spans_two_sessions_and_is_a_hole_not_recurring(cme):
    # 16:55-18:04 ET every day: 5 minutes before the 17:00 close, 5 after the 18:00 reopen. Each run
    # crosses the halt into the next session, so (documented decision) it is a hole, not recurring
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 27), drop_clock=(16, 55, 70, D(2025, 6, 2), D(2025, 6, 26)))
    res = continuity(bars, cme)
    assert {g.cls for g in res.gaps} == {"hole"}
    holes = [g for g in res.gaps if g.missing == 10]
    assert len(holes) == 18 and all(g.sessions == 2 for g in holes)
    assert (holes[0].start, holes[0].end) == (et(2025, 6, 2, 16, 55), et(2025, 6, 2, 18, 5))
    assert (holes[4].start, holes[4].end) == (et(2025, 6, 6, 16, 55), et(2025, 6, 8, 18, 5))  # over a weekend
    # Juneteenth closed at 13:00 ET: that evening only 18:00-18:04 is missing, inside one session, and
    # one occurrence of that window is fewer than min_sessions: a hole too
    assert [(g.start, g.missing, g.sessions) for g in res.gaps if g.missing == 5] == [(et(2025, 6, 19, 18), 5, 1)]


def test_the_same_window_inside_one_session_is_recurring(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 27), drop_clock=(16, 55, 5, D(2025, 6, 2), D(2025, 6, 26)))
    res = continuity(bars, cme)
    rec = [g for g in res.gaps if g.cls == "recurring"]
    assert len(rec) == 1 and rec[0].clock == "16:55-17:00 ET"
    assert rec[0].sessions == 18  # June 2-26 sessions, without Juneteenth (closed at 13:00 ET)
    assert [g for g in res.gaps if g.cls == "hole"] == []


@pytest.mark.parametrize(("days", "min_sessions", "cls"), [
    (3, 3, "recurring"),  # exactly min_sessions of 5 sessions: recurring
    (2, 3, "hole"),       # one fewer: two holes
    (2, 2, "recurring"),  # ... unless min_sessions is 2 (2 >= 0.5 * 5? no: 2 < 2.5)
])
def test_exactly_min_sessions(cme, days, min_sessions, cls):
    last = WEEK[0] + dt.timedelta(days=days - 1)
    bars = build(cme, *WEEK, drop_clock=(10, 0, 5, WEEK[0], last))
    res = continuity(bars, cme, min_sessions=min_sessions)
    if (days, min_sessions) == (2, 2):
        # 2 of 5 sessions is under the recurring ratio (0.5): still holes
        assert [g.cls for g in res.gaps] == ["hole", "hole"]
        assert [g.cls for g in continuity(bars, cme, min_sessions=2, recurring_ratio=0.4).gaps] == ["recurring"]
        return
    assert {g.cls for g in res.gaps} == {cls}
    if cls == "recurring":
        assert len(res.gaps) == 1 and res.gaps[0].sessions == days and res.gaps[0].missing == 5 * days
        assert res.gaps[0].clock == "10:00-10:05 ET"
    else:
        assert [(g.missing, g.sessions) for g in res.gaps] == [(5, 1)] * days


def test_the_recurring_ratio_counts_sessions_of_the_month_in_range(cme):
    # 3 of 7 sessions miss 10:00-10:04: 3 >= min_sessions but 3 < 0.5 * 7
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 10), drop_clock=(10, 0, 5, D(2025, 6, 2), D(2025, 6, 4)))
    assert [g.cls for g in continuity(bars, cme).gaps] == ["hole"] * 3
    # exactly half (4 of 8 sessions) is enough
    bars8 = build(cme, D(2025, 6, 2), D(2025, 6, 11), drop_clock=(10, 0, 5, D(2025, 6, 2), D(2025, 6, 5)))
    assert [g.cls for g in continuity(bars8, cme).gaps] == ["recurring"]


def test_a_sub_minute_stamp_is_a_stray_and_its_minute_is_missing(cme):
    bars = build(cme, *WEEK)
    t = et(2025, 6, 3, 10, 0)
    odd = t + dt.timedelta(seconds=30)
    bars = bars.with_columns(pl.when(pl.col("datetime") == t).then(pl.lit(odd)).otherwise(pl.col("datetime"))
                             .alias("datetime"))
    res = continuity(bars, cme)
    assert res.strays["datetime"].to_list() == [odd]
    assert res.outside_session == 1
    assert [(g.start, g.end, g.missing, g.cls) for g in res.gaps] == [(t, t + dt.timedelta(minutes=1), 1, "hole")]
    assert res.present == res.expected - 1
    day = res.coverage.filter(pl.col("trading_day") == D(2025, 6, 3))
    assert (day["outside"][0], day["present"][0]) == (1, day["expected"][0] - 1)


def test_a_sub_minute_stamp_beside_its_whole_minute_bar_is_only_a_stray(cme):
    bars = build(cme, *WEEK, extra=[et(2025, 6, 3, 10, 0) + dt.timedelta(microseconds=1)])
    res = continuity(bars, cme)
    assert res.outside_session == 1 and res.gaps == [] and res.present == res.expected


def test_min_gap_keeps_gaps_of_exactly_n_minutes(cme):
    bars = build(cme, *WEEK, holes=[(et(2025, 6, 3, 10), et(2025, 6, 3, 10, 5)),
                                     (et(2025, 6, 4, 10), et(2025, 6, 4, 10, 4))])
    assert [g.missing for g in continuity(bars, cme, min_gap=5).reported] == [5]
    assert [g.missing for g in continuity(bars, cme, min_gap=4).reported] == [5, 4]
    assert continuity(bars, cme, min_gap=6).reported == []
    assert len(continuity(bars, cme, min_gap=6).gaps) == 2


def test_an_acknowledged_range_covers_a_gap_only_from_its_first_to_its_last_missing_minute(cme):
    a, b = et(2025, 6, 3, 10), et(2025, 6, 3, 10, 5)
    bars = build(cme, *WEEK, holes=[(a, b)])
    exact = AckGap("ES1", a, b - dt.timedelta(minutes=1), 5)
    short = AckGap("ES1", a, b - dt.timedelta(minutes=2), 4)
    late = AckGap("ES1", a + dt.timedelta(minutes=1), b, 4)
    assert [g.acknowledged for g in continuity(bars, cme, acknowledged=(exact,)).gaps] == [True]
    assert continuity(bars, cme, acknowledged=(exact,)).holes == []
    assert [g.acknowledged for g in continuity(bars, cme, acknowledged=(short,)).gaps] == [False]
    assert [g.acknowledged for g in continuity(bars, cme, acknowledged=(late,)).gaps] == [False]


def test_edges_before_the_first_and_after_the_last_bar(cme):
    bars = build(cme, D(2025, 6, 3), D(2025, 6, 3))
    res = continuity(bars.slice(10, bars.height - 20), cme)
    assert [(g.cls, g.missing) for g in res.gaps] == [("edge", 10), ("edge", 10)]
    wide = continuity(bars, cme, start=D(2025, 6, 2), end=D(2025, 6, 4))
    assert [(g.cls, g.missing) for g in wide.gaps] == [("edge", 1380), ("edge", 1380)]
    assert wide.to_json()["from"] == "2025-06-02" and wide.to_json()["to"] == "2025-06-04"


def test_an_empty_file_has_nothing_to_report_or_is_one_edge_gap_over_a_given_range(cme):
    empty = build(cme, *WEEK).clear()
    res = continuity(empty, cme)
    assert (res.expected, res.present, res.outside_session, res.gaps) == (0, 0, 0, [])
    assert res.strays.schema == pl.Schema({"row": pl.Int64, "datetime": pl.Datetime("us", "UTC")})
    assert res.coverage.columns == ["trading_day", "expected", "present", "outside", "coverage"]
    assert res.to_json()["from"] is None
    ranged = continuity(empty, cme, start=D(2025, 6, 3), end=D(2025, 6, 3))
    assert [(g.cls, g.missing) for g in ranged.gaps] == [("edge", 1380)]


def test_a_sub_minute_stray_in_the_last_expected_minute_counts_on_the_last_day(cme):
    bars = build(cme, *WEEK, extra=[et(2025, 6, 6, 16, 59, 30)])
    res = continuity(bars, cme)
    assert res.outside_session == 1 and res.gaps == []
    fri = res.coverage.filter(pl.col("trading_day") == D(2025, 6, 6))
    assert fri["outside"][0] == 1


def test_quick_flags_at_exactly_two_sessions_behind_and_on_a_complete_file(tmp_path, cme):
    from datamgr.core.config import Settings
    from datamgr.health.gaps import quick_flags
    from datamgr.store.store import Store

    s = Settings.load(data_dir=tmp_path, env={})
    Store(s).write("ES1", "1m", build(cme, *WEEK), operation="test")
    meta = Store(s).read_meta("ES1", "1m")
    # Monday 2025-06-09 19:30 ET: Monday's session was missed (the count includes the session in progress)
    assert quick_flags(s, "ES1", meta, now=et(2025, 6, 9, 19, 30)) == ["behind: 2 sessions"]
    assert quick_flags(s, "ES1", meta, now=et(2025, 6, 9, 12, 0)) == []  # complete file: no gaps flag either


# ---------------------------------------------------------------- mutation survivors (issue 15 item 3)
def test_class_counts_and_the_json_count_every_reported_gap(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 27), drop_clock=(16, 55, 5, D(2025, 6, 2), D(2025, 6, 26)))
    bars = bars.filter(pl.col("datetime") != et(2025, 6, 10, 11, 0))  # one hole besides the window
    strays = pl.DataFrame({"datetime": [et(2025, 6, 7, 12, 0)]}).with_columns(pl.col("datetime").dt.cast_time_unit("us"))
    bars = pl.concat([bars, bars.head(1).with_columns(strays["datetime"])]).sort("datetime")
    res = continuity(bars, cme)
    assert res.class_counts() == {"recurring": 1, "hole": 1}
    j = res.to_json()
    assert j["gap_counts"] == {"recurring": 1, "hole": 1} and j["holes"] == 1 and j["ok"] is False
    assert j["outside_session"] == 1 and j["expected"] == res.expected and j["present"] == res.present
    assert [s["datetime"] for s in j["strays"]] == ["2025-06-07T12:00:00-04:00"]

