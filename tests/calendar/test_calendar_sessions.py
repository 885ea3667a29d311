"""Expected 1-minute bars of the CME equity calendar on the days that are easy to get wrong."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar

CT = ZoneInfo("America/Chicago")
D = dt.date


@pytest.fixture(scope="module")
def cme():
    return get_calendar("CME Globex Equity")


def counts(cal, day: dt.date) -> int | None:
    c = cal.expected_counts(day, day)
    return int(c["expected"][0]) if c.height else None


def segments_ct(cal, day: dt.date) -> list[tuple[str, str]]:
    seg = cal.segments(day, day)
    return [(s.astimezone(CT).strftime("%m-%d %H:%M"), e.astimezone(CT).strftime("%m-%d %H:%M"))
            for s, e in zip(seg["start"].to_list(), seg["end"].to_list(), strict=True)]


@pytest.mark.parametrize(("day", "expected"), [
    (D(2025, 7, 8), 1380),   # normal Tuesday: 17:00 CT Monday .. 16:00 CT, 23 h
    (D(2025, 7, 7), 1380),   # Monday: opens Sunday 17:00 CT
    (D(2025, 7, 3), 1155),   # day before Independence Day: closes 12:15 CT
    (D(2025, 7, 4), 1140),   # Independence Day: closes 12:00 CT
    (D(2025, 11, 27), 1140), # Thanksgiving: 12:00 CT
    (D(2025, 11, 28), 1155), # day after Thanksgiving: 12:15 CT
    (D(2025, 6, 19), 1140),  # Juneteenth: 12:00 CT
    (D(2025, 3, 10), 1380),  # Monday after the spring DST switch
    (D(2025, 11, 3), 1380),  # Monday after the autumn DST switch
])
def test_expected_bar_counts_match_the_exchange_schedule(cme, day, expected):
    assert counts(cme, day) == expected


def test_holidays_and_weekends_have_no_session(cme):
    days = cme.expected_counts(D(2025, 12, 20), D(2025, 12, 28))["trading_day"].to_list()
    assert D(2025, 12, 25) not in days
    assert D(2025, 12, 20) not in days and D(2025, 12, 21) not in days  # Sat, Sun
    assert D(2025, 12, 24) in days and counts(cme, D(2025, 12, 24)) == 1155  # 12:15 CT


def test_sunday_open_is_18_00_et_in_both_dst_regimes(cme):
    et = ZoneInfo("America/New_York")
    for monday in (D(2025, 3, 3), D(2025, 3, 10), D(2025, 11, 3), D(2025, 11, 10)):
        first = cme.expected_minutes(monday, monday)[0].astimezone(et)
        assert (first.weekday(), first.hour, first.minute) == (6, 18, 0)


def test_the_halt_exists_until_2021_06_25_and_is_gone_from_2021_06_28(cme):
    assert segments_ct(cme, D(2021, 6, 25)) == [("06-24 17:00", "06-25 15:15"), ("06-25 15:30", "06-25 16:15")]
    assert segments_ct(cme, D(2021, 6, 28)) == [("06-27 17:00", "06-28 16:00")]
    # both are 1380 minutes: 23 h 15 min minus the 15 min halt, and 23 h
    assert counts(cme, D(2021, 6, 25)) == counts(cme, D(2021, 6, 28)) == 1380


def test_the_2012_2021_session_ends_16_15_ct_and_early_closes_have_no_halt(cme):
    assert segments_ct(cme, D(2019, 7, 2))[-1] == ("07-02 15:30", "07-02 16:15")
    assert segments_ct(cme, D(2019, 7, 3)) == [("07-02 17:00", "07-03 12:15")]


def test_before_2012_the_session_reopens_15_30_ct_for_the_next_trading_day(cme):
    assert segments_ct(cme, D(2008, 3, 11)) == [("03-10 15:30", "03-10 16:30"), ("03-10 17:00", "03-11 15:15")]
    assert segments_ct(cme, D(2008, 3, 10)) == [("03-09 17:00", "03-10 15:15")]  # Monday
    assert counts(cme, D(2008, 3, 11)) == 60 + 1335
    assert segments_ct(cme, D(2012, 11, 19)) == [("11-18 17:00", "11-19 15:15"), ("11-19 15:30", "11-19 16:15")]


def test_expected_minutes_are_the_segment_minutes_without_duplicates(cme):
    m = cme.expected_minutes(D(2021, 6, 1), D(2021, 7, 31))
    total = int(cme.expected_counts(D(2021, 6, 1), D(2021, 7, 31))["expected"].sum())
    assert m.len() == total == m.n_unique()
    assert m.is_sorted()


def test_label_gives_the_trading_day_inside_sessions_and_null_outside(cme):
    ts = pl.Series([
        dt.datetime(2025, 7, 7, 21, 30, tzinfo=dt.UTC),  # Mon 16:30 CT: break -> outside
        dt.datetime(2025, 7, 7, 23, 0, tzinfo=dt.UTC),   # Mon 18:00 CT -> Tuesday's session
        dt.datetime(2025, 7, 12, 15, 0, tzinfo=dt.UTC),  # Saturday -> outside
    ]).cast(pl.Datetime("us", "UTC"))
    lab = cme.label(ts)
    assert lab["trading_day"].to_list() == [None, D(2025, 7, 8), None]
    assert lab["in_session"].to_list() == [False, True, False]


def test_nyse_extended_runs_04_00_to_20_00_et():
    cal = get_calendar("NYSE extended")
    assert counts(cal, D(2011, 3, 1)) == 16 * 60
