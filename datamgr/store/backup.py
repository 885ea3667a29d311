"""Verified backups (SPEC 9).

Before any write replaces a file, :func:`backup_file` copies it to
``backups/<name>.<UTC yyyymmddTHHMMSSZ>.<ext>``, fsyncs the copy, re-hashes it and (Parquet)
re-reads its row count; only then is a line added to ``backups/manifest.jsonl`` and the write
allowed to proceed. A backup that cannot be verified raises :class:`BackupError` and the write
does not happen (and the copy is removed: no backup file without its manifest line).

A copy a crash left without its manifest line (killed between the rename and the append) is
adopted by the next lock holder (:func:`adopt_orphans`). Torn manifest lines are skipped with a
warning. The copy of a damaged file (a restore over it) is recorded with ``damaged: true`` and is
never ``ok``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from datamgr.core.config import Settings
from datamgr.core.errors import BackupError, StoreError
from datamgr.core.timefmt import now_utc, utc_stamp
from datamgr.store.atomic import append_line, atomic_write_bytes, fsync_dir, replace_with_retry, temp_path

_CHUNK = 8 << 20
MANIFEST = "manifest.jsonl"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BackupRecord:
    """One manifest line."""

    path: str          # relative to the data folder
    source: str        # file name it is a copy of
    sha256: str
    rows: int | None
    size: int
    reason: str
    operation_id: str | None
    time: str
    ok: bool = True
    damaged: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def parquet_rows(path: Path) -> int:
    with open(path, "rb") as f:
        return pq.ParquetFile(f).metadata.num_rows


def backup_file(settings: Settings, path: Path, *, reason: str, op_id: str | None,
                expected_rows: int | None = None, damaged: bool = False) -> BackupRecord:
    """Copy ``path`` into the backups folder and verify the copy; append to the manifest."""
    bdir = settings.backups_dir
    stem, ext = _split(path.name)
    stamp = utc_stamp()
    dest = bdir / f"{stem}.{stamp}.{ext}"
    n = 1
    while dest.exists():
        dest = bdir / f"{stem}.{stamp}-{n}.{ext}"
        n += 1
    tmp = temp_path(dest)
    h = hashlib.sha256()
    size = 0
    try:
        bdir.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as src, open(tmp, "wb") as out:
            while chunk := src.read(_CHUNK):
                h.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        digest = h.hexdigest()
        if sha256_file(tmp) != digest:
            raise BackupError(f"backup of {path.name}: copy does not hash like the original")
        rows = None
        if ext == "parquet":
            try:
                rows = parquet_rows(tmp)
            except (OSError, pa.ArrowException) as err:
                if expected_rows is not None:
                    raise BackupError(f"backup of {path.name}: copy does not read back: {err}") from err
                rows = None  # the original is damaged too: a byte-exact copy, verified by sha256 only
            if expected_rows is not None and rows != expected_rows:
                raise BackupError(f"backup of {path.name}: copy has {rows} rows, expected {expected_rows}")
        replace_with_retry(tmp, dest)
        fsync_dir(bdir)
    except BackupError:
        _discard(tmp)
        raise
    except OSError as err:
        _discard(tmp)
        raise BackupError(f"backup of {path.name} to {bdir} failed: {err}") from err
    rec = BackupRecord(
        path=str(dest.relative_to(settings.data_dir)).replace(os.sep, "/"), source=path.name,
        sha256=digest, rows=rows, size=size, reason=reason, operation_id=op_id,
        time=now_utc().isoformat(), ok=not damaged, damaged=damaged,
    )
    try:
        append_line(bdir / MANIFEST, json.dumps(rec.to_json()))
    except (OSError, StoreError) as err:
        _discard(dest)
        raise BackupError(f"backup of {path.name}: cannot record it in {bdir / 'manifest.jsonl'}: {err}") from err
    return rec


def _manifest(settings: Settings) -> list[dict[str, Any]]:
    """Manifest lines as dicts; torn or corrupt lines skipped with a warning."""
    man = settings.backups_dir / MANIFEST
    if not man.is_file():
        return []
    out = []
    for n, line in enumerate(man.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            log.warning("%s: line %d is torn or not JSON; skipped", man, n)
            continue
        out.append(obj)
    return out


def list_backups(settings: Settings, source: str | None = None) -> list[BackupRecord]:
    """Manifest records (newest first), optionally for one source file name."""
    out = []
    for obj in _manifest(settings):
        try:
            rec = BackupRecord(**{k: v for k, v in obj.items() if k in BackupRecord.__dataclass_fields__})
        except TypeError:
            log.warning("%s: a line lacks fields; skipped: %s", MANIFEST, obj)
            continue
        if source is None or rec.source == source:
            out.append(rec)
    out.reverse()
    return out


def adopt_orphans(settings: Settings) -> list[BackupRecord]:
    """Record copies that are in ``backups/`` but not in the manifest (a writer killed between its
    copy's rename and the manifest append). Call only while holding the lock.

    An adopted copy is hashed and (Parquet) read back for its row count; one that does not read
    back is recorded as damaged, never silently deleted: it may be the only copy of something.
    """
    bdir = settings.backups_dir
    if not bdir.is_dir():
        return []
    known = {Path(r.path).name for r in list_backups(settings)}
    out = []
    for p in sorted(bdir.iterdir()):
        if p.name == MANIFEST or p.name.startswith(".") or p.name in known or p.is_symlink() or not p.is_file():
            continue
        source = _source_name(p.name)
        rows, damaged = None, False
        if p.name.endswith(".parquet"):
            try:
                rows = parquet_rows(p)
            except Exception:  # noqa: BLE001 - an unreadable copy is adopted as damaged
                damaged = True
        st = p.stat()
        rec = BackupRecord(
            path=str(p.relative_to(settings.data_dir)).replace(os.sep, "/"), source=source,
            sha256=sha256_file(p), rows=rows, size=st.st_size, reason="adopted (not in the manifest after a crash)",
            operation_id=None, time=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).isoformat(),
            ok=not damaged, damaged=damaged)
        append_line(bdir / MANIFEST, json.dumps(rec.to_json()))
        log.warning("backups: adopted %s (its manifest line was missing)", p.name)
        out.append(rec)
    return out


def _source_name(backup_name: str) -> str:
    """``ES1_1m.20250101T000000Z-1.parquet`` -> ``ES1_1m.parquet``."""
    stem, ext = _split(backup_name)
    base = stem.rsplit(".", 1)[0] if "." in stem else stem
    return f"{base}.{ext}"


#: (absolute path, size, mtime_ns, sha256) -> verified: a copy is re-hashed only when it changed
_VERIFIED: dict[tuple[str, int, int, str], bool] = {}


def _cache_key(p: Path, rec: BackupRecord) -> tuple[str, int, int, str] | None:
    try:
        st = p.stat()
    except OSError:
        return None
    return (str(p.resolve()), st.st_size, st.st_mtime_ns, rec.sha256)


def _verify_one(p: Path, rec: BackupRecord) -> bool:
    ok = p.is_file() and not rec.damaged and sha256_file(p) == rec.sha256
    if ok and rec.rows is not None:
        try:
            ok = parquet_rows(p) == rec.rows
        except Exception:  # noqa: BLE001 - any unreadable copy is simply not ok
            ok = False
    return ok


def verify_backups(settings: Settings, source: str | None = None, *, cached: bool = False) -> list[BackupRecord]:
    """Re-hash and re-read every backup; ``ok`` is False for a missing or altered copy.

    Parameters
    ----------
    cached : bool
        Reuse the verdict of a copy whose size and mtime have not changed since it was last
        verified in this process (the app's Backups page); False re-hashes every copy.
    """
    out = []
    for rec in list_backups(settings, source):
        p = settings.data_dir / rec.path
        key = _cache_key(p, rec)
        if cached and key is not None and key in _VERIFIED:
            ok = _VERIFIED[key]
        else:
            ok = _verify_one(p, rec)
            if key is not None:
                _VERIFIED[key] = ok
        out.append(BackupRecord(**{**rec.to_json(), "ok": ok}))
    return out


def verification_state(settings: Settings, rec: BackupRecord) -> str:
    """``verified`` / ``FAILED`` / ``missing`` / ``not verified yet``, from the cache only (no hashing)."""
    p = settings.data_dir / rec.path
    key = _cache_key(p, rec)
    if key is None:
        return "missing"
    if key not in _VERIFIED:
        return "not verified yet"
    return "verified" if _VERIFIED[key] else "FAILED"


def _discard(tmp: Path) -> None:
    """Remove a temp copy; its folder may be the very thing that failed (not a folder, read-only)."""
    try:
        tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _split(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    return (stem, ext) if dot else (name, "bak")


# ---------------------------------------------------------------------- prune
@dataclass(frozen=True)
class PrunePlan:
    keep: list[BackupRecord]
    delete: list[BackupRecord]

    def to_json(self) -> dict[str, Any]:
        return {"keep": [r.to_json() for r in self.keep], "delete": [r.to_json() for r in self.delete]}


def prune_plan(settings: Settings, now: dt.datetime | None = None) -> PrunePlan:
    """Retention: per source file keep the newest ``backup_keep_last`` copies and the newest copy
    of each day of the last ``backup_keep_daily_days`` days; never the newest verified copy."""
    now = now or now_utc()
    checked = verify_backups(settings, cached=True)
    keep: list[BackupRecord] = []
    delete: list[BackupRecord] = []
    by_source: dict[str, list[BackupRecord]] = {}
    for rec in checked:  # newest first
        by_source.setdefault(rec.source, []).append(rec)
    horizon = now - dt.timedelta(days=settings.backup_keep_daily_days)
    for recs in by_source.values():
        seen_days: set[dt.date] = set()
        newest_ok = next((r for r in recs if r.ok), None)
        for i, r in enumerate(recs):
            t = dt.datetime.fromisoformat(r.time)
            daily = t >= horizon and t.date() not in seen_days
            seen_days.add(t.date())
            (keep if (i < settings.backup_keep_last or daily or r is newest_ok) else delete).append(r)
    return PrunePlan(keep, delete)


def prune(settings: Settings, plan: PrunePlan) -> PrunePlan:
    """Delete the copies of ``plan.delete`` and rewrite the manifest (atomically) without them."""
    gone = {r.path for r in plan.delete}
    man = settings.backups_dir / MANIFEST
    if not gone or not man.is_file():
        return plan
    lines = [json.dumps(obj) for obj in _manifest(settings) if obj.get("path") not in gone]
    atomic_write_bytes(man, ("\n".join(lines) + "\n" if lines else "").encode("utf-8"))
    for r in plan.delete:
        (settings.data_dir / r.path).unlink(missing_ok=True)
    return plan


def find_backup(settings: Settings, path: str) -> BackupRecord:
    """The manifest record of a backup given by its path (relative to the data folder or name)."""
    for rec in list_backups(settings):
        if rec.path == path or Path(rec.path).name == Path(path).name:
            return rec
    raise BackupError(f"{path}: no such backup in {settings.backups_dir / MANIFEST}")


def has_orphan_backups(settings: Settings) -> bool:
    """A file in the backups folder that the manifest does not list (a backup whose manifest line
    was never written): :meth:`~datamgr.store.store.Store.recover` adopts it."""
    from_manifest = {Path(r.path).name for r in list_backups(settings)}
    bdir = settings.backups_dir
    return bdir.is_dir() and any(p.name not in from_manifest for p in bdir.iterdir()
                                 if p.name != "manifest.jsonl" and not p.name.startswith("."))
