"""Restore, prune and cloud copies: every one verified, none loses data."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from datamgr.core.config import Settings
from datamgr.ops.cloud_backup import cloud_backup
from datamgr.ops.restore import plan_restore, restore
from datamgr.store.backup import list_backups, prune, prune_plan, verify_backups
from datamgr.store.store import Store
from tests.conftest import folder_hash


def _two_generations(store: Store, week_bars: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    a = week_bars.head(2000)
    b = week_bars.head(3000).with_columns(pl.col("volume") + 5)
    store.write("ES1", "1m", a, operation="test")
    store.write("ES1", "1m", b, operation="test")
    return a, b


def test_restore_shows_the_diff_then_brings_back_the_old_content_and_backs_up_the_current(store, week_bars):
    a, b = _two_generations(store, week_bars)
    settings = store.settings
    [rec] = list_backups(settings)
    before = folder_hash(settings.data_dir)
    plan = plan_restore(settings, rec.path)
    assert folder_hash(settings.data_dir) == before  # planning writes nothing
    assert (plan.current_rows, plan.backup_rows) == (3000, 2000)
    assert plan.only_in_current == 1000 and plan.only_in_backup == 0 and plan.changed == 2000
    res = restore(settings, rec.path)
    assert store.read("ES1", "1m").equals(a)
    assert res.backup is not None
    copy = Store(settings).read_meta("ES1", "1m")
    assert copy.generation == 3
    newest = list_backups(settings)[0]
    assert newest.rows == 3000 and newest.reason == "restore"


def test_verify_flags_an_altered_backup(store, week_bars):
    _two_generations(store, week_bars)
    settings = store.settings
    [rec] = list_backups(settings)
    p = settings.data_dir / rec.path
    data = bytearray(p.read_bytes())
    data[100] ^= 0xFF
    p.write_bytes(bytes(data))
    assert [r.ok for r in verify_backups(settings)] == [False]


def test_prune_keeps_the_newest_copies_and_never_the_last_verified_one(tmp_path, week_bars):
    settings = Settings.load(data_dir=tmp_path / "d", env={})
    settings = Settings(**{**settings.__dict__, "backup_keep_last": 2, "backup_keep_daily_days": 0})
    store = Store(settings)
    for i in range(5):
        store.write("ES1", "1m", week_bars.head(100 + i), operation="test")
    assert len(list_backups(settings)) == 4
    # the clock of the prune: one day after the newest backup (the backups carry their own write times)
    newest = max(dt.datetime.fromisoformat(r.time) for r in list_backups(settings))
    plan = prune_plan(settings, now=newest + dt.timedelta(days=1))
    assert len(plan.keep) == 2 and len(plan.delete) == 2
    assert {r.rows for r in plan.keep} == {103, 102}
    prune(settings, plan)
    left = list_backups(settings)
    assert [r.rows for r in left] == [103, 102]
    assert all(r.ok for r in verify_backups(settings))
    assert not (settings.data_dir / plan.delete[0].path).exists()


def test_cloud_backup_copies_and_verifies_and_reports_a_missing_destination(store, week_bars, tmp_path):
    store.write("ES1", "1m", week_bars, operation="test")
    drive = tmp_path / "gdrive"
    drive.mkdir()
    results = cloud_backup(store.settings, [drive, tmp_path / "not-mounted"])
    assert [r.ok for r in results] == [True, False]
    assert "does not exist" in results[1].error
    [folder] = list(drive.iterdir())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [f["file"] for f in manifest["files"]] == ["ES1_1m.parquet"]
    assert (folder / "ES1_1m.parquet").read_bytes() == (store.settings.data_dir / "ES1_1m.parquet").read_bytes()
