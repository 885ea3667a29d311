"""Restore a bar file from a verified backup: a diff first, then a write like any other.

The restore itself goes through :meth:`Store.write` (so the current file is backed up first,
the write is atomic and journaled), and derived outputs built from the old content are stale
afterwards (their lineage no longer matches the master's generation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from datamgr.core.config import Settings
from datamgr.core.errors import BackupError, StoreError
from datamgr.core.timefmt import to_et_iso
from datamgr.store.backup import find_backup, sha256_file
from datamgr.store.store import Store, WriteResult, read_parquet_once, table_to_bars

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
    return rec, table_to_bars(read_parquet_once(p)), ticker, tf


def plan_restore(settings: Settings, backup: str) -> RestorePlan:
    """What restoring ``backup`` would change (writes nothing)."""
    rec, old, ticker, tf = _load_backup(settings, backup)
    try:
        cur = Store(settings).read(ticker, tf)
    except StoreError:  # a damaged master: the restore replaces all of it
        cur = old.clear()
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
    )


def restore(settings: Settings, backup: str, *, dry_run: bool = False) -> WriteResult:
    """Replace the bar file with the content of ``backup`` (current file backed up first)."""
    rec, old, ticker, tf = _load_backup(settings, backup)
    return Store(settings).write(ticker, tf, old, operation="restore", dry_run=dry_run,
                                 details={"restored_from": rec.path}, backup=True)
