"""``status``, ``journal`` and ``backup list`` start without polars, pandas or the calendar library
(issue 13): each command is run in a fresh interpreter that reports what it imported."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from datamgr.core.config import Settings
from datamgr.ops.demo import make_demo_bars
from datamgr.store.store import Store

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("polars", "pandas", "pandas_market_calendars")
PROBE = f"""
import contextlib, io, json, sys
from datamgr.cli.main import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({{"code": code, "heavy": [m for m in {HEAVY!r} if m in sys.modules], "out": out.getvalue()}}))
"""


def run(*argv: str) -> dict:
    res = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=REPO,
                         check=True, timeout=300)
    return json.loads(res.stdout.splitlines()[-1])


@pytest.fixture
def folder(tmp_path):
    s = Settings.load(data_dir=tmp_path, env={})
    store = Store(s)
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6)), operation="test")
    store.write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 13)), operation="test")
    return tmp_path


def test_status_journal_and_backup_list_import_no_heavy_library(folder):
    cold = run("--data-dir", str(folder), "status", "--json")  # builds the session cache
    assert cold["code"] == 0
    assert list((folder / ".cache").glob("sessions-*.parquet"))
    warm = run("--data-dir", str(folder), "status", "--json")
    assert warm["heavy"] == [] and warm["code"] == 0
    assert json.loads(warm["out"]) == json.loads(cold["out"])  # same answer from the cache
    master = next(f for f in json.loads(warm["out"])["files"] if f["name"] == "ES1_1m.parquet")
    assert master["coverage"] == 1.0 and master["rows"] > 0
    for argv in (("journal",), ("backup", "list"), ("journal", "--json"), ("backup", "list", "--json")):
        res = run("--data-dir", str(folder), *argv)
        assert res["code"] == 0 and res["heavy"] == [], argv
    assert "ES1_1m" in run("--data-dir", str(folder), "backup", "list")["out"]


def test_a_command_that_needs_polars_still_gets_it(folder):
    res = run("--data-dir", str(folder), "health", "ES1", "--json")
    assert "polars" in res["heavy"]
    assert json.loads(res["out"])["ticker"] == "ES1"


def test_the_cli_choices_mirror_the_library():
    from datamgr.cli import delete_range, export
    from datamgr.ops import ranges

    assert delete_range.DELETABLE == ranges.DELETABLE and export.FORMATS == ranges.FORMATS
