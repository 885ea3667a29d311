"""Range tools: export round trip (CSV and Parquet), delete-range (backup, journal, confirmation,
nothing changed on refusal), chart data (aggregation cap, source, generation, gaps)."""

from __future__ import annotations

import datetime as dt
import io
import json

import polars as pl
import pytest

from datamgr.cli.main import main
from datamgr.core.errors import InputError
from datamgr.ops.demo import make_demo_bars
from datamgr.ops.ranges import (
    ConfirmationRequired,
    chart_data,
    delete_range,
    export_bytes,
    export_range,
    parse_range,
    plan_delete,
)
from datamgr.store import journal
from datamgr.store.backup import list_backups, verify_backups
from datamgr.store.store import table_to_bars
from tests.conftest import folder_hash


@pytest.fixture
def master(settings, store, week_bars):
    store.write("ES1", "1m", week_bars, operation="import", backup=False)
    return week_bars


def test_parse_range_takes_whole_et_days_inclusive():
    lo, hi = parse_range("2025-03-04", "2025-03-05")
    assert lo == dt.datetime(2025, 3, 4, 5, 0, tzinfo=dt.UTC)
    assert hi == dt.datetime(2025, 3, 6, 4, 59, 59, 999999, tzinfo=dt.UTC)
    with pytest.raises(InputError, match="start='2025-13-01'") as e:
        parse_range("2025-13-01", "2025-03-05")
    assert e.value.field == "start"
    with pytest.raises(InputError, match="before"):
        parse_range("2025-03-05", "2025-03-04")


def test_export_parquet_round_trips_exactly_the_bars_of_the_range(settings, master, tmp_path):
    res = export_range(settings, "ES1", "1m", "2025-03-04", "2025-03-05", "parquet", tmp_path / "out" / "x.parquet")
    back = table_to_bars(pl.read_parquet(res.path).to_arrow())
    lo, hi = parse_range("2025-03-04", "2025-03-05")
    want = master.filter(pl.col("datetime").is_between(lo, hi))
    assert res.rows == want.height > 2000
    assert back.select(want.columns).equals(want)
    assert res.start.startswith("2025-03-04T00:00:00-05:00") and res.end.endswith("-05:00")


def test_export_csv_round_trips_with_et_offsets(settings, master):
    data, res = export_bytes(settings, "ES1", "1m", "2025-03-04", "2025-03-04", "csv")
    back = pl.read_csv(io.BytesIO(data))
    assert back.columns == ["datetime", "open", "high", "low", "close", "volume", "source"]
    assert back["datetime"][0] == "2025-03-04T00:00:00-05:00"
    t = back["datetime"].str.to_datetime("%Y-%m-%dT%H:%M:%S%:z").dt.convert_time_zone("UTC")
    lo, hi = parse_range("2025-03-04", "2025-03-04")
    want = master.filter(pl.col("datetime").is_between(lo, hi))
    assert t.dt.cast_time_unit("us").to_list() == want["datetime"].to_list()
    assert back["close"].to_list() == want["close"].to_list() and back["volume"].to_list() == want["volume"].to_list()


def test_export_refuses_the_data_folder_and_an_existing_file(settings, master, tmp_path):
    before = folder_hash(settings.data_dir)
    with pytest.raises(InputError, match="inside the data folder"):
        export_range(settings, "ES1", "1m", "2025-03-04", "2025-03-04", "csv", settings.data_dir / "x.csv")
    out = tmp_path / "exists.csv"
    out.write_text("keep me")
    with pytest.raises(InputError, match="already exists"):
        export_range(settings, "ES1", "1m", "2025-03-04", "2025-03-04", "csv", out)
    assert out.read_text() == "keep me" and folder_hash(settings.data_dir) == before


def test_delete_range_needs_confirmation_and_changes_nothing_without_it(settings, master):
    before = folder_hash(settings.data_dir)
    with pytest.raises(ConfirmationRequired, match="confirm=True"):
        delete_range(settings, "ES1", "2025-03-05", "2025-03-05")
    plan = delete_range(settings, "ES1", "2025-03-05", "2025-03-05", dry_run=True)
    assert plan.deleted > 1000 and not plan.written and plan.size_after < plan.size_before
    assert folder_hash(settings.data_dir) == before


def test_delete_range_backs_up_journals_and_removes_only_the_range(settings, store, master):
    res = delete_range(settings, "ES1", "2025-03-05", "2025-03-05", confirm=True, no_derived=True)
    lo, hi = parse_range("2025-03-05", "2025-03-05")
    after = store.read("ES1", "1m")
    assert after.filter(pl.col("datetime").is_between(lo, hi)).height == 0
    assert after.equals(master.filter(~pl.col("datetime").is_between(lo, hi)))
    assert res.deleted == master.height - after.height and res.written
    # backup: the previous content, verified
    [rec] = list_backups(settings)
    assert rec.path == res.backup and rec.rows == master.height and all(r.ok for r in verify_backups(settings))
    assert table_to_bars(pl.read_parquet(settings.data_dir / rec.path).to_arrow()).equals(master)
    # journal: the operation with its counts and range
    entry = journal.read(settings)[0]
    assert entry["op"] == "delete-range" and entry["backup"] == rec.path
    assert entry["rows_before"] == master.height and entry["rows_after"] == after.height
    assert entry["details"]["deleted"] == res.deleted and entry["details"]["from"].startswith("2025-03-05T00:00")


def test_the_pages_cheap_plan_counts_like_the_exact_dry_run(settings, master):
    exact = delete_range(settings, "ES1", "2025-03-05", "2025-03-06", dry_run=True)
    cheap = plan_delete(settings, "ES1", "2025-03-05", "2025-03-06")
    same = ("deleted", "rows_before", "rows_after", "first_deleted", "last_deleted", "size_before")
    assert [getattr(cheap, k) for k in same] == [getattr(exact, k) for k in same]
    assert abs(cheap.size_after - exact.size_after) < 0.2 * exact.size_before


def test_delete_range_refuses_an_upsampled_file(settings, master):
    with pytest.raises(InputError, match="rebuilt from the 1m master"):
        delete_range(settings, "ES1", "2025-03-05", "2025-03-05", timeframe="5m", confirm=True)


def test_cli_delete_range_without_yes_exits_1_and_changes_nothing(settings, master, capsys):
    before = folder_hash(settings.data_dir)
    rc = main(["--data-dir", str(settings.data_dir), "--json", "delete-range", "ES1", "--from", "2025-03-05",
               "--to", "2025-03-05"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1 and out["confirmed"] is False and out["deleted"] > 0 and out["size_change"] < 0
    assert folder_hash(settings.data_dir) == before
    rc = main(["--data-dir", str(settings.data_dir), "delete-range", "ES1", "--from", "2025-03-05", "--to",
               "2025-03-05", "--dry-run"])
    text = capsys.readouterr().out
    assert rc == 0 and "size" in text and "->" in text and "dry run" in text
    assert folder_hash(settings.data_dir) == before
    rc = main(["--data-dir", str(settings.data_dir), "--json", "delete-range", "ES1", "--from", "2025-03-05",
               "--to", "2025-03-05", "--yes", "--no-derived"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["confirmed"] and out["backup"].startswith("backups/ES1_1m.")


def test_cli_export_names_flags_in_errors_and_round_trips(settings, master, tmp_path, capsys):
    rc = main(["--data-dir", str(settings.data_dir), "export", "ES1", "1m", "--from", "2025-03-x", "--to",
               "2025-03-05"])
    assert rc == 2 and "--from '2025-03-x'" in capsys.readouterr().err
    out = tmp_path / "es.parquet"
    rc = main(["--data-dir", str(settings.data_dir), "--json", "export", "ES1", "1m", "--from", "2025-03-02",
               "--to", "2025-03-07", "--format", "parquet", "--out", str(out)])
    res = json.loads(capsys.readouterr().out)
    assert rc == 0 and res["rows"] == master.height
    assert table_to_bars(pl.read_parquet(out).to_arrow()).equals(master)


def test_chart_data_caps_candles_keeps_source_generation_and_finds_the_gap(settings, store):
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 14), seed=2)
    hole = (pl.col("datetime") >= dt.datetime(2025, 3, 5, 15, 0, tzinfo=dt.UTC)) & (
        pl.col("datetime") < dt.datetime(2025, 3, 5, 15, 30, tzinfo=dt.UTC))
    store.write("ES1", "1m", bars.filter(~hole), operation="import", backup=False)
    small = chart_data(settings, "ES1", "1m", dt.date(2025, 3, 5), dt.date(2025, 3, 5))
    assert small.candle == "1m" and not small.aggregated and small.bars.height == small.stored_rows
    assert set(small.bars["source"]) == {"demo"} and small.generation == 1
    holes = [g for g in small.gaps if g["cls"] == "hole"]
    assert [(g["start"], g["missing"]) for g in holes] == [(dt.datetime(2025, 3, 5, 15, 0, tzinfo=dt.UTC), 30)]
    big = chart_data(settings, "ES1", "1m", dt.date(2025, 3, 3), dt.date(2025, 3, 14))
    assert big.stored_rows > 3000 and big.bars.height <= 3000 and big.aggregated
    assert big.candle == "10m"  # 13,770 bars: 5m would be 2,754 candles, within the 10 % edge margin of 3,000
    stored = store.read("ES1", "1m").filter(pl.col("datetime").dt.date() >= dt.date(2025, 3, 2))
    assert big.bars["volume"].sum() == stored["volume"].sum()  # aggregation loses no volume
