"""The inventory describes every file of a data folder from metadata only."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil

import polars as pl
import pyarrow.parquet as pq
import pytest

from datamgr.core.config import Settings
from datamgr.core.errors import StoreError
from datamgr.health.report import check_health
from datamgr.ops.demo import make_demo_bars
from datamgr.ops.inventory import scan, tickers, to_frame
from datamgr.store.store import Store
from tests.conftest import folder_hash


def by_name(files):
    return {f.name: f for f in files}


def set_mtime(path, when: dt.datetime) -> None:
    ts = when.timestamp()
    os.utime(path, (ts, ts))


@pytest.mark.parametrize("size", ["one bar", "one session", "one week"])
def test_start_end_and_rows_equal_the_truth_for_small_files(store, settings, size):
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7), seed=5)
    bars = {"one bar": bars.head(1), "one session": bars.head(1380), "one week": bars}[size]
    store.write("ES1", "1m", bars, operation="test")
    f = by_name(scan(settings))["ES1_1m.parquet"]
    assert (f.category, f.role, f.ticker, f.timeframe) == ("market", "master", "ES1", "1m")
    assert f.rows == bars.height
    assert f.start == bars["datetime"].min() and f.end == bars["datetime"].max()
    assert f.generation == 1
    assert f.size_bytes == settings.bar_path("ES1", "1m").stat().st_size


def test_start_end_and_rows_equal_the_truth_for_a_multi_row_group_file(big_master):
    settings, bars = big_master
    assert pq.ParquetFile(settings.bar_path("ES1", "1m")).metadata.num_row_groups == 2
    f = by_name(scan(settings))["ES1_1m.parquet"]
    assert f.rows == bars.height
    assert (f.start, f.end) == (bars["datetime"].min(), bars["datetime"].max())
    assert 0.99 <= f.coverage <= 1.0  # demo bars fill every expected minute


def test_coverage_and_the_gap_flag_follow_missing_minutes(store, settings):
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7), seed=5)
    holed = bars.filter((pl.int_range(pl.len()) < 1000) | (pl.int_range(pl.len()) >= 1300))
    store.write("ES1", "1m", holed, operation="test")
    f = by_name(scan(settings))["ES1_1m.parquet"]
    assert f.coverage == round(holed.height / bars.height, 6)
    assert f.holes == 1 and "holes: 1 (see Health)" in f.flags


def test_coverage_excludes_stray_prints_and_equals_the_health_figure(store, settings):
    bars = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7), seed=5)
    holed = bars.filter((pl.int_range(pl.len()) < 1000) | (pl.int_range(pl.len()) >= 1100))
    # 150 stray prints on the Saturday before the first session: rows in the file, never coverage
    sat = pl.datetime_range(dt.datetime(2025, 3, 1, 15, 0, tzinfo=dt.UTC), dt.datetime(2025, 3, 1, 17, 29, tzinfo=dt.UTC),
                            "1m", eager=True).cast(pl.Datetime("us", "UTC"))
    strays = holed.tail(150).with_columns(datetime=sat)
    store.write("ES1", "1m", pl.concat([strays, holed]), operation="test")
    f = by_name(scan(settings))["ES1_1m.parquet"]
    rep = check_health(settings, "ES1")
    assert rep.continuity.outside_session == 150
    assert f.coverage == round(rep.coverage.coverage, 6) == round(holed.height / bars.height, 6)
    assert f.rows > bars.height - 100  # the footer-only estimate would have been fooled


def test_a_flat_legacy_folder_is_classified_and_bookkeeping_is_hidden(settings, week_bars):
    d = settings.data_dir
    legacy = week_bars.drop("source").to_pandas()
    for name in ("ES1_1m.parquet", "ES1_5m.parquet", "NQ1_1d.parquet", "SPY_1w.parquet", "ES1_3m.parquet"):
        legacy.to_parquet(d / name)
    for name in ("ES1_profiler.json", "ES1_daily_hod_lod.json", "NQ1_level_touches.json", "notes.json"):
        (d / name).write_text(json.dumps({"data": [1, 2, 3]}))
    (d / "web" / "ES1" / "1m").mkdir(parents=True)
    (d / "web" / "ES1" / "1m" / "2025-03.json").write_text("[]")
    (d / "readme.txt").write_text("hello")
    (d / "old").mkdir()
    (d / "old" / "x.csv").write_text("a,b\n")
    # datamgr's own bookkeeping: never listed.
    for folder in ("backups", "quarantine", "live"):
        (d / folder).mkdir()
        (d / folder / "x.json").write_text("{}")
    (d / "journal.jsonl").write_text("")
    (d / ".datamgr.lock").write_text("")
    (d / ".ES1_1m.parquet.tmp-1-abcd").write_bytes(b"torn")
    before = folder_hash(d)
    files = by_name(scan(settings))
    assert folder_hash(d) == before  # scanning writes nothing
    cats = {n: (f.category, f.role) for n, f in files.items()}
    assert cats == {
        "ES1_1m.parquet": ("market", "master"),
        "ES1_5m.parquet": ("market", "upsampled"),
        "NQ1_1d.parquet": ("market", "downloaded"),
        "SPY_1w.parquet": ("market", "downloaded"),
        "ES1_profiler.json": ("derived", "analysis"),
        "ES1_daily_hod_lod.json": ("derived", "analysis"),
        "NQ1_level_touches.json": ("derived", "analysis"),
        "web/ES1/": ("derived", "web"),
        "ES1_3m.parquet": ("other", "other"),
        "notes.json": ("other", "other"),
        "readme.txt": ("other", "other"),
        "old/": ("other", "other"),
    }
    assert files["ES1_1m.parquet"].rows == week_bars.height
    assert files["ES1_1m.parquet"].generation is None
    assert "no lineage (legacy file)" in files["ES1_profiler.json"].flags
    assert files["web/ES1/"].rows == 1
    assert tickers(settings) == ["ES1"]
    assert list(to_frame(list(files.values()), settings.display_tz)["file"]) == list(files)


def test_legacy_derived_files_older_than_the_master_are_flagged_stale(settings, week_bars):
    d = settings.data_dir
    week_bars.to_pandas().to_parquet(d / "ES1_1m.parquet")
    (d / "ES1_profiler.json").write_text("{}")
    (d / "ES1_daily_hod_lod.json").write_text("{}")
    week_bars.to_pandas().to_parquet(d / "ES1_5m.parquet")
    now = dt.datetime.now(dt.UTC)
    set_mtime(d / "ES1_1m.parquet", now)
    set_mtime(d / "ES1_profiler.json", now - dt.timedelta(days=2))
    set_mtime(d / "ES1_5m.parquet", now - dt.timedelta(days=2))
    set_mtime(d / "ES1_daily_hod_lod.json", now + dt.timedelta(minutes=1))  # newer: not stale
    files = by_name(scan(settings))
    assert "stale: Profiler data is older than Parquet data" in files["ES1_profiler.json"].flags
    assert any(fl.startswith("stale:") and "older than Parquet data" in fl for fl in files["ES1_5m.parquet"].flags)
    assert not any(fl.startswith("stale") for fl in files["ES1_daily_hod_lod.json"].flags)


def test_derived_files_built_from_an_older_generation_are_flagged_stale(store, settings, week_bars):
    from datamgr.derived.regenerate import regenerate

    d = settings.data_dir
    store.write("ES1", "1m", week_bars, operation="test")
    assert regenerate(settings, "ES1").ok
    files = by_name(scan(settings))
    assert "ES1_profiler.json" in files and "ES1_5m.parquet" in files and "web/ES1/" in files
    assert not any(fl.startswith(("stale", "derived")) for f in files.values() for fl in f.flags)
    # The master moves on: every derived output is now stale, whatever its mtime says.
    store.write("ES1", "1m", week_bars.head(-10), operation="test")
    for name in ("ES1_profiler.json", "ES1_5m.parquet"):
        set_mtime(d / name, dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
    files = by_name(scan(settings))
    assert "stale: Profiler data is older than Parquet data (built from generation 1, master is at generation 2)" \
        in files["ES1_profiler.json"].flags
    for name in ("ES1_5m.parquet", "ES1_daily_hod_lod.json", "ES1_level_touches.json", "web/ES1/"):
        assert any(fl.startswith("stale:") and "generation 1, master is at generation 2" in fl
                   for fl in files[name].flags), name


def test_a_master_without_derived_outputs_says_so(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    master = by_name(scan(settings))["ES1_1m.parquet"]
    assert "derived missing: 8 output(s) (run regenerate)" in master.flags


def test_scan_reads_footers_only_and_survives_corrupt_data_pages(big_master, tmp_path):
    settings, bars = big_master
    d = tmp_path / "data"
    d.mkdir()
    path = d / "ES1_1m.parquet"
    shutil.copyfile(settings.bar_path("ES1", "1m"), path)
    md = pq.ParquetFile(path).metadata
    footer_start = path.stat().st_size - 8 - int.from_bytes(path.read_bytes()[-8:-4], "little")
    with open(path, "r+b") as f:
        for g in range(md.num_row_groups):
            for c in range(md.num_columns):
                col = md.row_group(g).column(c)
                start = col.dictionary_page_offset or col.data_page_offset
                end = start + col.total_compressed_size
                assert end <= footer_start
                # Overwrite a stretch in the middle of every column chunk (page bodies, not the footer).
                mid = (start + end) // 2
                f.seek(mid)
                f.write(b"\xa5" * min(256, (end - start) // 4))
    s = Settings.load(data_dir=d, env={})
    f = by_name(scan(s))["ES1_1m.parquet"]
    assert f.rows == bars.height
    assert (f.start, f.end) == (bars["datetime"].min(), bars["datetime"].max())
    assert not any("unreadable" in fl for fl in f.flags)
    with pytest.raises(StoreError, match="cannot be read"):
        Store(s).read("ES1", "1m")


def test_an_empty_or_missing_folder_has_no_files(tmp_path):
    assert scan(Settings.load(data_dir=tmp_path / "nowhere", env={})) == []
    assert scan(Settings.load(data_dir=tmp_path, env={})) == []


def test_to_json_prints_times_in_eastern_time_with_offsets(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    row = scan(settings)[0].to_json(settings.display_tz)
    assert row["start"] == "2025-03-02T18:00:00-05:00"  # Sunday 18:00 ET open, EST
    assert row["end"].endswith("-05:00")
    assert row["last_updated"][-6:] in ("-05:00", "-04:00")


def test_tickers_come_from_file_names_without_opening_the_files(settings):
    d = settings.data_dir
    (d / "NQ1_1m.parquet").write_bytes(b"not parquet at all")  # would fail any footer read
    (d / "ES1_1m.parquet").write_bytes(b"")
    (d / "ES1_5m.parquet").write_bytes(b"")
    (d / "notes_1m.txt").write_text("x")
    from datamgr.ops.inventory import tickers

    assert tickers(settings) == ["ES1", "NQ1"]
