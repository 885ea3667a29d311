"""Gaps, classes, strays and coverage on bars built from the real calendar with planted holes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.health.gaps import continuity, staleness

ET = ZoneInfo("America/New_York")
UTC = pl.Datetime("us", "UTC")
D = dt.date


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET).astimezone(dt.UTC)


def build(cal, start: dt.date, end: dt.date, holes=(), drop_clock=None, extra=()) -> pl.DataFrame:
    """Bars at every expected minute minus ``holes`` ([start, end) aware), plus ``extra`` times."""
    t = cal.expected_minutes(start, end)
    keep = pl.lit(True)
    for a, b in holes:
        keep = keep & ~pl.col("datetime").is_between(a, b, closed="left")
    df = pl.DataFrame({"datetime": t}).filter(keep)
    if drop_clock is not None:  # (h, m, n, first_day, last_day): same ET minutes every day
        h, m, n, d0, d1 = drop_clock
        loc = pl.col("datetime").dt.convert_time_zone("America/New_York")
        mins = loc.dt.hour().cast(pl.Int32) * 60 + loc.dt.minute().cast(pl.Int32)
        day = loc.dt.date()
        df = df.filter(~(mins.is_between(h * 60 + m, h * 60 + m + n - 1) & day.is_between(d0, d1)))
    if extra:
        df = pl.concat([df, pl.DataFrame({"datetime": pl.Series(list(extra)).cast(UTC)})]).sort("datetime")
    n = df.height
    price = 5000 + np.cumsum(np.where(np.arange(n) % 2, 0.25, -0.25))
    return df.with_columns(open=pl.Series(price), high=pl.Series(price + 0.5), low=pl.Series(price - 0.5),
                           close=pl.Series(price), volume=pl.lit(10, pl.Int64), source=pl.lit("demo"))


@pytest.fixture(scope="module")
def cme():
    return get_calendar("CME Globex Equity")


HOLES = [  # (start, end) ET, exclusive end; all inside sessions of June-July 2025
    (et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 1)),      # 1 minute
    (et(2025, 6, 4, 11, 30), et(2025, 6, 4, 11, 37)),    # 7 minutes
    (et(2025, 6, 5, 2, 0), et(2025, 6, 5, 3, 30)),       # 90 minutes overnight
    (et(2025, 6, 10, 18, 0), et(2025, 6, 11, 17, 0)),    # one whole session (1380)
    (et(2025, 6, 26, 12, 0), et(2025, 6, 30, 9, 0)),     # Thu noon .. Mon 09:00: several days
]


def minutes_expected(cal, a, b) -> int:
    m = cal.expected_minutes(a.date() - dt.timedelta(days=1), b.date() + dt.timedelta(days=1))
    return int(m.is_between(a, b, closed="left").sum())


def test_planted_holes_are_found_exactly_and_nothing_else(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 7, 31), HOLES)
    res = continuity(bars, cme)
    got = [(g.start, g.end, g.missing, g.cls) for g in res.gaps]
    want = [(a, b, minutes_expected(cme, a, b), "hole") for a, b in HOLES]
    assert got == want
    # the several-day hole crosses a weekend: only its session minutes count
    assert want[-1][2] == 5 * 60 + 1380 + 15 * 60  # Thu 12-17 ET, Friday session, Sun 18 .. Mon 09
    assert res.outside_session == 0
    assert res.present == bars.height


def test_weekends_holidays_early_closes_and_halts_are_never_gaps(cme):
    bars = build(cme, D(2019, 6, 3), D(2019, 7, 31))  # 2019: 15:15-15:30 CT halt, 16:15 close, July 3/4
    res = continuity(bars, cme)
    assert res.gaps == []
    assert res.expected == res.present == bars.height
    assert res.coverage["coverage"].min() == 1.0


def test_missing_minutes_before_the_first_and_after_the_last_bar_are_edge_gaps(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 6)).filter(
        pl.col("datetime").is_between(et(2025, 6, 2, 9, 30), et(2025, 6, 6, 12, 0), closed="left"))
    res = continuity(bars, cme)
    assert [(g.cls, g.start, g.end) for g in res.gaps] == [
        ("edge", et(2025, 6, 1, 18, 0), et(2025, 6, 2, 9, 30)),
        ("edge", et(2025, 6, 6, 12, 0), et(2025, 6, 6, 17, 0))]


def test_a_clock_window_missing_every_day_is_one_recurring_gap(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 27), holes=[HOLES[1]],
                 drop_clock=(16, 15, 15, D(2025, 6, 2), D(2025, 6, 27)))
    res = continuity(bars, cme)
    rec = [g for g in res.gaps if g.cls == "recurring"]
    holes = [g for g in res.gaps if g.cls == "hole"]
    sessions = int(cme.expected_counts(D(2025, 6, 2), D(2025, 6, 27)).height)
    assert len(rec) == 1
    assert rec[0].clock == "16:15-16:30 ET"
    assert rec[0].sessions == sessions - 1  # Juneteenth closed at 13:00 ET
    assert rec[0].missing == 15 * (sessions - 1)
    assert [(g.start, g.end) for g in holes] == [HOLES[1]]


def test_stray_bars_outside_sessions_are_counted_and_listed_with_rows(cme):
    strays = [et(2025, 6, 7, 12, 0), et(2025, 6, 9, 17, 30), et(2025, 7, 3, 15, 0)]  # Sat, break, after early close
    bars = build(cme, D(2025, 6, 2), D(2025, 7, 10), extra=strays)
    res = continuity(bars, cme)
    assert res.outside_session == 3
    assert res.strays["datetime"].to_list() == strays
    rows = res.strays["row"].to_list()
    assert bars["datetime"].gather(rows).to_list() == strays
    assert res.gaps == []
    assert int(res.coverage["outside"].sum()) == 3


def test_the_gap_filter_keeps_only_gaps_of_at_least_n_minutes(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 7, 31), HOLES)
    res = continuity(bars, cme, min_gap=48)
    assert [g.missing for g in res.reported] == [90, 1380, minutes_expected(cme, *HOLES[-1])]


def test_a_year_range_before_the_file_is_one_edge_gap(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 6))
    res = continuity(bars, cme, start=D(2025, 5, 1), end=D(2025, 5, 30))
    assert [g.cls for g in res.gaps] == ["edge"]
    assert res.gaps[0].missing == res.expected


def test_per_day_coverage_is_present_over_expected(cme):
    bars = build(cme, D(2025, 6, 2), D(2025, 6, 6), [HOLES[2]])
    cov = continuity(bars, cme).coverage
    row = cov.filter(pl.col("trading_day") == D(2025, 6, 5))
    assert row["expected"][0] == 1380 and row["present"][0] == 1380 - 90
    assert row["coverage"][0] == pytest.approx((1380 - 90) / 1380)


def test_staleness_counts_expected_bars_and_sessions_since_the_last_bar(cme):
    last = et(2025, 7, 2, 16, 58)  # last bar opens 16:58 ET, one bar (16:59) missing that day
    now = et(2025, 7, 7, 12, 0)    # Monday noon ET
    st = staleness(last, cme, now)
    # Jul 2: 1 bar; Jul 3: 1155; Jul 4: 1140; Jul 7: Sun 18:00 .. Mon 12:00 = 18 h
    assert st.expected_bars == 1 + 1155 + 1140 + 18 * 60
    assert st.sessions == 4
    assert st.next_bar == now
    sat = staleness(et(2025, 7, 11, 16, 59), cme, et(2025, 7, 12, 12, 0))
    assert sat.expected_bars == 0 and sat.verdict.startswith("up to date")
    assert sat.next_bar == et(2025, 7, 13, 18, 0)
