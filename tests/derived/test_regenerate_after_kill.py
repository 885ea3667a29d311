"""Issue 11 (Low): a ``regenerate`` killed with SIGKILL leaves some derived outputs following the
new master and others stale; the next import, update or demo rebuilds every stale output, not only
the days it touched, and the result equals a fresh full regeneration of the same master.

A kill counts as landing mid-regenerate when it left the outputs mixed (some already follow the
master, some do not) or a temp file behind: the loop runs until several kills did."""

from __future__ import annotations

import datetime as dt
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from datamgr.core.config import Settings
from datamgr.derived import lineage as lin
from datamgr.derived.regenerate import regenerate
from datamgr.ops.demo import default_gaps, make_demo_bars, write_demo
from datamgr.ops.import_export import import_export
from datamgr.ops.update import update
from datamgr.store.atomic import TMP_MARK
from datamgr.store.store import Store
from tests.derived.helpers import json_outputs, parquet_hashes
from tests.ingest.nt_builders import render_fast

ROOT = Path(__file__).resolve().parents[2]
LA = "America/Los_Angeles"
START, END = dt.date(2024, 1, 2), dt.date(2024, 3, 28)
MIN_MID = 3


def before(bars: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return bars.filter(pl.col("datetime") < dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if TMP_MARK in p.name]


def same_as_a_fresh_full_regenerate(settings: Settings, scratch: Path) -> None:
    """Derived outputs of ``settings`` equal a full regenerate of a copy of its master."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    fresh = Settings.load(data_dir=scratch, env={})
    shutil.copy2(settings.bar_path("ES1", "1m"), fresh.bar_path("ES1", "1m"))  # same generation and hash
    assert regenerate(fresh, "ES1", full=True).ok
    assert lin.stale_outputs(settings, "ES1") == []
    assert parquet_hashes(Store(settings)) == parquet_hashes(Store(fresh))
    got, want = json_outputs(settings.data_dir), json_outputs(scratch)
    assert got.keys() == want.keys()
    assert [k for k in want if got[k] != want[k]] == []


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return make_demo_bars(START, END, gaps=default_gaps(START, END))


@pytest.fixture
def template(tmp_path, bars) -> Path:
    """A folder whose derived data followed an older master; the master then grew (``--no-derived``)."""
    d = tmp_path / "template"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    Store(s).write("ES1", "1m", before(bars, dt.date(2024, 3, 1)), operation="import")
    assert regenerate(s, "ES1").ok
    Store(s).write("ES1", "1m", before(bars, dt.date(2024, 3, 20)), operation="import")
    return d


def kill_regenerate(d: Path, rng: random.Random, window: float) -> None:
    """Start ``regenerate ES1 --full`` on ``d`` and SIGKILL it a random moment after its first write."""
    probe = d / "ES1_5m.parquet"
    mtime = probe.stat().st_mtime_ns if probe.exists() else None
    proc = subprocess.Popen([sys.executable, "-m", "datamgr", "--data-dir", str(d), "regenerate", "ES1", "--full"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    end = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < end:
        if (probe.exists() and probe.stat().st_mtime_ns != mtime) or temps(d):
            break
        time.sleep(0.001)
    time.sleep(rng.uniform(0, window))
    proc.send_signal(signal.SIGKILL)  # a no-op when it already finished
    proc.wait()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_the_import_after_a_killed_regenerate_rebuilds_every_stale_output(tmp_path, template, bars):
    # how long a full regenerate writes for: the window to strike in
    timing = tmp_path / "timing"
    shutil.copytree(template, timing)
    t0 = time.perf_counter()
    assert regenerate(Settings.load(data_dir=timing, env={}), "ES1", full=True).ok
    window = time.perf_counter() - t0
    same = render_fast(before(bars, dt.date(2024, 3, 20)).tail(3000), LA)  # bars the master holds already
    more = render_fast(before(bars, dt.date(2024, 3, 23)).tail(6000), LA)  # three more days
    rng = random.Random(11)
    kills = mid = 0
    while kills < 4 or (mid < MIN_MID and kills < 24):
        d = tmp_path / f"run{kills}"
        shutil.copytree(template, d)
        s = Settings.load(data_dir=d, env={})
        kill_regenerate(d, rng, window)
        kills += 1
        stale = lin.stale_outputs(s, "ES1")
        landed = 0 < len(stale) < len(lin.output_records(s, "ES1")) or bool(temps(d))
        mid += landed
        export = same if kills % 2 else more
        res = import_export(s, "ES1", export, "ES 03-24.Last.txt", tz=LA)
        assert res.derived_error is None
        assert res.written == (export is more)
        assert temps(d) == []
        same_as_a_fresh_full_regenerate(s, tmp_path / "fresh")
        shutil.rmtree(d)
    print(f"regenerate kill loop: {kills} kills, {mid} landed mid-regenerate")  # shown with -s
    assert mid >= MIN_MID, f"only {mid} of {kills} kills landed mid-regenerate: too few to prove anything"


def stale_by_a_killed_run(template: Path, tmp_path: Path) -> Settings:
    """A copy of the template whose regenerate was killed after its first write (outputs mixed)."""
    rng = random.Random(3)
    for i in range(20):
        d = tmp_path / f"killed{i}"
        shutil.copytree(template, d)
        s = Settings.load(data_dir=d, env={})
        kill_regenerate(d, rng, 0.05)
        if lin.stale_outputs(s, "ES1"):
            return s
    pytest.fail("no kill left stale outputs in 20 tries")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_an_update_with_nothing_new_rebuilds_what_a_killed_regenerate_left_stale(tmp_path, template):
    s = stale_by_a_killed_run(template, tmp_path)
    res = update(s, "ES1", bars=Store(s).read("ES1", "1m").tail(100).drop("source"), origin="file",
                 now=dt.datetime(2024, 3, 28, tzinfo=dt.UTC))
    assert not res.written and res.derived_error is None
    same_as_a_fresh_full_regenerate(s, tmp_path / "fresh")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_demo_over_its_own_demo_master_rebuilds_what_a_killed_regenerate_left_stale(tmp_path):
    d = tmp_path / "demo"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    assert write_demo(s, "ES1", months=2, end=dt.date(2024, 3, 28), derived=False).written
    kill_regenerate(d, random.Random(5), 0.05)  # the first regenerate of the demo master, killed
    assert lin.stale_outputs(s, "ES1")
    again = write_demo(s, "ES1", months=2, end=dt.date(2024, 3, 28))
    assert not again.written  # the demo master stays; its derived data is brought up to it
    same_as_a_fresh_full_regenerate(s, tmp_path / "fresh")
