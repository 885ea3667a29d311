"""Cached answers for the pages: the same question about unchanged files is answered once.

A page re-runs on every interaction; the answers it shows (inventory, health report) only change
when a file changes, the overrides change, or the clock moves past what staleness looks at. So
each answer is cached in the process, keyed by

* the files it reads: path, size, mtime, inode and (bar files) the footer's ``generation``
  (a datamgr write is a new file renamed into place: a new inode and mtime);
* the overrides file's content hash (calendar corrections, acknowledged gaps);
* the question's own parameters, and the minute of ``now`` when the answer depends on the clock
  (staleness), so a cached "up to date" does not outlive the next bar.

Nothing is cached on disk: a restarted server computes each answer once. The cache is bounded
(least recently used answers go first) and safe to share between a server's threads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from datamgr.core import layout
from datamgr.core.config import Settings
from datamgr.health.report import HealthReport, check_health, master_coverage
from datamgr.ops.folder_scan import FileInfo, scan
from datamgr.store.footer import read_footer

T = TypeVar("T")
_MAX = 64
_cache: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()


def file_key(path: Path) -> tuple:
    """``(path, size, mtime_ns, inode, generation)`` of a file; ``(path, None)`` when missing."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return (str(p), None)
    gen = read_footer(p).generation if p.suffix == ".parquet" and p.is_file() else None
    return (str(p), st.st_size, st.st_mtime_ns, st.st_ino, gen)


def overrides_key(settings: Settings) -> str:
    """sha256 of the overrides file (``"none"`` when there is none)."""
    try:
        return hashlib.sha256(settings.overrides_path.read_bytes()).hexdigest()
    except OSError:
        return "none"


def folder_key(settings: Settings) -> tuple:
    """Every top-level entry of the data folder and of ``web/`` with size, mtime and inode."""
    root = Path(settings.data_dir)
    if not root.is_dir():
        return (str(root), None)
    out = []
    for d in (root, root / layout.WEB):
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if p.name.startswith("."):  # locks, caches, regeneration state
                    continue
                st = p.stat()
                out.append((str(p.relative_to(root)), st.st_size, st.st_mtime_ns, st.st_ino))
    return tuple(out)


def cached(kind: str, key: tuple, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``(kind, key)``; later calls with the same key get that answer."""
    k = (kind, key)
    with _lock:
        if k in _cache:
            _cache.move_to_end(k)
            return _cache[k]
    value = compute()  # outside the lock: a slow answer does not block other pages
    with _lock:
        _cache[k] = value
        _cache.move_to_end(k)
        while len(_cache) > _MAX:
            _cache.popitem(last=False)
    return value


def clear() -> None:
    """Forget every cached answer."""
    with _lock:
        _cache.clear()


def _minute(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now.replace(second=0, microsecond=0)


def inventory(settings: Settings, now: dt.datetime | None = None) -> list[FileInfo]:
    """:func:`datamgr.ops.inventory.scan`, cached until a file, the overrides or the minute change.

    Parameters
    ----------
    settings : Settings
    now : datetime, optional
        The clock for the "behind" flag (UTC-aware); the wall clock when omitted.
    """
    minute = _minute(now)
    key = (str(settings.data_dir), folder_key(settings), overrides_key(settings), minute)
    return cached("inventory", key, lambda: scan(settings, now=now or minute, coverage=master_coverage))


def health_report(settings: Settings, ticker: str, *, min_gap: int = 1, now: dt.datetime | None = None,
                  progress=None) -> HealthReport:
    """:func:`datamgr.health.report.check_health`, cached by the ticker's 1m file, the overrides,
    ``min_gap`` and the minute of ``now``."""
    minute = _minute(now)
    key = (file_key(settings.bar_path(ticker, "1m")), overrides_key(settings), ticker, min_gap, minute)
    return cached("health", key,
                  lambda: check_health(settings, ticker, min_gap=min_gap, now=now or minute, progress=progress))
