"""verify -> plan -> import through the real store and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from datamgr.core.errors import ConfirmationRequired
from datamgr.ops.import_export import import_export, verify_export
from datamgr.store.store import Store
from tests.conftest import folder_hash
from tests.ingest.nt_builders import render_fast, session_bars

LA = "America/Los_Angeles"
ROOT = Path(__file__).resolve().parents[2]
WEEK1 = (dt.date(2025, 1, 7), dt.date(2025, 1, 10))


@pytest.fixture(scope="module")
def week1() -> pl.DataFrame:
    return session_bars("CME Globex Equity", *WEEK1)


def test_dry_run_plans_everything_and_writes_nothing(settings, week1):
    before = folder_hash(settings.data_dir)
    res = import_export(settings, "ES1", render_fast(week1, LA), "ES Monday.csv", dry_run=True)
    j = res.to_json()
    assert j["dry_run"] and not j["written"] and j["new"] == week1.height and j["result_rows"] == week1.height
    assert folder_hash(settings.data_dir) == before


def test_import_into_existing_master_backs_up_and_keeps_higher_precedence_bars(settings, week1):
    store = Store(settings)
    existing = week1.head(3000).with_columns(pl.lit("yahoo").alias("source"),
                                             (pl.col("volume") + 1).alias("volume"))
    store.write("ES1", "1m", existing, operation="seed")
    res = import_export(settings, "ES1", render_fast(week1, LA), "ES Monday.csv", no_derived=True)
    assert res.written and res.write.backup is not None
    assert (settings.data_dir / res.write.backup.path).is_file()
    assert res.plan.conflicts == 3000 and res.plan.replaced == 3000 and res.plan.kept == 0
    out = store.read("ES1", "1m")
    assert out.height == week1.height and out["source"].unique().to_list() == ["ninjatrader"]
    assert out.select(pl.exclude("source")).equals(week1.select(pl.exclude("source")))
    # a yahoo-style re-import of different values does not override ninjatrader bars
    lines = [json.loads(x) for x in settings.journal_path.read_text().splitlines()]
    assert lines[-1]["op"] == "import" and lines[-1]["details"]["replaced"] == 3000


def test_replace_range_forces_incoming_bars_over_a_higher_precedence_source(settings, week1):
    store = Store(settings)
    store.write("ES1", "1m", week1.with_columns(pl.lit("ninjatrader").alias("source")), operation="seed")
    one = session_bars("CME Globex Equity", dt.date(2025, 1, 8), dt.date(2025, 1, 8))["datetime"]
    day = week1.filter(pl.col("datetime").is_in(one.implode()))
    changed = day.with_columns(pl.when(pl.int_range(pl.len()) % 100 == 0).then(pl.col("high") + 1)
                               .otherwise(pl.col("high")).alias("high"))
    n_changed = (changed["high"] != day["high"]).sum()
    data = render_fast(changed, LA)
    before = folder_hash(settings.data_dir)
    with pytest.raises(ConfirmationRequired) as refused:  # more than 1% of the overlap replaced
        import_export(settings, "ES1", data, "fix.txt", no_derived=True)
    assert refused.value.count == n_changed and f"{n_changed:,} existing bar(s)" in str(refused.value)
    assert folder_hash(settings.data_dir) == before
    res = import_export(settings, "ES1", data, "fix.txt", no_derived=True, yes=True)
    assert res.verify.ok and res.plan.conflicts == n_changed
    assert res.plan.replaced == n_changed  # same source: the newer export wins
    # forcing a range: existing bars of that range not in the file are removed, the rest kept
    res2 = import_export(settings, "ES1", render_fast(changed.head(600), LA), "part.txt",
                         replace="2025-01-07..2025-01-08", no_derived=True, yes=True)
    removed = week1.filter(pl.col("datetime").is_between(*res2_range())).height - 600
    assert res2.plan.removed == removed and res2.written
    out = store.read("ES1", "1m")
    assert out.height == week1.height - removed


def res2_range():
    from zoneinfo import ZoneInfo

    et = ZoneInfo("America/New_York")
    utc = dt.UTC
    return (dt.datetime(2025, 1, 7, tzinfo=et).astimezone(utc),
            dt.datetime(2025, 1, 8, 23, 59, 59, 999999, tzinfo=et).astimezone(utc))


def test_verify_reports_overlap_and_the_best_whole_minute_shift(settings, week1):
    Store(settings).write("ES1", "1m", week1, operation="seed")
    shifted = week1.with_columns(pl.col("datetime") + pl.duration(minutes=2))
    rep = verify_export(settings, "ES1", render_fast(shifted, LA), "late.txt")
    assert rep.verdict == "FAIL"
    assert rep.overlap.bars > 0 and rep.overlap.best_shift_minutes == -2
    ok = verify_export(settings, "ES1", render_fast(week1, LA), "ok.txt")
    assert ok.message == "SUCCESS: Data is aligned." and ok.overlap.match_rate == 1.0


def _cli(*args, data_dir):
    return subprocess.run([sys.executable, *args, "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_sop_commands_print_spec_json_and_exit_codes(settings, week1, tmp_path):
    f = tmp_path / "ES Monday.csv"
    f.write_bytes(render_fast(week1, LA))
    v = _cli("scripts/verify_import_alignment.py", str(f), "ES1", "--tz", LA, "--json", data_dir=settings.data_dir)
    assert v.returncode == 0, v.stderr
    vj = json.loads(v.stdout)
    assert vj["verdict"] == "SUCCESS" and vj["message"] == "SUCCESS: Data is aligned."
    assert {"tz", "stamp", "score"} <= set(vj["zone_ranking"][0])
    assert {"bars", "match_rate", "best_shift_minutes", "volume_ratio"} <= set(vj["overlap"])  # fields only added
    wrong = _cli("-m", "datamgr", "verify", str(f), "ES1", "--tz", "America/New_York", data_dir=settings.data_dir)
    assert wrong.returncode == 1 and wrong.stdout.startswith("FAIL:") and LA in wrong.stdout
    imp = _cli("scripts/import_ninjatrader.py", str(f), "ES1", "1m", "--json", data_dir=settings.data_dir)
    assert imp.returncode == 0, imp.stderr
    ij = json.loads(imp.stdout)
    keys = {"rows_read", "rows_parsed", "rejected", "new", "identical", "conflicts", "replaced",
            "outside_session", "result_rows", "start", "end", "backup", "dry_run"}
    assert keys <= set(ij) and ij["new"] == week1.height and ij["start"].endswith("-05:00")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"20250107 150100;1;2;x;1;5\r\n")
    before = folder_hash(settings.data_dir)
    b = _cli("-m", "datamgr", "import", str(bad), "ES1", data_dir=settings.data_dir)
    assert b.returncode == 2 and "bad.txt: line 1" in b.stderr and "'low'" in b.stderr
    assert folder_hash(settings.data_dir) == before
