"""Crash safety: ``import`` killed with SIGKILL at random moments leaves the master either exactly
as it was or exactly as the finished import writes it — never broken.

At least 5 kills must land in the middle of the master's write, proven by the temp file the killed
writer left behind: half the kills wait for that temp file to appear and then strike after a random
part of the write's duration, the other half strike at a random moment of the whole command."""

from __future__ import annotations

import datetime as dt
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
MIN_TORN = 5


def master_temps(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.name.startswith(".ES1_1m.parquet") and TMP_MARK in p.name]


def wait_for_temp(folder: Path, proc: subprocess.Popen, limit: float) -> bool:
    """Poll until the master's temp file exists (the write has begun) or the process ends."""
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        if master_temps(folder):
            return True
        time.sleep(0.0005)
    return False


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
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
    # how long writing the new master takes (temp file open .. replace): the window to strike in
    other = settings.__class__.load(data_dir=tmp_path / "timing", env={})
    t1 = time.monotonic()
    Store(other).write("ES1", "1m", Store(scratch).read("ES1", "1m"), operation="timing", backup=False)
    write_time = time.monotonic() - t1
    rng = random.Random(7)
    outcomes, torn, kills = set(), 0, 0
    deadline = time.monotonic() + 300
    while kills < 8 or (torn < MIN_TORN and kills < 60):
        master.write_bytes(old_bytes)
        for p in master_temps(settings.data_dir):  # what the previous kill left (counted already)
            p.unlink()
        proc = subprocess.Popen([sys.executable, "-m", "datamgr", "--data-dir", str(settings.data_dir), "import",
                                 str(export), "ES1", "--no-derived"], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if kills % 2 == 0 and wait_for_temp(settings.data_dir, proc, duration * 3):
            time.sleep(rng.uniform(0, write_time * 0.8))
        elif kills % 2 == 1:
            time.sleep(rng.uniform(0.3, duration * 1.1))
        proc.send_signal(signal.SIGKILL)  # a no-op when poll() already reaped a finished import
        proc.wait()
        kills += 1
        torn += bool(master_temps(settings.data_dir))
        now = Store(settings).read("ES1", "1m")
        assert validate_bars(now) == []
        h = content_sha256(now)
        assert h in (old_hash, new_hash)
        outcomes.add("new" if h == new_hash else "old")
        assert time.monotonic() < deadline, f"crash loop took too long ({kills} kills, {torn} mid-write)"
    print(f"import crash loop: {kills} kills, {torn} landed mid-write")  # shown with -s
    assert torn >= MIN_TORN, f"only {torn} of {kills} kills landed mid-write: too few to prove anything"
    res = import_export(settings, "ES1", export.read_bytes(), export.name, no_derived=True)
    assert content_sha256(Store(settings).read("ES1", "1m")) == new_hash
    assert res.plan.result_rows == bars.height
    assert "old" in outcomes
    # the next writer cleaned every orphaned temp file a killed writer left
    assert not [p for p in settings.data_dir.rglob(".*") if TMP_MARK in p.name]
