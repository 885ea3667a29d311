"""Quiet minutes vs holes on bars from a known no-trade model (tests/health/builders.py)."""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from datamgr.calendar.overrides import AckGap
from datamgr.calendar.sessions import get_calendar
from datamgr.health.gaps import continuity
from datamgr.health.quiet import QuietModel
from tests.health.builders import rate_at, thin_bars

ET = ZoneInfo("America/New_York")
CME = get_calendar("CME Globex Equity")


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET).astimezone(dt.UTC)


HOLE_RTH = (et(2025, 3, 12, 10, 0), et(2025, 3, 12, 10, 1))      # 1 minute at 40 trades/minute
HOLE_NIGHT = (et(2025, 3, 19, 0, 30), et(2025, 3, 19, 1, 15))    # 45 minutes at 0.8 trades/minute
HOLE_EVENING = (et(2025, 3, 24, 18, 30), et(2025, 3, 24, 18, 33))  # 3 minutes at 3 trades/minute


@pytest.fixture(scope="module")
def res():
    bars = thin_bars(dt.date(2025, 2, 3), dt.date(2025, 4, 25), holes=[HOLE_RTH, HOLE_NIGHT, HOLE_EVENING])
    return continuity(bars, CME)


def clock(g) -> int:
    t = g.start.astimezone(ET)
    return t.hour * 60 + t.minute


def test_a_single_missing_minute_of_a_liquid_hour_stays_a_hole(res):
    g = next(g for g in res.gaps if g.start == HOLE_RTH[0])
    assert (g.cls, g.missing) == ("hole", 1)
    assert g.p_no_trade < 1e-3  # truth: exp(-40)


def test_long_runs_in_thin_hours_and_short_runs_in_busier_hours_are_holes(res):
    night = next(g for g in res.gaps if g.start == HOLE_NIGHT[0])
    assert night.cls == "hole" and night.missing >= 45 and night.p_no_trade < 1e-6  # truth: exp(-36)
    evening = next(g for g in res.gaps if g.start <= HOLE_EVENING[0] < g.end)
    assert evening.cls == "hole" and evening.p_no_trade < 0.01  # truth: exp(-9)


def test_tradeless_night_minutes_are_quiet_with_a_probability_near_the_truth(res):
    nights = [g for g in res.gaps if g.missing == 1 and (clock(g) >= 20 * 60 + 15 or clock(g) < 2 * 60 + 45)]
    assert len(nights) > 500
    assert {g.cls for g in nights} == {"quiet"}
    truth = math.exp(-0.8)
    assert abs(float(np.median([g.p_no_trade for g in nights])) - truth) < 0.2
    assert res.holes and {(g.start, g.missing) for g in res.holes} >= {(HOLE_RTH[0], 1)}


def test_no_minute_of_the_cash_session_is_quiet(res):
    cash = [g for g in res.gaps if 9 * 60 + 45 <= clock(g) < 15 * 60 + 45]
    assert [g.cls for g in cash] == ["hole"]  # only the planted one: 40 trades a minute never skip


def test_every_missing_minute_is_listed_with_its_probability(res):
    assert sum(g.missing for g in res.gaps) == res.expected - res.present
    assert all(g.p_no_trade is not None and 0.0 <= g.p_no_trade <= 1.0 for g in res.gaps)
    counts = res.class_counts()
    assert counts["quiet"] > 10 * counts["hole"]


def test_the_probability_follows_the_threshold_of_the_model():
    bars = thin_bars(dt.date(2025, 2, 3), dt.date(2025, 3, 28), seed=5)
    strict = continuity(bars, CME, model=QuietModel(threshold=0.9))
    loose = continuity(bars, CME, model=QuietModel(threshold=0.01))
    assert strict.class_counts().get("quiet", 0) < loose.class_counts()["quiet"]
    none = continuity(bars, CME, model=None)
    assert "quiet" not in none.class_counts() and all(g.p_no_trade is None for g in none.gaps)
    with pytest.raises(ValueError, match="threshold"):
        QuietModel(threshold=1.5)


def test_recurring_needs_at_least_three_sessions():
    days = CME.sessions(dt.date(2025, 3, 3), dt.date(2025, 3, 28))["trading_day"].to_list()
    two = thin_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 28), drop_clock=(11, 0, 20, days[2:4]))
    many = thin_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 28), drop_clock=(11, 0, 20, days[2:14]))
    r2 = [g for g in continuity(two, CME).gaps if g.missing >= 20]
    assert [(g.cls, g.sessions) for g in r2] == [("hole", 1), ("hole", 1)]
    rec = [g for g in continuity(many, CME).gaps if g.cls == "recurring"]
    assert [(g.clock, g.sessions) for g in rec] == [("11:00-11:20 ET", 12)]
    assert all(g.sessions >= 3 for g in continuity(many, CME).gaps if g.cls == "recurring")


def test_acknowledged_ranges_mark_the_gaps_inside_them_only():
    bars = thin_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 14), holes=[HOLE_RTH])
    base = continuity(bars, CME)
    quiet = [g for g in base.gaps if g.cls == "quiet"][:50]
    acks = tuple(AckGap("ES1", g.start, g.end - dt.timedelta(minutes=1), g.missing) for g in quiet)
    res = continuity(bars, CME, acknowledged=acks)
    acked = {g.start for g in res.gaps if g.acknowledged}
    assert acked == {g.start for g in quiet}
    wide = (AckGap("ES1", et(2025, 3, 12, 9, 0), et(2025, 3, 12, 11, 0)),)
    res = continuity(bars, CME, acknowledged=wide)
    assert [g.start for g in res.gaps if g.acknowledged] == [HOLE_RTH[0]]
    assert HOLE_RTH[0] in {g.start for g in base.holes} - {g.start for g in res.holes}


def test_the_test_model_is_what_the_builder_draws():
    assert rate_at(np.array([0, 10 * 60, 19 * 60, 23 * 60])).tolist() == [0.8, 40.0, 3.0, 0.8]
