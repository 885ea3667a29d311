"""Validation boundaries (issue 15): one tick of disagreement is accepted and two are not; spike
windows stay inside one session; Yahoo may revise Yahoo; the 16-tick floor in a quiet market; the
range rule's floor; every invariant at its edge."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import DEFAULT_PRECEDENCE
from datamgr.core.schema import empty_bars
from datamgr.ingest.validate import Thresholds, read_quarantine, validate_incoming, write_quarantine

CAL = get_calendar("CME Globex Equity")
TICK = 0.25
UTC = pl.Datetime("us", "UTC")


def session_minutes(day: dt.date) -> pl.Series:
    return CAL.expected_minutes(day, day)


def flat(times: pl.Series, price: float = 5000.0, rng: float = TICK, source: str = "yahoo") -> pl.DataFrame:
    """A quiet market: every bar opens and closes at ``price`` with a range of ``rng``."""
    n = times.len()
    return pl.DataFrame({"datetime": times.cast(UTC), "open": [price] * n, "high": [price + rng] * n,
                         "low": [price] * n, "close": [price] * n, "volume": [10] * n, "source": [source] * n})


def check(bars, master=None, timeframe="1m", source="yahoo", thresholds=Thresholds()):
    return validate_incoming(bars, timeframe=timeframe, calendar=CAL, tick=TICK,
                             master=empty_bars() if master is None else master, precedence=DEFAULT_PRECEDENCE,
                             source=source, thresholds=thresholds)


def moved(df: pl.DataFrame, i: int, col: str, by: float) -> pl.DataFrame:
    return df.with_columns(pl.when(pl.int_range(pl.len()) == i).then(pl.col(col) + by).otherwise(pl.col(col))
                           .alias(col))


DAY = dt.date(2025, 3, 4)


@pytest.mark.parametrize(("ticks", "rejected"), [(0, 0), (1, 0), (2, 1), (-2, 1)])
def test_one_tick_of_disagreement_with_ninjatrader_is_accepted_two_are_not(ticks, rejected):
    t = session_minutes(DAY).slice(600, 40)
    master = flat(t, source="ninjatrader")
    yahoo = moved(flat(t), 20, "open", ticks * TICK)
    yahoo = yahoo.with_columns(pl.max_horizontal("open", "high").alias("high"), pl.min_horizontal("open", "low")
                               .alias("low"))
    v = check(yahoo, master)
    assert v.rejected.height == rejected
    if rejected:
        assert v.rejected["reason"][0].startswith(f"disagrees with ninjatrader bar by {abs(ticks) * TICK}")
        assert v.reasons() == {"disagrees with ninjatrader bar by 0.5 (> 1 tick)": 1}


def test_yahoo_revising_yahoo_is_not_a_disagreement_but_smartapi_is_a_higher_source():
    t = session_minutes(DAY).slice(600, 40)
    new = moved(flat(t), 20, "close", 3 * TICK).with_columns(pl.max_horizontal("close", "high").alias("high"))
    assert check(new, flat(t, source="yahoo")).rejected.height == 0
    assert check(new, flat(t, source="demo")).rejected.height == 0  # a lower source never blocks
    v = check(new, flat(t, source="smartapi"))
    assert v.rejected.height == 1 and v.rejected["reason"][0].startswith("disagrees with smartapi")
    # a source missing from the precedence list counts as the user's own (issue 11): nothing listed blocks it,
    # and it blocks every listed source
    assert check(new, flat(t, source="yahoo"), source="legacy").rejected.height == 0
    w = check(new, flat(t, source="legacy"))
    assert w.rejected.height == 1 and "disagrees with legacy" in w.rejected["reason"][0]


@pytest.mark.parametrize(("ticks", "spike"), [(15, False), (16, False), (17, True)])
def test_a_quiet_market_is_judged_by_the_16_tick_floor(ticks, spike):
    bars = moved(flat(session_minutes(DAY).slice(600, 41)), 20, "close", ticks * TICK)
    bars = bars.with_columns(pl.max_horizontal("close", "high").alias("high"))
    v = check(bars)
    assert v.rejected.height == int(spike)
    if spike:
        assert v.rejected["reason"][0].startswith("spike: high/close more than 4.0 from the rolling median 5000.0")


def test_the_floor_scales_with_the_tick_and_the_min_ticks_threshold():
    # 11 ticks: above 10 x the median range (2.5) but under the 16-tick floor (4.0)
    bars = moved(flat(session_minutes(DAY).slice(600, 41)), 20, "close", 11 * TICK)
    bars = bars.with_columns(pl.max_horizontal("close", "high").alias("high"))
    assert check(bars).rejected.height == 0
    assert check(bars, thresholds=Thresholds(min_ticks=8)).rejected.height == 1
    assert check(bars, thresholds=Thresholds(min_ticks=8, k=12)).rejected.height == 0


def test_a_gap_between_sessions_is_not_a_spike_the_windows_stay_in_one_session():
    # Monday ends at 5000; Tuesday opens 200 points higher and stays there: no bar is a spike
    mon, tue = session_minutes(dt.date(2025, 3, 3)), session_minutes(dt.date(2025, 3, 4))
    master = flat(mon.tail(30), 5000.0, source="ninjatrader")
    new = pl.concat([flat(mon.tail(30), 5000.0), flat(tue.head(30), 5200.0)])
    v = check(new, master)
    assert v.rejected.height == 0, v.rejected["reason"].to_list()
    # the same jump inside one session is a spike (two lone bars at 5200)
    inside = moved(moved(flat(tue.slice(100, 41), 5000.0), 20, "close", 200), 20, "high", 200)
    assert check(inside).rejected.height == 1


def test_a_spike_at_the_first_bar_of_a_session_is_judged_by_that_session():
    mon, tue = session_minutes(dt.date(2025, 3, 3)), session_minutes(dt.date(2025, 3, 4))
    new = pl.concat([flat(mon.tail(30), 5000.0), flat(tue.head(30), 5000.0)])
    new = moved(moved(new, 30, "close", 10), 30, "high", 10)  # Tuesday's first bar
    v = check(new)
    assert v.rejected["datetime"].to_list() == [tue[0]]


def test_the_range_rule_uses_a_floor_of_four_ticks():
    bars = flat(session_minutes(DAY).slice(600, 41), rng=0.0)  # median range 0: the floor (1 point) rules
    at_limit = moved(bars, 20, "high", 12 * 4 * TICK)
    over = moved(bars, 20, "high", 12 * 4 * TICK + TICK)
    assert "range" not in ";".join(check(at_limit).rejected["reason"].to_list())
    r = check(over).rejected["reason"].to_list()
    assert len(r) == 1 and "spike: range 12.25 over 12.0x the rolling median range 0.0" in r[0]


@pytest.mark.parametrize(("col", "by", "edge", "reason"), [
    ("low", 0.25, 0.0, "invariant: low > min(open, close)"),
    ("high", -0.75, -0.5, "invariant: high < max(open, close)"),
    ("volume", -11, -10, "invariant: volume < 0"),
    ("open", -5000, None, "invariant: price <= 0"),
    ("close", 0.1, 0.0, "off tick grid (0.25)"),
])
def test_each_invariant_at_its_edge(col, by, edge, reason):
    bars = flat(session_minutes(DAY).slice(600, 41))
    bars = bars.with_columns(pl.col("high") + 0.25)  # room: open=close=low=5000, high 5000.5
    v = check(moved(bars, 20, col, by))
    assert reason in v.rejected["reason"][0]
    assert v.accepted.height == 40
    if edge is not None:  # the same bar exactly at the limit is fine
        assert check(moved(bars, 20, col, edge)).rejected.height == 0


def test_bars_outside_the_session_and_daily_bars_on_holidays():
    t = pl.Series([dt.datetime(2025, 3, 4, 22, 30, tzinfo=dt.UTC)], dtype=UTC)  # the 17:30 ET halt
    v = check(flat(t))
    assert v.rejected["reason"].to_list() == ["outside session"]
    days = pl.Series([dt.datetime(2025, 7, 3, tzinfo=dt.UTC), dt.datetime(2025, 7, 5, tzinfo=dt.UTC)], dtype=UTC)
    vd = check(flat(days), timeframe="1d")
    assert vd.rejected["reason"].to_list() == ["outside session: not a trading day"]
    vw = check(flat(days), timeframe="1w")
    assert vw.rejected.height == 0
    assert vd.rejected_json(daily=True)[0]["datetime"] == "2025-07-05"


def test_quarantine_round_trip_keeps_the_reasons(tmp_path):
    bars = moved(flat(session_minutes(DAY).slice(600, 41)), 20, "close", 0.1)
    v = check(bars)
    p = write_quarantine(tmp_path / "q", "ES1", "1m", v.rejected, now=dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC))
    back = read_quarantine(p)
    assert back["reason"].to_list() == v.rejected["reason"].to_list()
    assert "20250304" in p.name
    assert write_quarantine(tmp_path / "q", "ES1", "1m", v.rejected.clear()) is None
    assert np.isclose(back["close"][0], 5000.1)


def test_a_disagreement_names_the_difference_to_four_decimals_and_every_reason_kind_is_counted():
    t = session_minutes(DAY).slice(600, 41)
    new = moved(flat(t), 20, "open", 0.623456).with_columns(pl.max_horizontal("open", "high").alias("high"))
    v = check(new, flat(t, source="ninjatrader"))
    reason = v.rejected["reason"][0]
    assert reason.startswith("off tick grid (0.25); disagrees with ninjatrader bar by 0.6235 (> 1 tick)"), reason
    assert v.reasons() == {"disagrees with ninjatrader bar by 0.6235 (> 1 tick)": 1, "off tick grid (0.25)": 1}


# ---------------------------------------------------------------- mutation survivors (issue 15 item 3)
def test_a_bar_at_half_the_stored_level_is_rejected_for_its_price_level():
    times = session_minutes(DAY)
    master = flat(times.slice(0, 400), source="ninjatrader")
    v = check(flat(times.slice(400, 100), price=2500.0), master=master)
    assert v.accepted.height == 0 and v.rejected.height == 100
    assert all(r.startswith("price level: ") for r in v.rejected["reason"].to_list())
    assert v.reasons() == {"price level": 100}


def test_a_daily_bar_later_than_now_plus_one_day_is_rejected():
    days = pl.Series([dt.datetime(2025, 3, 4, tzinfo=dt.UTC), dt.datetime(2025, 3, 5, tzinfo=dt.UTC)], dtype=UTC)
    now = dt.datetime(2025, 3, 3, 23, 59, 30, tzinfo=dt.UTC)
    v = validate_incoming(flat(days), timeframe="1d", calendar=CAL, tick=TICK, master=empty_bars(),
                          precedence=DEFAULT_PRECEDENCE, source="yahoo", now=now)
    assert v.accepted["datetime"].to_list() == [days[0]]
    assert v.rejected["reason"].to_list() == ["value: time later than now + one bar (2025-03-04T23:59:30+00:00)"]


def test_rejected_json_of_minute_bars_gives_et_times_by_default():
    t = pl.Series([dt.datetime(2025, 3, 4, 22, 30, tzinfo=dt.UTC)], dtype=UTC)
    assert check(flat(t)).rejected_json()[0]["datetime"] == "2025-03-04T17:30:00-05:00"


def test_the_quarantine_folder_is_made_with_its_parents(tmp_path):
    t = pl.Series([dt.datetime(2025, 3, 4, 22, 30, tzinfo=dt.UTC)], dtype=UTC)
    q = tmp_path / "data" / "quarantine"
    p = write_quarantine(q, "ES1", "1m", check(flat(t)).rejected, now=dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC))
    assert p.parent == q and read_quarantine(p)["reason"].to_list() == ["outside session"]
