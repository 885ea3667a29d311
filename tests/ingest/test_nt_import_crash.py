"""Crash safety: ``import`` killed with SIGKILL at random moments leaves the master either exactly
as it was or exactly as the finished import writes it — never broken."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datamgr.core.schema import validate_bars
from datamgr.ops.import_export import import_export
from datamgr.store.atomic import TMP_MARK
from datamgr.store.store import Store, content_sha256
from tests.ingest.nt_builders import render_fast, session_bars

LA = "America/Los_Angeles"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_during_import_leaves_the_master_old_or_new_never_broken(settings, tmp_path):
    store = Store(settings)
    bars = session_bars("CME Globex Equity", dt.date(2025, 1, 6), dt.date(2025, 1, 31))
    old = bars.head(bars.height // 2)
    store.write("ES1", "1m", old, operation="seed")
    master = settings.bar_path("ES1", "1m")
    old_bytes = master.read_bytes()
    export = tmp_path / "ES Month.txt"
    export.write_bytes(render_fast(bars, LA))
    # the content a completed import writes, computed in a scratch folder
    scratch = settings.__class__.load(data_dir=tmp_path / "scratch", env={})
    Store(scratch).write("ES1", "1m", old, operation="seed")
    done = import_export(scratch, "ES1", export.read_bytes(), export.name, no_derived=True)
    new_hash = content_sha256(Store(scratch).read("ES1", "1m"))
    old_hash = content_sha256(old)
    assert done.written and new_hash != old_hash
    t0 = time.monotonic()
    full = subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(tmp_path / "scratch"), "import",
                           str(export), "ES1", "--no-derived"], cwd=ROOT, capture_output=True)
    duration = time.monotonic() - t0
    assert full.returncode == 0
    rng = random.Random(7)
    outcomes = set()
    for _ in range(8):
        master.write_bytes(old_bytes)
        proc = subprocess.Popen([sys.executable, "-m", "datamgr", "--data-dir", str(settings.data_dir), "import",
                                 str(export), "ES1", "--no-derived"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, duration * 1.1))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        now = Store(settings).read("ES1", "1m")
        assert validate_bars(now) == []
        h = content_sha256(now)
        assert h in (old_hash, new_hash)
        outcomes.add("new" if h == new_hash else "old")
    res = import_export(settings, "ES1", export.read_bytes(), export.name, no_derived=True)
    assert content_sha256(Store(settings).read("ES1", "1m")) == new_hash
    assert res.plan.result_rows == bars.height
    assert outcomes  # at least one kill observed
    # the next writer cleaned every orphaned temp file a killed writer left
    assert not [p for p in settings.data_dir.rglob(".*") if TMP_MARK in p.name]
