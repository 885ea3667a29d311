"""Cloud backup: copy the master Parquet files and the analysis JSON to each configured folder
that a sync client mirrors (Google Drive, OneDrive), verified by hash (SPEC 9).

Each run creates ``<destination>/datamgr-<UTC yyyymmddTHHMMSSZ>/`` with the copies and a
``manifest.json``; a destination that does not exist is reported and skipped, the others still
get their copy.

Each file is copied to a temp name next to its target, fsynced, re-hashed and only then renamed
to its final name: a copy interrupted by a kill, a full drive or an unmounted destination leaves
no truncated file under a real name (a stray ``.<name>.tmp-*`` at most).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import utc_stamp
from datamgr.ops.folder_scan import scan  # file list only: no coverage needed
from datamgr.store.atomic import atomic_write_bytes, fsync_dir, replace_with_retry, temp_path
from datamgr.store.backup import sha256_file


@dataclass
class DestinationResult:
    destination: str
    ok: bool
    folder: str | None = None
    files: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    missing: bool = False          # the destination folder does not exist (drive not mounted): skipped

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def cloud_files(settings: Settings) -> list[Path]:
    """What is copied: every market Parquet file and every analysis JSON of the folder."""
    return [Path(f.path) for f in scan(settings) if f.role in ("master", "upsampled", "downloaded", "analysis")]


def cloud_backup(settings: Settings, destinations: list[str | Path] | None = None, *, dry_run: bool = False,
                 progress: Progress = None) -> list[DestinationResult]:
    """Copy and verify; one result per destination (missing destinations reported, not fatal).

    ``destinations`` defaults to :meth:`Settings.cloud_destinations` (the configured folders,
    else the requirements' default folders that exist). A dry run lists the files and sizes.
    """
    dests = [Path(d) for d in destinations] if destinations else list(settings.cloud_destinations())
    files = cloud_files(settings)
    sums = {p: sha256_file(p) for p in files}
    stamp = utc_stamp()
    out = []
    total = max(1, len(dests) * len(files))
    done = 0
    for dest in dests:
        if not dest.is_dir():
            out.append(DestinationResult(str(dest), False, error=f"{dest} does not exist (is the drive mounted?)",
                                         missing=True))
            continue
        folder = dest / f"datamgr-{stamp}"
        res = DestinationResult(str(dest), True, str(folder))
        if dry_run:
            res.files = [{"file": p.name, "sha256": sums[p], "size": p.stat().st_size} for p in files]
            out.append(res)
            continue
        try:
            folder.mkdir(parents=True, exist_ok=False)
            for p in files:
                report(progress, done, total, f"{dest}: {p.name}")
                target = folder / p.name
                ok = _copy_verified(p, target, sums[p])
                res.files.append({"file": p.name, "sha256": sums[p], "size": p.stat().st_size, "ok": ok})
                res.ok = res.ok and ok
                done += 1
            manifest = {"created": stamp, "source": str(settings.data_dir), "files": res.files}
            atomic_write_bytes(folder / "manifest.json", json.dumps(manifest, indent=1).encode())
        except OSError as err:
            res.ok, res.error = False, f"{dest}: {err}"
        out.append(res)
    report(progress, total, total, "cloud backup done")
    return out


def _copy_verified(src: Path, target: Path, digest: str) -> bool:
    """Copy ``src`` to ``target`` via a temp file + rename; True when the copy hashes like ``digest``.

    A copy that does not hash right is removed and never takes the final name.
    """
    tmp = temp_path(target)
    try:
        shutil.copyfile(src, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if sha256_file(tmp) != digest:
            tmp.unlink(missing_ok=True)
            return False
        replace_with_retry(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    return True
