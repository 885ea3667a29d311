"""The Yahoo adapter runs the real yfinance parsing code over a fake transport (never the network)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.core.errors import SourceError
from datamgr.ingest.base import BarSource
from datamgr.ingest.yahoo import YahooSource, chunk_range
from datamgr.ops.demo import make_demo_bars
from datamgr.ops.update import update
from datamgr.store.store import Store
from tests.conftest import folder_hash
from tests.ingest.yahoo_builders import NOW, SPLIT, daily, market
from tests.ingest.yahoo_fake import FakeYahooSession

UTC = dt.UTC


def test_one_minute_fetch_is_chunked_and_returns_the_served_bars_by_open_time():
    bars = make_demo_bars(dt.date(2025, 2, 17), dt.date(2025, 3, 7), seed=4, source="yahoo")
    fake = FakeYahooSession({"1m": bars})
    start, end = dt.datetime(2025, 2, 16, 23, tzinfo=UTC), dt.datetime(2025, 3, 8, tzinfo=UTC)
    got = YahooSource(session=fake).fetch("ES=F", "1m", start, end)
    assert isinstance(YahooSource(), BarSource)
    assert len(fake.chart_requests) == 3  # 16 days in pieces of at most 7 days
    spans = [(int(r["period2"]) - int(r["period1"])) / 86400 for r in fake.chart_requests]
    assert max(spans) <= 7 and all(r["interval"] == "1m" and r["includePrePost"] for r in fake.chart_requests)
    assert got.equals(bars)  # Yahoo labels by open time: stamps unchanged, in UTC
    assert fake.unexpected == []


def test_chunks_cover_the_range_without_gaps_or_tiny_pieces():
    a, b = dt.datetime(2025, 1, 1, 3, 17, tzinfo=UTC), dt.datetime(2025, 1, 30, 11, 2, tzinfo=UTC)
    ch = chunk_range(a, b)
    assert ch[0][0] == a and ch[-1][1] == b
    assert all(x[1] == y[0] for x, y in zip(ch, ch[1:]))
    assert all(dt.timedelta(days=3) < (e - s) <= dt.timedelta(days=7) for s, e in ch)


def test_daily_fetch_labels_bars_by_trading_date():
    d = daily(market()).with_columns(pl.lit("yahoo").alias("source"))
    fake = FakeYahooSession({"1d": d})
    got = YahooSource(session=fake).fetch("ES=F", "1d", dt.datetime(2025, 3, 3, tzinfo=UTC),
                                          dt.datetime(2025, 3, 8, tzinfo=UTC))
    assert got["datetime"].dt.date().to_list() == [dt.date(2025, 3, i) for i in range(3, 8)]
    assert got.select("open", "high", "low", "close", "volume").equals(d.select("open", "high", "low", "close", "volume"))
    assert fake.chart_requests[0]["interval"] == "1d"


def test_daily_update_writes_the_1d_file_and_never_touches_the_1m_master(seeded):
    settings, master, _ = seeded
    d = daily(market()).with_columns(pl.lit("yahoo").alias("source"))
    before = Store(settings).read("ES1", "1m")
    res = update(settings, "ES1", interval="1d", session=FakeYahooSession({"1d": d}), now=NOW)
    assert res.written and res.to_json()["new"] == 5
    got = Store(settings).read("ES1", "1d")
    assert got["datetime"].dt.date().to_list() == [dt.date(2025, 3, i) for i in range(3, 8)]
    assert set(got["source"]) == {"yahoo"}
    assert Store(settings).read("ES1", "1m").equals(before)


@pytest.mark.parametrize("mode, words", [
    ("empty", "returned no data"),
    ("rate_limit", "rate limit (YFRateLimitError)"),
    ("http_500", "returned no data|request failed"),  # depends on whether yfinance cached the zone
    ("network", "ConnectionError"),
])
def test_failed_fetch_is_a_source_error_and_changes_nothing(seeded, mode, words):
    settings, _, yahoo = seeded
    before = folder_hash(settings.data_dir)
    with pytest.raises(SourceError, match=words.replace("(", r"\(").replace(")", r"\)")) as info:
        update(settings, "ES1", session=FakeYahooSession({"1m": yahoo}, mode=mode), now=NOW)
    assert "Nothing was written" in str(info.value)
    assert folder_hash(settings.data_dir) == before
    assert not (settings.data_dir / "quarantine").exists()


def test_gap_older_than_yahoos_reach_is_reported_as_needing_a_ninjatrader_import(seeded):
    settings, _, _ = seeded
    late = NOW + dt.timedelta(days=40)  # the master ends 40+ days ago
    fake = FakeYahooSession({"1m": make_demo_bars(dt.date(2025, 3, 17), dt.date(2025, 4, 18), source="yahoo")})
    res = update(settings, "ES1", session=fake, now=late, dry_run=True)
    j = res.to_json()
    assert j["needs_import"] is not None and "needs a NinjaTrader import" in j["needs_import"]["message"]
    assert j["needs_import"]["start"].startswith("2025-03-05T10:00")  # first missing minute, ET
    first = dt.datetime.fromtimestamp(int(fake.chart_requests[0]["period1"]), UTC)
    assert late - first <= dt.timedelta(days=30)  # only asks for what Yahoo still has
    assert SPLIT < first


def test_first_update_on_an_empty_folder_fetches_yahoos_whole_reach_in_chunks(settings):
    late = dt.datetime(2025, 4, 4, 21, 0, tzinfo=UTC)  # Friday 17:00 ET
    served = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 4, 4), seed=6, source="yahoo")
    fake = FakeYahooSession({"1m": served})
    res = update(settings, "ES1", session=fake, now=late, no_derived=True)
    j = res.to_json()
    assert len(fake.chart_requests) == 5 and j["quarantined"] == 0 and j["needs_import"] is None
    first = late.replace(second=0) - dt.timedelta(days=29)
    expect = served.filter(pl.col("datetime").is_between(first, late, closed="left"))
    assert Store(settings).read("ES1", "1m").equals(expect)


def test_weekly_update_writes_the_1w_file(settings):
    d = daily(market()).with_columns(pl.lit("yahoo").alias("source"))
    week = d.head(1).with_columns(pl.col("high").max(), pl.col("low").min(), pl.lit(d["close"][-1]).alias("close"),
                                  pl.lit(d["volume"].sum()).alias("volume"))
    res = update(settings, "ES1", interval="1wk", session=FakeYahooSession({"1wk": week}), now=NOW)
    assert res.written and res.to_json()["start"] == "2025-03-03"
    assert Store(settings).read("ES1", "1w").drop("source").equals(week.drop("source"))
