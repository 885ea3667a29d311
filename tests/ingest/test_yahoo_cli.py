"""``python -m datamgr update``: --from-file, SPEC 13 JSON, exit codes 0 / 1 / 2 / 3."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from datamgr.store.store import Store
from tests.conftest import folder_hash
from tests.ingest.yahoo_builders import SPLIT, plant, yf_csv

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"fetched", "accepted", "quarantined", "new", "identical", "conflicts", "result_rows", "quarantine_file"}


def cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(settings.data_dir), "--json",
                           "update", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_from_file_goes_through_validation_and_merge_and_prints_spec_json(seeded, tmp_path, suffix):
    settings, master, yahoo = seeded
    bad, spots = plant(yahoo)
    f = yf_csv(bad.filter(pl.col("datetime") < pl.lit(SPLIT) + pl.duration(days=2)), tmp_path / f"es{suffix}")
    p = cli(settings, "ES1", "--from-file", str(f), "--no-derived")
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    assert KEYS <= set(j)
    assert j["quarantined"] == 5 and j["accepted"] == j["fetched"] - 5 and j["new"] > 0
    assert Path(j["quarantine_file"]).parent.name == "quarantine"
    assert "auto-update is suspended" in p.stderr and "NinjaTrader import" in p.stderr
    got = Store(settings).read("ES1", "1m")
    assert got.height == j["result_rows"] and got.filter(pl.col("datetime") < SPLIT).equals(master)
    assert not got["datetime"].is_in(list(spots.values())).any() or got.filter(
        pl.col("datetime").is_in(list(spots.values())))["source"].to_list() == ["ninjatrader"]


def test_second_from_file_update_is_identical_and_writes_nothing(seeded, tmp_path):
    settings, _, yahoo = seeded
    f = yf_csv(yahoo.filter(pl.col("datetime") >= SPLIT).head(500), tmp_path / "es.csv")
    assert cli(settings, "ES1", "--from-file", str(f), "--no-derived").returncode == 0
    before = folder_hash(settings.data_dir)
    p = cli(settings, "ES1", "--from-file", str(f), "--no-derived")
    j = json.loads(p.stdout)
    assert p.returncode == 0 and j["new"] == 0 and j["identical"] == 500
    assert folder_hash(settings.data_dir) == before


def test_dry_run_prints_the_plan_and_writes_nothing(seeded, tmp_path):
    settings, _, yahoo = seeded
    f = yf_csv(yahoo.filter(pl.col("datetime") >= SPLIT).head(100), tmp_path / "es.csv")
    before = folder_hash(settings.data_dir)
    p = cli(settings, "ES1", "--from-file", str(f), "--dry-run")
    j = json.loads(p.stdout)
    assert p.returncode == 0 and j["dry_run"] and j["new"] == 100 and j["quarantine_file"] is None
    assert folder_hash(settings.data_dir) == before


def test_all_rejected_exits_1_and_leaves_the_master_alone(seeded, tmp_path):
    settings, _, yahoo = seeded
    off = yahoo.filter(pl.col("datetime") >= SPLIT).head(50).with_columns(
        (pl.col(c) + 0.1).alias(c) for c in ("open", "high", "low", "close"))
    f = yf_csv(off, tmp_path / "es.csv")
    master = (settings.data_dir / "ES1_1m.parquet").read_bytes()
    p = cli(settings, "ES1", "--from-file", str(f))
    assert p.returncode == 1
    j = json.loads(p.stdout)
    assert j["accepted"] == 0 and j["quarantined"] == 50 and j["new"] == 0
    assert (settings.data_dir / "ES1_1m.parquet").read_bytes() == master


def test_bad_file_exits_2_naming_line_and_field(seeded, tmp_path):
    settings, _, yahoo = seeded
    f = yf_csv(yahoo.filter(pl.col("datetime") >= SPLIT).head(5), tmp_path / "es.csv")
    lines = f.read_text().splitlines()
    lines[3] = lines[3].replace(lines[3].split(",")[2], "abc", 1)
    f.write_text("\n".join(lines) + "\n")
    before = folder_hash(settings.data_dir)
    p = cli(settings, "ES1", "--from-file", str(f))
    assert p.returncode == 2
    assert "es.csv: line 4: field High: 'abc' is not a number" in p.stderr
    assert folder_hash(settings.data_dir) == before
    p = cli(settings, "ES1", "--from-file", str(tmp_path / "missing.csv"))
    assert p.returncode == 2 and "file not found" in p.stderr


def test_locked_folder_exits_3(seeded, tmp_path):
    import filelock

    settings, _, yahoo = seeded
    f = yf_csv(yahoo.filter(pl.col("datetime") >= SPLIT).head(5), tmp_path / "es.csv")
    (tmp_path / "datamgr.toml").write_text(f'data_dir = "{settings.data_dir}"\nlock_timeout = 0.2\n')
    with filelock.FileLock(str(settings.lock_path)):
        p = subprocess.run([sys.executable, "-m", "datamgr", "--config", str(tmp_path / "datamgr.toml"), "--json",
                            "update", "ES1", "--from-file", str(f)], cwd=ROOT, capture_output=True, text=True,
                           timeout=120)
    assert p.returncode == 3 and "locked" in p.stderr


def test_real_yahoo_daily_csv_merges_into_the_1d_file_and_an_off_grid_price_is_quarantined(settings, real_data_dir,
                                                                                          tmp_path):
    from datamgr.ingest.yahoo import read_saved, read_saved_path
    from datamgr.ops.update import update

    src = real_data_dir / "spy-2011-yahoofinance.csv"
    res = update(settings, "SPY", interval="1d", bars=read_saved_path(src, "1d"), origin="file")
    j = res.to_json()
    assert j["fetched"] == 252 and j["quarantined"] == 0 and j["new"] == 252
    assert (j["start"], j["end"]) == ("2011-01-03", "2011-12-30")  # labelled by trading date
    got = Store(settings).read("SPY", "1d")
    assert got["close"][-1] == 125.50 and got["volume"][-1] == 95599000  # 2011-12-30, newest line of the file
    text = src.read_text().replace("2011-12-29,125.24,126.25,124.86,126.12", "2011-12-29,125.24,126.25,124.86,126.125")
    again = update(settings, "SPY", interval="1d", bars=read_saved(text.encode(), "edited.csv", "1d"), origin="file")
    k = again.to_json()
    assert k["quarantined"] == 1 and k["rejected"][0]["datetime"] == "2011-12-29"
    assert "off tick grid" in k["rejected"][0]["reason"] and k["identical"] == 251 and not k["written"]
