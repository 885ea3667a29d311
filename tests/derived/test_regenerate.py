"""The regenerate orchestrator on a real store: determinism, incremental == full, lineage,
staleness, failure handling and the CLI (SPEC 8, 13)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from datamgr.core.config import Settings
from datamgr.derived.regenerate import STEPS, regenerate, stale_outputs
from datamgr.ops.demo import default_gaps, make_demo_bars
from tests.derived.helpers import json_outputs, load, parquet_hashes

ROOT = Path(__file__).resolve().parents[2]
START, END = dt.date(2024, 1, 2), dt.date(2024, 3, 28)


@pytest.fixture(scope="module")
def master() -> pl.DataFrame:
    return make_demo_bars(START, END, gaps=default_gaps(START, END))


def cut(bars: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return bars.filter(pl.col("datetime") < dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def test_regenerate_writes_every_output_with_lineage_and_the_spec_shapes(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and [s.step for s in rep.steps] == list(STEPS)
    assert {Path(o.path).name for o in rep.outputs} >= {"ES1_5m.parquet", "ES1_4h.parquet", "ES1_profiler.json",
                                                        "ES1_daily_hod_lod.json", "ES1_level_touches.json", "index.json"}
    lineage = dstore.lineage("ES1", "1m")
    five = dstore.read("ES1", "5m")
    assert five["bars"].sum() == master.height and five["bars"].dtype == pl.Int32
    assert set(five["source"]) == {"upsampled"}
    assert dstore.read_meta("ES1", "5m").built_from["generation"] == lineage["generation"]
    prof = load(dsettings.data_dir / "ES1_profiler.json")
    assert list(prof) == ["meta", "sessions", "windows", "days", "summary"]
    assert prof["meta"]["built_from"] == lineage and prof["sessions"] == ["asia", "london", "ny"]
    assert set(prof["summary"]["ny"]) >= {"days", "sets_day_high_pct", "sets_day_low_pct", "range_p25",
                                          "range_p50", "range_p75", "high_time_hist", "low_time_hist"}
    hod = load(dsettings.data_dir / "ES1_daily_hod_lod.json")
    assert hod["days"][0]["high_time"].endswith("-05:00") and len(hod["days"]) == rep.steps[1].days
    lev = load(dsettings.data_dir / "ES1_level_touches.json")
    assert set(lev["days"][3]["levels"]) == {"pdh", "pdl", "pdc", "onh", "onl", "rth_open"}
    idx = load(dsettings.data_dir / "web" / "ES1" / "index.json")
    one_min = [c for c in idx["chunks"] if c["timeframe"] == "1m"]
    assert [c["period"] for c in one_min] == ["2024-01", "2024-02", "2024-03"]
    assert sum(c["rows"] for c in one_min) == master.height
    for c in idx["chunks"]:
        data = (dsettings.data_dir / "web" / "ES1" / c["file"]).read_bytes()
        assert len(data) == c["bytes"]
        chunk = json.loads(data)
        assert len(chunk["t"]) == len(chunk["c"]) == c["rows"]
    assert stale_outputs(dsettings, "ES1") == []


def test_two_full_rebuilds_are_byte_identical_apart_from_built_at(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1", full=True)
    first, hashes = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == first and parquet_hashes(dstore) == hashes
    assert len(first) > 10


def test_incremental_after_a_one_week_import_recomputes_only_those_days_and_equals_a_full_rebuild(
        dsettings, dstore, master):
    dstore.write("ES1", "1m", cut(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    changed = master.with_columns(  # the week's import also corrects one older bar
        pl.when(pl.col("datetime") == dt.datetime(2024, 2, 6, 15, 0, tzinfo=dt.UTC))
        .then(pl.col("high") + 10).otherwise(pl.col("high")).alias("high"))
    dstore.write("ES1", "1m", changed, operation="import")
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and {s.mode for s in rep.steps} == {"incremental"}
    assert rep.changed_days == 7                     # 2024-02-06 + five new days + the cut day
    assert rep.steps[0].days == 7 and rep.steps[2].days <= 9
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    full = regenerate(dsettings, "ES1", full=True)
    assert {s.mode for s in full.steps} == {"full"}
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash


def test_import_makes_outputs_stale_and_regenerate_makes_them_fresh(dsettings, dstore, master):
    dstore.write("ES1", "1m", cut(master, dt.date(2024, 3, 1)), operation="import")
    assert {s.reason for s in stale_outputs(dsettings, "ES1")} == {"missing"}
    regenerate(dsettings, "ES1")
    assert stale_outputs(dsettings, "ES1") == []
    dstore.write("ES1", "1m", master, operation="import")
    stale = stale_outputs(dsettings, "ES1")
    assert len(stale) == 8 and {s.reason for s in stale} == {"lineage"}
    assert any(s.message.startswith("Profiler data is older than Parquet data") for s in stale)
    rep = regenerate(dsettings, "ES1")
    assert len(rep.stale_before) == 8 and stale_outputs(dsettings, "ES1") == []


def test_legacy_outputs_without_lineage_are_stale_by_mtime(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    legacy = dsettings.data_dir / "ES1_profiler.json"
    legacy.write_text('{"days": []}')
    old = dstore.read_meta("ES1", "1m").mtime.timestamp() - 3600
    os.utime(legacy, (old, old))
    stale = stale_outputs(dsettings, "ES1")
    assert [(s.step, s.reason, s.message) for s in stale] == [
        ("profiler", "legacy-mtime", "Profiler data is older than Parquet data")]


def test_changed_session_windows_make_the_profiler_stale_and_rebuild_in_full(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    toml = dsettings.data_dir.parent / "datamgr.toml"
    toml.write_text('[instruments.ES1]\nsessions = { asia = ["18:00", "02:00"], europe = ["02:00", "09:30"], '
                    'rth = ["09:30", "16:15"] }\n')
    other = Settings.load(data_dir=dsettings.data_dir, config=toml, env={})
    assert {s.reason for s in stale_outputs(other, "ES1")} == {"params"}
    rep = regenerate(other, "ES1", steps=["profiler"])
    assert rep.steps[0].mode == "full"
    assert load(dsettings.data_dir / "ES1_profiler.json")["sessions"] == ["asia", "europe", "rth"]


def test_a_failing_step_stops_the_run_and_leaves_earlier_outputs_intact(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    (dsettings.data_dir / "ES1_profiler.json").mkdir()   # the profiler output cannot be written
    rep = regenerate(dsettings, "ES1")
    assert not rep.ok and rep.failed_step == "profiler" and "IsADirectoryError" in rep.error
    assert [s.step for s in rep.steps] == ["upsample", "hod_lod", "profiler"]
    assert (dsettings.data_dir / "ES1_daily_hod_lod.json").is_file()
    assert dstore.read("ES1", "1h").height > 0
    assert not (dsettings.data_dir / "ES1_level_touches.json").exists()
    assert not (dsettings.data_dir / "web").exists()


def test_regenerate_without_a_master_does_nothing(dsettings):
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and rep.steps == [] and stale_outputs(dsettings, "ES1") == []
    assert not (dsettings.data_dir / "ES1_5m.parquet").exists()


def test_sop_script_prints_the_spec_json_and_exits_0(dsettings, dstore, master):
    dstore.write("ES1", "1m", cut(master, dt.date(2024, 1, 20)), operation="import")
    env = {**os.environ, "DATAMGR_DATA_DIR": str(dsettings.data_dir)}
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "regenerate_derived.py"), "ES1", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert {"outputs", "stale_before"} <= set(payload)
    assert {"path", "rows", "seconds"} <= set(payload["outputs"][0])
    assert len(payload["stale_before"]) == 8
    dry = subprocess.run([sys.executable, "-m", "datamgr", "regenerate", "ES1", "--dry-run", "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)
    assert dry.returncode == 0 and json.loads(dry.stdout)["stale_before"] == []


def test_cli_rejects_an_unknown_step_with_exit_code_2(dsettings):
    out = subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(dsettings.data_dir), "regenerate",
                          "ES1", "--steps", "bogus"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and "bogus" in out.stderr


def test_daily_settlements_feed_pdc_and_a_changed_daily_file_makes_levels_stale(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    days = [dt.date(2024, 3, d) for d in (4, 5, 6, 7, 8)]
    daily = pl.DataFrame({
        "datetime": [dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC) for d in days],
        "open": 5000.0, "high": 5100.0, "low": 4900.0, "close": [5001.25, 5002.5, 5003.75, 5004.0, 5005.25],
        "volume": 1000, "source": "yahoo"})
    dstore.write("ES1", "1d", daily, operation="update")
    regenerate(dsettings, "ES1")
    lev = {d["date"]: d["levels"] for d in load(dsettings.data_dir / "ES1_level_touches.json")["days"]}
    assert lev["2024-03-05"]["pdc"]["price"] == 5001.25 and lev["2024-03-05"]["pdc"]["source"] == "1d"
    assert lev["2024-03-12"]["pdc"]["source"] == "1m"   # 03-11 is not in the daily file
    dstore.write("ES1", "1d", daily.with_columns(pl.col("close") + 1), operation="update")
    assert [(s.step, s.reason) for s in stale_outputs(dsettings, "ES1")] == [("levels", "daily")]
    rep = regenerate(dsettings, "ES1", steps=["levels"])
    assert rep.steps[0].mode == "full"
    lev = {d["date"]: d["levels"] for d in load(dsettings.data_dir / "ES1_level_touches.json")["days"]}
    assert lev["2024-03-05"]["pdc"]["price"] == 5002.25
    assert stale_outputs(dsettings, "ES1") == []


def test_incremental_after_restoring_a_shorter_master_equals_a_full_rebuild(dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    shorter = master.filter((pl.col("datetime") >= dt.datetime(2024, 1, 20, tzinfo=dt.UTC))
                            & (pl.col("datetime") < dt.datetime(2024, 3, 10, tzinfo=dt.UTC)))
    dstore.write("ES1", "1m", shorter, operation="restore")
    rep = regenerate(dsettings, "ES1")
    assert {s.mode for s in rep.steps} == {"incremental"} and rep.changed_days > 20
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    jan = [c for c in load(dsettings.data_dir / "web" / "ES1" / "index.json")["chunks"]
           if c["timeframe"] == "1m" and c["period"] == "2024-01"][0]
    assert jan["start"] == "2024-01-21T18:00:00-05:00"
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash
    assert dstore.read("ES1", "5m")["datetime"].min() >= dt.datetime(2024, 1, 20, tzinfo=dt.UTC)


def test_regenerating_fresh_outputs_writes_nothing(dsettings, dstore, master):
    from tests.conftest import folder_hash

    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    before = folder_hash(dsettings.data_dir)
    rep = regenerate(dsettings, "ES1")
    assert {s.mode for s in rep.steps} == {"unchanged"} and not any(o.written for o in rep.outputs)
    assert folder_hash(dsettings.data_dir) == before
