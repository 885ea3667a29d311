"""Legacy masters and naive times (issue 11.3).

A master written before datamgr has no ``source`` column: its bars are the user's own and outrank
every provider unless ``[merge] precedence`` names ``legacy``. A Yahoo file whose intraday times
carry no UTC offset is refused unless the zone is given.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.core.errors import InputError
from datamgr.ingest.yahoo import read_saved
from datamgr.ops.update import update
from datamgr.store.merge import plan_merge
from tests.conftest import folder_hash

PREC = ("ninjatrader", "tradingview", "smartapi", "yahoo", "upsampled", "demo")


def legacy_master(settings, bars: pl.DataFrame) -> None:
    """A pandas-written master without ``source`` (what a pre-datamgr folder holds)."""
    bars.drop("source").to_pandas().to_parquet(settings.bar_path("ES1", "1m"))


def test_yahoo_bars_never_replace_the_bars_of_a_legacy_master(store, settings, week_bars):
    day = week_bars.head(240)
    legacy_master(settings, day)
    master = store.read("ES1", "1m")
    assert set(master["source"]) == {"legacy"}
    yahoo = day.with_columns(pl.col("close").clip(pl.col("low"), pl.col("high")), pl.col("volume") + 5,
                             pl.lit("yahoo").alias("source"))
    plan = plan_merge(master, yahoo, precedence=PREC)
    assert plan.conflicts == 240 and plan.replaced == 0 and plan.kept == 240
    assert plan.result.equals(master)


def test_a_configured_precedence_can_put_legacy_bars_below_a_provider(store, settings, week_bars):
    day = week_bars.head(60)
    legacy_master(settings, day)
    master = store.read("ES1", "1m")
    yahoo = day.with_columns(pl.col("volume") + 5, pl.lit("yahoo").alias("source"))
    plan = plan_merge(master, yahoo, precedence=(*PREC, "legacy"))
    assert plan.replaced == 60


def test_an_update_over_a_legacy_master_keeps_every_legacy_bar(store, settings, week_bars):
    day = week_bars.filter(pl.col("datetime").dt.date() == dt.date(2025, 3, 4)).head(240)
    legacy_master(settings, day)
    before = store.read("ES1", "1m")
    yahoo = day.with_columns([pl.col(c) + 1.0 for c in ("open", "high", "low", "close")]
                             + [pl.lit("yahoo").alias("source")])
    update(settings, "ES1", bars=yahoo, origin="file", now=dt.datetime(2025, 3, 6, tzinfo=dt.UTC), no_derived=True)
    after = store.read("ES1", "1m")
    assert after.filter(pl.col("datetime").is_in(day["datetime"].implode())).equals(before)


CSV = b"Datetime,Open,High,Low,Close,Volume\n2025-03-04 10:00:00,5000,5001,4999,5000.25,12\n"


def test_a_yahoo_file_with_times_without_offset_is_refused_unless_a_zone_is_given(settings):
    before = folder_hash(settings.data_dir)
    with pytest.raises(InputError, match=r"line 2: field Datetime: .* has no UTC offset.*--tz"):
        read_saved(CSV, "saved.csv", "1m")
    assert folder_hash(settings.data_dir) == before
    bars = read_saved(CSV, "saved.csv", "1m", tz="America/New_York")
    assert bars["datetime"][0] == dt.datetime(2025, 3, 4, 15, 0, tzinfo=dt.UTC)


def test_a_yahoo_file_with_offsets_needs_no_zone():
    bars = read_saved(CSV.replace(b"10:00:00", b"10:00:00-05:00"), "saved.csv", "1m")
    assert bars["datetime"][0] == dt.datetime(2025, 3, 4, 15, 0, tzinfo=dt.UTC)


def test_a_fractional_yahoo_volume_is_reported_not_rounded():
    with pytest.raises(InputError, match=r"line 2: field Volume: .*12\.5.* not a whole number"):
        read_saved(CSV.replace(b",12\n", b",12.5\n").replace(b"10:00:00", b"10:00:00Z"), "saved.csv", "1m")
