"""Restore a bar file from a verified backup: a diff first, then a write like any other.

The restore itself goes through :meth:`Store.write` (so the current file is backed up first,
the write is atomic and journaled), and derived outputs built from the old content are stale
afterwards (their lineage no longer matches the master's generation).

Race safety: the plan records the master's generation; :func:`restore` computes its diff and
writes under one hold of the write lock and refuses (nothing written) when ``expect_generation``
is given and the master has been written since the plan was shown. Backup pruning holds the
lock too (:func:`prune_backups`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from datamgr.core.config import Settings
from datamgr.core.errors import BackupError, StoreError
from datamgr.core.timefmt import to_et_iso
from datamgr.store.backup import PrunePlan, find_backup, prune, prune_plan, sha256_file
from datamgr.store.store import Store, WriteResult, load_bars

_NAME_SPLIT = "_"


@dataclass(frozen=True)
class RestorePlan:
    backup: str
    target: str
    ticker: str
    timeframe: str
    current_rows: int
    backup_rows: int
    only_in_current: int      # bars that the restore would remove
    only_in_backup: int       # bars that the restore would bring back
    changed: int              # same open time, different values
    current_range: tuple[str | None, str | None]
    backup_range: tuple[str | None, str | None]
    current_generation: int = 0  # 0: no file (pass to restore(expect_generation=...))
    current_damaged: bool = False

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"current_range": list(self.current_range), "backup_range": list(self.backup_range)}


def _load_backup(settings: Settings, backup: str) -> tuple[Any, pl.DataFrame, str, str]:
    rec = find_backup(settings, backup)
    p = settings.data_dir / rec.path
    if not p.is_file() or sha256_file(p) != rec.sha256:
        raise BackupError(f"{rec.path}: backup is missing or does not match its manifest hash; not restoring")
    if not rec.source.endswith(".parquet"):
        raise BackupError(f"{rec.path}: only Parquet bar files can be restored")
    stem = rec.source.removesuffix(".parquet")
    ticker, _, tf = stem.rpartition(_NAME_SPLIT)
    if getattr(rec, "damaged", False):
        raise BackupError(f"{rec.path}: is the copy of a damaged file; restore another backup")
    try:
        bars = load_bars(p)  # checked against its own footer: never restore damaged content
    except StoreError as err:
        raise BackupError(f"{rec.path}: backup is damaged ({err}); not restoring") from err
    return rec, bars, ticker, tf


def plan_restore(settings: Settings, backup: str) -> RestorePlan:
    """What restoring ``backup`` would change (writes nothing)."""
    rec, old, ticker, tf = _load_backup(settings, backup)
    store = Store(settings)
    damaged = False
    meta = store.read_meta(ticker, tf)
    try:
        cur = store.read(ticker, tf)
    except StoreError:  # a damaged master: the restore replaces all of it
        cur, damaged = old.clear(), True
    cols = ["datetime", "open", "high", "low", "close", "volume"]
    joined = cur.select(cols).join(old.select(cols), on="datetime", how="inner", suffix="_b")
    changed = joined.filter(pl.any_horizontal([pl.col(c) != pl.col(f"{c}_b") for c in cols[1:]])).height
    tz = settings.display_tz

    def rng(df: pl.DataFrame) -> tuple[str | None, str | None]:
        return (to_et_iso(df["datetime"][0], tz), to_et_iso(df["datetime"][-1], tz)) if df.height else (None, None)

    return RestorePlan(
        backup=rec.path, target=Path(settings.bar_path(ticker, tf)).name, ticker=ticker, timeframe=tf,
        current_rows=cur.height, backup_rows=old.height,
        only_in_current=cur.height - joined.height, only_in_backup=old.height - joined.height,
        changed=changed, current_range=rng(cur), backup_range=rng(old),
        current_generation=(meta.generation or 0) if meta else 0, current_damaged=damaged,
    )


def restore(settings: Settings, backup: str, *, dry_run: bool = False,
            expect_generation: int | None = None) -> WriteResult:
    """Replace the bar file with the content of ``backup`` (current file backed up first).

    Parameters
    ----------
    backup : str
        Backup path as listed (``backups/ES1_1m.<stamp>.parquet``) or its file name.
    expect_generation : int, optional
        ``RestorePlan.current_generation`` of the plan shown to the user: the restore is refused
        (StoreError, nothing written) when the master was written since.
    """
    store = Store(settings)
    with store.lock("restore"):
        rec, old, ticker, tf = _load_backup(settings, backup)
        return store.write(ticker, tf, old, operation="restore", dry_run=dry_run,
                           details={"restored_from": rec.path}, backup=True,
                           expect_generation=expect_generation)


def prune_backups(settings: Settings, *, apply: bool, now: dt.datetime | None = None,
                  plan: PrunePlan | None = None) -> PrunePlan:
    """The retention plan (``apply=False``: dry run) or its execution, under the write lock so
    that no write adds or needs a backup meanwhile.

    Parameters
    ----------
    plan : PrunePlan, optional
        The plan shown to the user: only its copies are deleted, and only those the retention
        rules still delete now (a copy that became the newest verified one meanwhile is kept).
    """
    with Store(settings).lock("backup prune"):
        fresh = prune_plan(settings, now)
        if plan is not None:
            shown = {r.path for r in plan.delete}
            fresh = PrunePlan(fresh.keep + [r for r in fresh.delete if r.path not in shown],
                              [r for r in fresh.delete if r.path in shown])
        return prune(settings, fresh) if apply else fresh
