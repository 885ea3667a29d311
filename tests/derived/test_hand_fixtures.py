"""HOD/LOD, profiler and level touches on small hand-checked fixtures (SPEC 8.2-8.4)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import DEFAULT_SESSIONS
from datamgr.derived import hod_lod, levels, profiler
from datamgr.derived.resample import label_minutes

CAL = get_calendar("CME Globex Equity")
ET = ZoneInfo("America/New_York")


def mk(rows: list[tuple]) -> pl.DataFrame:
    """Bars from ``("YYYY-MM-DD HH:MM" ET, open, high, low, close, volume)`` rows."""
    ts = [dt.datetime.strptime(r[0], "%Y-%m-%d %H:%M").replace(tzinfo=ET).astimezone(dt.UTC) for r in rows]
    return pl.DataFrame({
        "datetime": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
        "open": [float(r[1]) for r in rows], "high": [float(r[2]) for r in rows],
        "low": [float(r[3]) for r in rows], "close": [float(r[4]) for r in rows],
        "volume": [int(r[5]) for r in rows], "source": "demo",
    })


FIXTURE = [
    ("2024-03-11 16:59", 100, 200, 50, 100, 1),      # trading day 03-11 (before the 18:00 open)
    ("2024-03-11 18:00", 100, 105, 99, 104, 10),     # 03-12 asia: first bar of the trading day
    ("2024-03-12 02:59", 104, 110, 103, 108, 11),    # asia: day high 110 (first)
    ("2024-03-12 03:00", 108, 110, 101, 102, 12),    # london: 110 again (later: not the time)
    ("2024-03-12 09:29", 102, 103, 98, 99, 13),      # london: day low 98 (first)
    ("2024-03-12 09:30", 99, 106, 98, 105, 14),      # ny / RTH open: 98 again
    ("2024-03-12 15:59", 105, 109, 104, 107, 15),    # ny: RTH high
    ("2024-03-12 16:30", 107, 108, 106, 107, 16),    # after RTH, in no session window
    ("2024-03-12 18:00", 107, 112, 106, 111, 20),    # 03-13 asia; no london bars on 03-13
    ("2024-03-13 09:30", 111, 111.5, 97, 98, 21),    # 03-13 ny
]


@pytest.fixture(scope="module")
def lab() -> pl.DataFrame:
    return label_minutes(mk(FIXTURE), CAL).frame


def days_of(lab: pl.DataFrame) -> pl.Series:
    return CAL.sessions(dt.date(2024, 3, 4), dt.date(2024, 3, 13))["trading_day"]


def test_trading_days_start_at_18_et_the_evening_before(lab):
    assert lab["td"].to_list() == [dt.date(2024, 3, 11)] + [dt.date(2024, 3, 12)] * 7 + [dt.date(2024, 3, 13)] * 2


def test_hod_lod_takes_the_first_time_of_a_repeated_high_or_low_and_rth_separately(lab):
    d = {r["date"]: r for r in hod_lod.hod_lod_days(lab, partial=hod_lod.partial_days(lab, CAL))}["2024-03-12"]
    assert d == {
        "date": "2024-03-12", "high": 110.0, "high_time": "2024-03-12T02:59:00-04:00",
        "low": 98.0, "low_time": "2024-03-12T09:29:00-04:00",
        "rth_high": 109.0, "rth_high_time": "2024-03-12T15:59:00-04:00",
        "rth_low": 98.0, "rth_low_time": "2024-03-12T09:30:00-04:00", "partial": False,
    }


def test_hod_lod_day_without_rth_bars_has_null_rth_keys(lab):
    d = {r["date"]: r for r in hod_lod.hod_lod_days(lab)}["2024-03-11"]
    assert d["high"] == 200.0 and d["rth_high"] is None and d["rth_low_time"] is None


def test_profiler_sessions_previous_session_and_a_missing_session(lab):
    rows = {r["date"]: r for r in profiler.profiler_days(lab, DEFAULT_SESSIONS, days_of(lab),
                                                          partial=hod_lod.partial_days(lab, CAL))}
    d12, d13 = rows["2024-03-12"], rows["2024-03-13"]
    assert d12["asia"] == {"open": 100.0, "high": 110.0, "low": 99.0, "close": 108.0, "range": 11.0,
                           "volume": 21, "high_time": "2024-03-12T02:59:00-04:00",
                           "low_time": "2024-03-11T18:00:00-04:00", "took_prev_high": None,
                           "took_prev_low": None, "sets_day_high": True, "sets_day_low": False,
                           "partial": False}
    # 03-11 has only a bar outside the windows (16:59): its ny is missing, so asia's flags are null
    assert d12["london"]["high"] == 110.0 and d12["london"]["took_prev_high"] is False
    assert d12["london"]["low"] == 98.0 and d12["london"]["took_prev_low"] is True
    assert d12["london"]["sets_day_low"] is True and d12["london"]["sets_day_high"] is False
    assert d12["ny"]["high"] == 109.0 and d12["ny"]["took_prev_high"] is False
    assert d12["ny"]["took_prev_low"] is False  # 98 equals london's 98: not taken out
    assert d13["london"] is None
    assert d13["asia"]["took_prev_high"] is True and d13["asia"]["took_prev_low"] is False  # vs 03-12 ny
    assert d13["ny"]["took_prev_high"] is None and d13["ny"]["took_prev_low"] is None      # after missing london


def test_profiler_summary_counts_days_with_the_session_and_buckets_times(lab):
    rows = profiler.profiler_days(lab, DEFAULT_SESSIONS, days_of(lab))
    s = profiler.summary(rows, DEFAULT_SESSIONS)
    assert s["london"]["days"] == 1 and s["asia"]["days"] == 2 and s["ny"]["days"] == 2
    assert s["asia"]["sets_day_high_pct"] == 100.0       # 03-12 (110 at 02:59) and 03-13 (112)
    assert s["ny"]["sets_day_low_pct"] == 50.0           # 03-13 low 97 in ny; 03-12 low was london's
    assert s["asia"]["high_time_hist"]["02:30"] == 1 and s["asia"]["high_time_hist"]["18:00"] == 1
    assert list(s["asia"]["high_time_hist"])[:2] == ["18:00", "18:30"] and len(s["asia"]["high_time_hist"]) == 18
    assert s["ny"]["range_p50"] == pytest.approx((11.0 + 14.5) / 2)


def test_levels_use_the_prior_day_last_1m_close_without_a_daily_file(lab):
    d = {r["date"]: r for r in levels.level_days(lab, days_of(lab), None)}["2024-03-13"]["levels"]
    assert d["pdh"] == {"price": 110.0, "touched": True, "first_touch": "2024-03-13T09:30:00-04:00"}
    assert d["pdl"]["price"] == 98.0 and d["pdl"]["touched"] is True
    assert d["pdc"] == {"price": 107.0, "touched": True, "first_touch": "2024-03-13T09:30:00-04:00", "source": "1m"}
    assert d["onh"] == {"price": 112.0, "touched": False, "first_touch": None}
    assert d["onl"]["price"] == 106.0 and d["onl"]["touched"] is True
    assert d["rth_open"] == {"price": 111.0, "touched": False, "first_touch": None}  # opening bar not counted


def test_levels_take_the_prior_day_close_from_the_daily_settlement_when_present(lab):
    daily = pl.DataFrame({"datetime": [dt.datetime(2024, 3, 12, tzinfo=dt.UTC)], "close": [105.5]})
    d = {r["date"]: r for r in levels.level_days(lab, days_of(lab), daily)}["2024-03-13"]["levels"]
    assert d["pdc"]["price"] == 105.5 and d["pdc"]["source"] == "1d" and d["pdc"]["touched"] is True


def test_levels_without_prior_day_bars_are_null_and_summary_skips_them(lab):
    rows = levels.level_days(lab, days_of(lab), None)
    d11 = {r["date"]: r for r in rows}["2024-03-11"]["levels"]
    assert d11["pdh"] == {"price": None, "touched": None, "first_touch": None}
    s = levels.summary(rows)
    assert s["pdh"] == {"days": 2, "touched": 1, "touch_rate": 0.5}  # 03-12: pdh 200 never reached
    assert s["onh"]["days"] == 2 and s["onh"]["touched"] == 0
    assert s["onl"] == {"days": 2, "touched": 2, "touch_rate": 1.0}


def test_early_close_day_ends_rth_at_the_early_close():
    from tests.derived.builders import make_bars

    bars = make_bars(dt.date(2024, 11, 29), dt.date(2024, 11, 29), seed=4)   # Black Friday, 13:15 ET close
    lab = label_minutes(bars, CAL).frame
    d = hod_lod.hod_lod_days(lab)[0]
    et = bars.with_columns(pl.col("datetime").dt.convert_time_zone("America/New_York").alias("et"))
    rth = et.filter((pl.col("et").dt.time() >= dt.time(9, 30)) & (pl.col("et").dt.date() == dt.date(2024, 11, 29)))
    assert rth["et"].max().time() == dt.time(13, 14)
    assert d["rth_high"] == rth["high"].max() and d["rth_low"] == rth["low"].min()
    p = profiler.profiler_days(lab, DEFAULT_SESSIONS, CAL.sessions(dt.date(2024, 11, 20), dt.date(2024, 11, 29))["trading_day"])
    assert p[0]["ny"]["close"] == rth["close"][-1] and p[0]["ny"]["volume"] == rth["volume"].sum()


def test_partial_days_are_the_file_edges_short_sessions_and_early_closes(lab):
    # 03-11: one bar at 16:59 (the file starts 23 h after the open); 03-12: 18:00 .. 16:30 (within an
    # hour of the 17:00 close); 03-13: the file ends at 09:30, 7.5 h before the close
    flags = dict(hod_lod.partial_days(lab, CAL).iter_rows())
    assert flags == {dt.date(2024, 3, 11): True, dt.date(2024, 3, 12): False, dt.date(2024, 3, 13): True}
    from tests.derived.builders import make_bars

    full = label_minutes(make_bars(dt.date(2024, 11, 27), dt.date(2024, 12, 2), seed=4), CAL).frame
    flags = dict(hod_lod.partial_days(full, CAL).iter_rows())
    assert flags[dt.date(2024, 11, 29)] is True    # Black Friday: 13:15 ET early close
    assert flags[dt.date(2024, 11, 27)] is False and flags[dt.date(2024, 12, 2)] is False


def test_the_profiler_summary_skips_partial_days_unless_asked(lab):
    rows = profiler.profiler_days(lab, DEFAULT_SESSIONS, days_of(lab), partial=hod_lod.partial_days(lab, CAL))
    assert [(r["date"], r["partial"]) for r in rows] == [("2024-03-11", True), ("2024-03-12", False),
                                                         ("2024-03-13", True)]
    assert rows[2]["asia"]["partial"] is True  # every session record of a partial day says so
    s = profiler.summary(rows, DEFAULT_SESSIONS)
    assert s["asia"]["days"] == 1 and s["asia"]["partial_days_excluded"] == 1
    assert s["ny"]["days"] == 1 and s["ny"]["sets_day_low_pct"] == 0.0  # 03-13's 97 was on a partial day
    s = profiler.summary(rows, DEFAULT_SESSIONS, include_partial=True)
    assert s["asia"]["days"] == 2 and s["asia"]["partial_days_excluded"] == 0
