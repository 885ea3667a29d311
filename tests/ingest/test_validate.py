"""Validation rules one by one, and no false alarms on clean data."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import DEFAULT_PRECEDENCE
from datamgr.core.schema import empty_bars
from datamgr.ingest.validate import validate_incoming, write_quarantine
from datamgr.ops.demo import make_demo_bars
from tests.ingest.yahoo_builders import daily, market

CAL = get_calendar("CME Globex Equity")


def check(bars, master=None, timeframe="1m"):
    return validate_incoming(bars, timeframe=timeframe, calendar=CAL, tick=0.25,
                             master=empty_bars() if master is None else master, precedence=DEFAULT_PRECEDENCE)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_clean_bars_of_a_volatile_week_are_all_accepted(seed):
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7), seed=seed, source="yahoo")
    v = check(bars)
    assert v.rejected.height == 0 and v.accepted.equals(bars)


def test_a_short_update_is_judged_against_the_stored_neighbours():
    bars = market().with_columns(pl.lit("ninjatrader").alias("source"))
    master, new = bars.head(3000), bars.slice(3000, 3).with_columns(pl.lit("yahoo").alias("source"))
    spike = new.with_columns(pl.when(pl.int_range(3) == 1).then(pl.col("high") + 40).otherwise(pl.col("high")).alias("high"))
    v = check(spike, master)
    assert v.rejected.height == 1 and v.rejected["reason"][0].startswith("spike")
    assert check(new, master).rejected.height == 0


def test_a_wide_range_bar_is_a_spike_even_when_its_close_is_normal():
    bars = market().with_columns(pl.lit("yahoo").alias("source")).head(400)
    wide = bars.with_columns(pl.when(pl.int_range(400) == 200).then(pl.col("low") - 30).otherwise(pl.col("low")).alias("low"))
    v = check(wide)
    assert v.rejected.height == 1 and "range" in v.rejected["reason"][0]


def test_every_reason_of_a_bar_is_listed():
    bars = market().with_columns(pl.lit("yahoo").alias("source")).head(100)
    t = bars["datetime"][50]
    bad = bars.with_columns(
        pl.when(pl.col("datetime") == t).then(pl.col("high") - 5.1).otherwise(pl.col("high")).alias("high"))
    reason = check(bad).rejected["reason"][0]
    assert "invariant: high < max(open, close)" in reason and "off tick grid" in reason


def test_duplicates_and_nan_are_rejected_not_crashing():
    bars = market().with_columns(pl.lit("yahoo").alias("source")).head(50)
    dup = pl.concat([bars, bars.slice(10, 1)])
    nan = bars.with_columns(pl.when(pl.int_range(50) == 5).then(float("nan")).otherwise(pl.col("close")).alias("close"))
    assert check(dup).rejected["reason"].to_list() == ["invariant: duplicate timestamp"]
    assert "NaN" in check(nan).rejected["reason"][0]


def test_a_daily_bar_on_a_non_trading_day_is_rejected():
    d = daily(market()).with_columns(pl.lit("yahoo").alias("source"))
    sat = d.tail(1).with_columns(pl.lit(dt.datetime(2025, 3, 8, tzinfo=dt.UTC)).cast(pl.Datetime("us", "UTC")).alias("datetime"))
    v = check(pl.concat([d, sat]), timeframe="1d")
    assert v.accepted.height == 5
    assert v.rejected["reason"].to_list() == ["outside session: not a trading day"]


def test_yahoo_bars_within_a_tick_of_ninjatrader_are_accepted_and_lower_sources_never_block():
    bars = market().head(200)
    nt = bars.with_columns(pl.lit("ninjatrader").alias("source"))
    near = bars.with_columns((pl.col("close") + 0.25).alias("close"), pl.col("high") + 0.25, pl.lit("yahoo").alias("source"))
    assert check(near, nt).rejected.height == 0
    demo = bars.with_columns(pl.lit("demo").alias("source"))
    far = near.with_columns(pl.col("close") + 1.0, pl.col("high") + 1.0)
    assert check(far, demo).rejected.height == 0
    assert check(far, nt).rejected.height == 200


def test_quarantine_file_names_do_not_collide(tmp_path):
    rej = check(market().head(3).with_columns(pl.col("close") + 0.1)).rejected
    now = dt.datetime(2025, 3, 7, 22, tzinfo=dt.UTC)
    a = write_quarantine(tmp_path, "ES1", "1m", rej, now=now)
    b = write_quarantine(tmp_path, "ES1", "1m", rej, now=now)
    assert a.name == "ES1_1m.20250307T220000Z.parquet" and b.name == "ES1_1m.20250307T220000Z-2.parquet"
    assert write_quarantine(tmp_path, "ES1", "1m", rej.head(0)) is None
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
