"""Maintenance holds the write lock and never half-does anything (issue 11.5, 11.6).

A restore applies the diff it showed or nothing; prune waits for (or is refused by) a writer;
a cloud copy that fails midway leaves no truncated file under its real name; demo never writes
over a master it cannot read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import shutil
import subprocess
import sys

import polars as pl
import pytest

from datamgr.cli.main import main
from datamgr.core.errors import LockedError, StoreError
from datamgr.ops.cloud_backup import cloud_backup
from datamgr.ops.demo import write_demo
from datamgr.ops.restore import plan_restore, prune_backups, restore
from datamgr.store.backup import list_backups
from tests.conftest import REPO, folder_hash


def test_a_restore_is_refused_when_the_master_changed_after_its_diff_was_shown(store, settings, week_bars):
    a = week_bars.head(2000)
    store.write("ES1", "1m", a, operation="test")
    store.write("ES1", "1m", week_bars.head(3000), operation="test")
    [rec] = list_backups(settings)
    plan = plan_restore(settings, rec.path)
    assert (plan.only_in_current, plan.current_generation) == (1000, 2)
    store.write("ES1", "1m", week_bars, operation="import")  # an import lands meanwhile
    before = folder_hash(settings.data_dir)
    with pytest.raises(StoreError, match=r"changed since the plan was made \(generation 2 -> 3\)"):
        restore(settings, rec.path, expect_generation=plan.current_generation)
    assert folder_hash(settings.data_dir) == before
    assert store.read("ES1", "1m").height == week_bars.height
    res = restore(settings, rec.path, expect_generation=plan_restore(settings, rec.path).current_generation)
    assert res.written and store.read("ES1", "1m").equals(a)


@pytest.fixture
def lock_holder(settings):
    """``lock_holder()`` starts another process holding the folder's write lock until the test ends."""
    procs = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, str(REPO / "tests" / "workers" / "hold_lock.py"), settings.data_dir],
                             cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "locked"
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stdin.close()
        p.wait(10)


def test_prune_waits_for_the_lock_and_is_refused_while_a_writer_holds_it(store, settings, week_bars, lock_holder):
    for i in range(4):
        store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + i), operation="test")
    lock_holder()
    before = folder_hash(settings.data_dir)
    quick = dataclasses.replace(settings, lock_timeout=0.3)
    with pytest.raises(LockedError):
        prune_backups(quick, apply=True)
    assert folder_hash(settings.data_dir) == before


def test_backup_prune_yes_exits_3_while_another_process_writes(store, settings, week_bars, lock_holder, capsys):
    store.write("ES1", "1m", week_bars, operation="test")
    store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + 1), operation="test")
    lock_holder()
    settings_file = settings.data_dir / "datamgr.toml"
    settings_file.write_text("lock_timeout = 0.3\n")
    code = main(["--data-dir", str(settings.data_dir), "--config", str(settings_file), "backup", "prune", "--yes"])
    assert code == 3


def test_a_cloud_copy_that_fails_midway_leaves_no_truncated_file(store, settings, week_bars, tmp_path, monkeypatch):
    store.write("ES1", "1m", week_bars, operation="test")
    drive = tmp_path / "gdrive"
    drive.mkdir()
    real = shutil.copyfile

    def disk_full_halfway(src, dst, **kw):  # stdlib fault injection: half the bytes, then ENOSPC
        data = open(src, "rb").read()
        with open(dst, "wb") as f:
            f.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil, "copyfile", disk_full_halfway)
    [res] = cloud_backup(settings, [drive])
    monkeypatch.setattr(shutil, "copyfile", real)
    assert not res.ok and "No space left" in res.error
    [folder] = list(drive.iterdir())
    assert sorted(p.name for p in folder.iterdir()) == []  # neither a truncated copy nor a temp file


@pytest.mark.parametrize("damage", ["truncated", "zero bytes", "symbolic link"])
def test_demo_never_writes_over_a_master_it_cannot_read(store, settings, week_bars, tmp_path, damage):
    store.write("ES1", "1m", week_bars.with_columns(pl.lit("ninjatrader").alias("source")), operation="test")
    path = settings.bar_path("ES1", "1m")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "zero bytes":
        path.write_bytes(b"")
    else:
        real = tmp_path / "elsewhere.parquet"
        real.write_bytes(data)
        path.unlink()
        path.symlink_to(real)
    before = folder_hash(settings.data_dir)
    res = write_demo(settings, "ES1", months=1, end=dt.date(2025, 3, 7), derived=False)
    assert not res.written and "demo data not written" in res.message
    assert folder_hash(settings.data_dir) == before


def test_prune_of_a_shown_plan_deletes_only_the_copies_it_showed(store, settings, week_bars):
    from datamgr.store.backup import prune_plan

    for i in range(6):
        store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + i), operation="test")
    quick = dataclasses.replace(settings, backup_keep_last=1, backup_keep_daily_days=0)
    shown = prune_plan(quick)
    assert len(shown.delete) >= 2
    shown_one = dataclasses.replace(shown, delete=shown.delete[:1])  # the user saw (and confirmed) one copy
    done = prune_backups(quick, apply=True, plan=shown_one)
    assert [r.path for r in done.delete] == [shown.delete[0].path]
    left = {r.path for r in list_backups(settings)}
    assert shown.delete[0].path not in left and all(r.path in left for r in shown.delete[1:])
