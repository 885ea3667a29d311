"""Low-level durable file operations: temp file + fsync + replace, durable appends.

Every write in datamgr goes through these: a killed process leaves either the old file or the
new one, never a torn file, and temp files (``.<name>.tmp-<pid>-<hex>``) left by a crash are
removed by :func:`clean_orphans` the next time a writer holds the lock.
"""

from __future__ import annotations

import errno
import os
import secrets
import sys
import time
from pathlib import Path

TMP_MARK = ".tmp-"


def temp_path(final: Path) -> Path:
    """A fresh temp path in the same folder as ``final`` (same file system for os.replace)."""
    return final.with_name(f".{final.name}{TMP_MARK}{os.getpid()}-{secrets.token_hex(4)}")


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX). Windows has no directory fsync: a no-op there."""
    if sys.platform.startswith("win"):
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_with_retry(src: Path, dst: Path, attempts: int = 20, delay: float = 0.1) -> None:
    """``os.replace`` with a short retry on Windows sharing violations (PermissionError).

    After ``attempts`` the original error propagates; ``dst`` is untouched.
    """
    for i in range(attempts):
        try:
            os.replace(src, dst)
            return
        except PermissionError:
            if i == attempts - 1 or not sys.platform.startswith("win"):
                raise
            time.sleep(delay)


def atomic_write_bytes(final: Path, data: bytes) -> None:
    """Write ``data`` to ``final`` atomically and durably."""
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(final)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        replace_with_retry(tmp, final)
        fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def append_line(path: Path, line: str) -> None:
    """Append one line durably (journal, manifests). A torn last line is skipped by readers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        # A crash may have left a line without its newline: start on a fresh line then.
        if os.fstat(fd).st_size > 0:
            with open(path, "rb") as r:
                r.seek(-1, os.SEEK_END)
                if r.read(1) != b"\n":
                    data = b"\n" + data
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.ENOSPC, f"short write to {path}")
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_orphans(folder: Path) -> list[Path]:
    """Remove temp files left behind by killed writers. Call only while holding the lock."""
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.name.startswith(".") and TMP_MARK in p.name and p.is_file():
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
