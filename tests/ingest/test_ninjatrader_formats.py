"""Every format and dialect of SPEC 6 is auto-detected and reads back the bars that were written."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from datamgr.ingest.ninjatrader.parse import CSV, DAILY, MINUTE, TICK, TICK_BA, parse_export
from datamgr.ingest.ninjatrader.place import to_bars
from tests.ingest.nt_builders import Dialect, make_bars, render, render_ticks

UTC = dt.UTC
START = dt.datetime(2025, 1, 6, 15, 0, tzinfo=UTC)

DIALECTS = [
    Dialect("minute", ";", eol="\r\n"),
    Dialect("minute", ";", eol="\n"),
    Dialect("minute", ";", eol="\r"),
    Dialect("minute", ";", decimal_comma=True),
    Dialect("minute", ";", bom=True, trailing_sep=True, blank_lines=True),
    Dialect("minute", ",", eol="\n"),
    Dialect("csv-datetime", ","),
    Dialect("csv-datetime", ";", decimal_comma=True, eol="\n"),
    Dialect("csv-date-time", ",", bom=True, repeat_header=True, blank_lines=True),
    Dialect("csv-date-time", ";", decimal_comma=True, trailing_sep=True, eol="\r"),
]


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.select(pl.exclude("source")).equals(b.select(pl.exclude("source"))), (a.head(), b.head())


@pytest.mark.parametrize("d", DIALECTS, ids=lambda d: d.id)
def test_each_minute_dialect_reads_back_the_bars_written(d):
    bars = make_bars(START, 50)
    parsed = parse_export(render(bars, d, tz="America/New_York"), f"ES {d.id}.txt")
    assert parsed.format == (CSV if d.layout.startswith("csv") else MINUTE)
    assert parsed.decimal_comma == d.decimal_comma
    assert parsed.rows_read == 50
    placed = to_bars(parsed, "America/New_York", stamp="close")
    assert placed.interval_minutes == 1 and placed.interval_inferred
    assert placed.rejects == []
    _same(placed.bars, bars)
    assert placed.bars["source"].unique().to_list() == ["ninjatrader"]


def test_open_stamp_convention_skips_the_shift():
    bars = make_bars(START, 10)
    parsed = parse_export(render(bars, Dialect(), stamp="open"), "x.txt")
    _same(to_bars(parsed, "UTC", stamp="open").bars, bars)


def test_daily_export_is_labelled_by_its_date():
    days = make_bars(dt.datetime(2025, 1, 6, tzinfo=UTC), 5, step_min=1440)
    parsed = parse_export(render(days, Dialect("daily")), "ES daily.txt")
    assert parsed.format == DAILY and parsed.is_daily
    _same(to_bars(parsed, "America/Los_Angeles").bars, days)


@pytest.mark.parametrize("bidask", [False, True], ids=["price-volume", "last-bid-ask-volume"])
def test_tick_exports_are_aggregated_to_one_minute_bars(bidask):
    t0 = dt.datetime(2025, 1, 6, 15, 0, tzinfo=UTC)
    ticks = [(t0 + dt.timedelta(seconds=s, microseconds=123400), p, p - 0.25, p + 0.25, v)
             for s, p, v in [(1, 100.0, 1), (20, 101.0, 2), (59, 99.5, 3), (61, 100.25, 4), (150, 100.5, 5)]]
    parsed = parse_export(render_ticks(ticks, bidask, tz="America/Chicago"), "ES ticks.txt")
    assert parsed.format == (TICK_BA if bidask else TICK)
    bars = to_bars(parsed, "America/Chicago").bars
    assert bars["datetime"].to_list() == [t0, t0 + dt.timedelta(minutes=1), t0 + dt.timedelta(minutes=2)]
    assert bars.row(0)[1:6] == (100.0, 101.0, 99.5, 99.5, 6)
    assert bars.row(1)[1:6] == (100.25, 100.25, 100.25, 100.25, 4)


def test_interval_given_explicitly_is_used_for_the_close_to_open_shift():
    bars = make_bars(START, 20, step_min=5)
    parsed = parse_export(render(bars, Dialect(), stamp="open"), "x.txt")
    placed = to_bars(parsed, "UTC", stamp="close", interval="5m")
    assert placed.interval_minutes == 5 and not placed.interval_inferred
    assert placed.bars["datetime"][0] == START - dt.timedelta(minutes=5)


def test_fall_back_repeated_hour_is_resolved_by_order():
    # 2024-11-03 01:00-01:59 happens twice in New York; bars every minute across it
    start = dt.datetime(2024, 11, 3, 4, 30, tzinfo=UTC)  # 00:30 EDT
    bars = make_bars(start, 180)
    parsed = parse_export(render(bars, Dialect(), tz="America/New_York"), "fallback.txt")
    placed = to_bars(parsed, "America/New_York")
    assert placed.rejects == []
    _same(placed.bars, bars)


# ----------------------------------------------------------------------------- properties
price = st.integers(min_value=4, max_value=40_000).map(lambda k: k * 0.25)


@st.composite
def bar_frames(draw):
    n = draw(st.integers(min_value=2, max_value=40))
    steps = draw(st.lists(st.integers(min_value=1, max_value=90), min_size=n, max_size=n))
    start = dt.datetime(2025, 1, 6, tzinfo=UTC) + dt.timedelta(minutes=draw(st.integers(0, 60 * 24 * 20)))
    rows, t = [], start
    for s in steps:
        t = t + dt.timedelta(minutes=s)
        a, b = draw(price), draw(price)
        lo, hi = min(a, b), max(a, b)
        o = draw(st.sampled_from([lo, hi, (lo + hi) / 2 // 0.25 * 0.25]))
        c = draw(st.sampled_from([lo, hi, o]))
        rows.append((t, o, hi, lo, c, draw(st.integers(0, 10**9)), "ninjatrader"))
    return pl.DataFrame(rows, schema={"datetime": pl.Datetime("us", "UTC"), "open": pl.Float64,
                                      "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
                                      "volume": pl.Int64, "source": pl.String}, orient="row")


@pytest.mark.parametrize("d", DIALECTS, ids=lambda d: d.id)
@hyp_settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bars=bar_frames(), tz=st.sampled_from(["UTC", "America/Chicago", "America/Los_Angeles"]))
def test_random_valid_bars_round_trip_through_every_dialect(d, bars, tz):
    parsed = parse_export(render(bars, d, tz=tz), "prop.txt")
    placed = to_bars(parsed, tz, stamp="close", interval="1m")
    assert placed.rejects == []
    _same(placed.bars, bars)


@pytest.mark.parametrize("tz", ["America/Los_Angeles", "America/Chicago", "America/New_York"])
def test_hour_offset_localisation_equals_polars_row_by_row_across_two_dst_years(tz):
    from datamgr.ingest.ninjatrader.place import localize

    t = pl.datetime_range(dt.datetime(2023, 1, 1), dt.datetime(2025, 1, 1), "7m", eager=True)
    got = localize(t, tz)
    plain = t.dt.replace_time_zone(tz, ambiguous="null", non_existent="null")
    ok = plain.is_not_null()
    assert got.filter(ok).equals(plain.filter(ok).dt.convert_time_zone("UTC"))
    # the spring-forward gap has no instants; the repeated fall-back hour got both passes in order
    assert got.null_count() == t.filter(~ok).filter(
        t.filter(~ok).dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null").is_null()).len()
    assert got.drop_nulls().is_sorted()
