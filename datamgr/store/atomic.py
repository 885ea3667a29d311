"""Low-level durable file operations: temp file + fsync + replace, durable appends.

Every write in datamgr goes through these: a killed process leaves either the old file or the
new one, never a torn file, and temp files (``.<name>.tmp-<pid>-<hex>``) left by a crash are
removed by :func:`clean_orphans` the next time a writer holds the lock.

No write follows a symbolic link: a destination that is a link is refused
(:class:`~datamgr.core.errors.StoreError`), appends open with ``O_NOFOLLOW``, and a failed append
is cut back to the file's previous length (no torn line left behind by a full disk).
"""

from __future__ import annotations

import errno
import os
import secrets
import sys
import time
from pathlib import Path

from datamgr.core.errors import StoreError

TMP_MARK = ".tmp-"
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # not on Windows: there the lstat check below is what holds
O_BINARY = getattr(os, "O_BINARY", 0)


def refuse_symlink(path: Path) -> None:
    """Raise :class:`StoreError` when ``path`` is a symbolic link (datamgr never writes through one)."""
    if os.path.islink(path):
        msg = (f"{path}: is a symbolic link; datamgr does not write through links. Replace the link with "
               f"the real file (or point --data-dir at the real folder) and try again.")
        raise StoreError(msg)


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link at ``path`` (ELOOP -> :class:`StoreError`)."""
    refuse_symlink(path)
    try:
        return os.open(path, flags | O_NOFOLLOW | O_BINARY, mode)
    except OSError as err:
        if err.errno == errno.ELOOP:
            refuse_symlink(path)
        raise


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
    refuse_symlink(dst)
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
    refuse_symlink(final)
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
    """Append one line durably (journal, manifests).

    All or nothing: when the write fails (disk full, short write) the file is cut back to its
    previous length, so no torn line is left; the error propagates. A line torn by a crash (a
    kill mid-append) is skipped by readers, and the next append starts on a fresh line.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = open_nofollow(path, os.O_RDWR | os.O_CREAT | os.O_APPEND)
    try:
        size = os.fstat(fd).st_size
        if size > 0 and os.lseek(fd, size - 1, os.SEEK_SET) >= 0 and os.read(fd, 1) != b"\n":
            data = b"\n" + data  # a crash left a line without its newline: start on a fresh line
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(errno.ENOSPC, f"short write to {path}")
            os.fsync(fd)
        except BaseException:
            try:
                os.ftruncate(fd, size)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def clean_orphans(folder: Path) -> list[Path]:
    """Remove temp files left behind by killed writers. Call only while holding the lock."""
    removed = []
    if not folder.is_dir():
        return removed
    for p in folder.iterdir():
        if p.name.startswith(".") and TMP_MARK in p.name and (p.is_symlink() or p.is_file()):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def clean_orphans_below(folder: Path) -> list[Path]:
    """:func:`clean_orphans` in ``folder`` and every folder below it (``web/<T>/<tf>/``: the web
    chunks' temp files), never following symbolic links. Call only while holding the lock."""
    removed: list[Path] = []
    if folder.is_symlink() or not folder.is_dir():
        return removed
    for top, _dirs, _files in os.walk(folder, followlinks=False):
        removed += clean_orphans(Path(top))
    return removed
