"""Cached answers for the pages: the same question about unchanged files is answered once.

A page re-runs on every interaction; the answers it shows (inventory, health report, backups)
only change when a file changes, the overrides change, or the clock moves past what staleness
looks at. So each answer is cached in the process, keyed by

* the files it reads: path, size, mtime, ctime, inode and (bar files) the footer's ``generation``
  (a datamgr write is a new file renamed into place: a new inode and mtime; an edit in place by
  another tool changes the ctime even when it restores the mtime);
* the overrides file's content hash (calendar corrections, acknowledged gaps);
* the question's own parameters, and the minute of ``now`` when the answer depends on the clock
  (staleness, computed at the start of that minute), so a cached "up to date" does not outlive
  the next bar. The expensive part of a
  health report (gaps, coverage, integrity) does not depend on the clock: a new minute only
  recomputes the staleness (a few milliseconds), never the continuity.

Each page makes one call here per question (:func:`inventory_view`, :func:`health_view`,
:func:`backups_view`, plus :func:`preview`, :func:`gaps` and :func:`candle_bars` for what a
widget picks) and never touches a file itself. :func:`stats` counts hits and misses per kind of
answer, so "a rerun on unchanged files recomputes nothing" is a checked fact (tests/app).

Nothing is cached on disk here: a restarted server computes each answer once (the coverage and
session-calendar caches under ``.cache/`` make that first computation cheaper). The cache is
bounded (least recently used answers go first) and safe to share between a server's threads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from datamgr.calendar.sessions import calendar_for
from datamgr.core import layout
from datamgr.core.config import Settings
from datamgr.health.report import (
    GAP_CLASSES,
    HealthReport,
    Note,
    check_health,
    master_coverage,
    select_gaps,
)
from datamgr.health.staleness import staleness
from datamgr.ops.folder_scan import FileInfo, scan, to_frame
from datamgr.ops.folder_scan import preview as _preview
from datamgr.ops.restore import RestorePlan, plan_restore
from datamgr.store.backup import BackupRecord, PrunePlan, list_backups, verification_state
from datamgr.store.backup import prune_plan as _prune_plan
from datamgr.store.backup import verify_backups as _verify_backups
from datamgr.store.footer import read_footer
from datamgr.store.store import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
_MAX = 64
_cache: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()
_hits: Counter[str] = Counter()
_misses: Counter[str] = Counter()
_verify_epoch = 0  # bumped by :func:`verify_backups`: verification states are in the answers' keys


@dataclass(frozen=True)
class CacheStats:
    """How often answers were reused (``hits``) and computed (``misses``)."""

    hits: int
    misses: int

    def to_json(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}


def stats(kind: str | None = None) -> CacheStats:
    """Hits and misses of one kind of answer (``"inventory"``, ``"health"``, ...) or of all kinds.

    Parameters
    ----------
    kind : str, optional
        The kind passed to :func:`cached`; every kind when omitted.
    """
    with _lock:
        if kind is None:
            return CacheStats(sum(_hits.values()), sum(_misses.values()))
        return CacheStats(_hits[kind], _misses[kind])


def file_key(path: Path) -> tuple:
    """``(path, size, mtime_ns, ctime_ns, inode, generation)`` of a file; ``(path, None)`` when missing.

    The ctime is there for a file edited in place by another tool that restores the mtime
    (``cp -p``, ``touch -r``): the kernel sets the ctime on every change and nothing can set it back.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return (str(p), None)
    gen = read_footer(p).generation if p.suffix == ".parquet" and p.is_file() else None
    return (str(p), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, gen)


def overrides_key(settings: Settings) -> str:
    """sha256 of the overrides file (``"none"`` when there is none)."""
    try:
        return hashlib.sha256(settings.overrides_path.read_bytes()).hexdigest()
    except OSError:
        return "none"


def folder_key(settings: Settings) -> tuple:
    """Every top-level entry of the data folder and of ``web/`` with size, mtime, ctime and inode."""
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
                out.append((str(p.relative_to(root)), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return tuple(out)


def _backups_key(settings: Settings) -> tuple:
    """The manifest and every file of ``backups/`` (name, size, mtime, ctime, inode), and the verify epoch."""
    d = settings.backups_dir
    try:
        entries = sorted((e.name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, e.inode())
                         for e in os.scandir(d) for st in (e.stat(),))
    except OSError:
        entries = []
    return (str(d), tuple(entries), _verify_epoch)


def cached(kind: str, key: tuple, compute: Callable[[], T]) -> T:
    """``compute()`` once per ``(kind, key)``; later calls with the same key get that answer."""
    k = (kind, key)
    with _lock:
        if k in _cache:
            _cache.move_to_end(k)
            _hits[kind] += 1
            return _cache[k]
        _misses[kind] += 1
    t0 = time.perf_counter()
    value = compute()  # outside the lock: a slow answer does not block other pages
    log.info("answer %s computed in %.3f s", kind, time.perf_counter() - t0)
    with _lock:
        _cache[k] = value
        _cache.move_to_end(k)
        while len(_cache) > _MAX:
            _cache.popitem(last=False)
    return value


def clear() -> None:
    """Forget every cached answer and reset the statistics."""
    with _lock:
        _cache.clear()
        _hits.clear()
        _misses.clear()


def _minute(now: dt.datetime | None) -> dt.datetime:
    now = now or dt.datetime.now(dt.UTC)
    return now.replace(second=0, microsecond=0)


# ---------------------------------------------------------------------- inventory
def inventory(settings: Settings, now: dt.datetime | None = None) -> list[FileInfo]:
    """:func:`datamgr.ops.inventory.scan`, cached until a file, the overrides or the minute change.

    Parameters
    ----------
    settings : Settings
    now : datetime, optional
        The clock for the "behind" flag (UTC-aware); the wall clock when omitted.
    """
    minute = _minute(now)
    key = (str(settings.data_dir), folder_key(settings), overrides_key(settings), _verify_epoch, minute)
    return cached("inventory", key, lambda: scan(settings, now=minute, coverage=master_coverage))


@dataclass
class InventoryView:
    """What the Inventory page shows: the files, the metrics and one display table per category."""

    files: list[FileInfo]
    by_category: dict[str, list[FileInfo]]
    tables: dict[str, Any]  # category -> pandas frame (:func:`datamgr.ops.folder_scan.to_frame`)
    n_files: int           # backups not counted
    n_masters: int
    bars: int              # rows of all market files
    size_bytes: int
    flagged: int
    newest: dt.datetime | None  # newest 1m bar of any master
    demo: bool             # a master holds demo bars
    bar_files: list[str] = field(default_factory=list)  # market files (the detail picker)


def inventory_view(settings: Settings, now: dt.datetime | None = None) -> InventoryView:
    """The Inventory page's answer, cached like :func:`inventory` (frames built once per answer).

    Parameters
    ----------
    settings : Settings
    now : datetime, optional
        The clock for the "behind" flag (UTC-aware); the wall clock when omitted.
    """
    files = inventory(settings, now)
    return cached("inventory_view", (id(files), settings.display_tz), lambda: _inventory_view(settings, files))


def _inventory_view(settings: Settings, files: list[FileInfo]) -> InventoryView:
    by_cat = {c: [f for f in files if f.category == c] for c in ("market", "derived", "other")}
    tables = {}
    for cat, subset in by_cat.items():
        if subset:
            zones = {f.ticker: settings.display_tz_for(f.ticker) for f in subset if f.ticker}
            tables[cat] = to_frame(subset, settings.display_tz, zones)
    market = by_cat["market"]
    masters = [f for f in market if f.role == "master"]
    return InventoryView(
        files=files, by_category=by_cat, tables=tables,
        n_files=sum(1 for f in files if f.role != "backup"), n_masters=len(masters),
        bars=sum(f.rows or 0 for f in market), size_bytes=sum(f.size_bytes for f in files),
        flagged=sum(1 for f in files if f.flags and f.role != "backup"),
        newest=max((f.end for f in masters if f.end), default=None),
        demo=any("demo data" in fl for f in masters for fl in f.flags),
        bar_files=[f.name for f in market])


def preview(settings: Settings, name: str) -> dict[str, Any]:
    """:func:`datamgr.ops.folder_scan.preview` of one bar file, cached by the file's state."""
    p = Path(settings.data_dir) / name
    return cached("preview", (file_key(p), settings.display_tz_for(read_footer(p).ticker or "")
                              if p.is_file() and p.suffix == ".parquet" else settings.display_tz),
                  lambda: _preview(settings, name))


# ---------------------------------------------------------------------- health
def _health_base(settings: Settings, ticker: str, min_gap: int, now: dt.datetime,
                 progress=None) -> tuple[HealthReport, tuple]:
    key = (file_key(settings.bar_path(ticker, "1m")), overrides_key(settings), ticker, min_gap)
    rep = cached("health", key, lambda: check_health(settings, ticker, min_gap=min_gap, now=now, progress=progress))
    return rep, key


def health_report(settings: Settings, ticker: str, *, min_gap: int = 1, now: dt.datetime | None = None,
                  progress=None) -> HealthReport:
    """:func:`datamgr.health.report.check_health`, cached by the ticker's 1m file, the overrides and
    ``min_gap``; the staleness (the only part that follows the clock) per minute of ``now``.

    Parameters
    ----------
    settings : Settings
    ticker : str
    min_gap : int
        Gaps shorter than this are neither listed nor problems.
    now : datetime, optional
        Reference time for staleness (UTC-aware); the wall clock when omitted.
    progress : callable, optional
        ``progress(done, total, message)`` while a report is computed.
    """
    return _health_now(settings, ticker, min_gap, now, progress)[0]


def _health_now(settings: Settings, ticker: str, min_gap: int, now: dt.datetime | None,
                progress=None) -> tuple[HealthReport, tuple]:
    minute = _minute(now)
    base, key = _health_base(settings, ticker, min_gap, minute, progress)

    def restamp() -> HealthReport:
        if base.staleness.now == minute:
            return base
        return dataclasses.replace(base, staleness=staleness(base.staleness.last_bar, calendar_for(settings, ticker),
                                                             minute))
    return cached("health_now", (*key, minute), restamp), key


@dataclass
class HealthView:
    """What the Health page shows for one ticker: the report and the figures drawn from it."""

    ticker: str
    report: HealthReport | None   # None: no 1m master (or no rows)
    token: str = ""               # changes with the master's state or the overrides (widget keys)
    problems: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    class_counts: dict[str, int] = field(default_factory=dict)
    holes: int = 0
    days: list[dt.date] = field(default_factory=list)  # trading days of the coverage table
    years: list[int] = field(default_factory=list)     # newest first


def health_view(settings: Settings, ticker: str, *, now: dt.datetime | None = None) -> HealthView:
    """The Health page's answer for ``ticker`` (one call per render), cached like :func:`health_report`.

    Parameters
    ----------
    settings : Settings
    ticker : str
    now : datetime, optional
        Reference time for staleness (UTC-aware); the wall clock when omitted.
    """
    meta = read_footer(settings.bar_path(ticker, "1m")) if settings.bar_path(ticker, "1m").is_file() else None
    if meta is None or not meta.rows:
        return HealthView(ticker, None)
    rep, key = _health_now(settings, ticker, 1, now)
    return cached("health_view", (id(rep), rep.staleness.now), lambda: _health_view(ticker, rep, key))


def _health_view(ticker: str, rep: HealthReport, key: tuple) -> HealthView:
    cont = rep.continuity
    days = sorted(cont.coverage["trading_day"].to_list())
    return HealthView(ticker, rep, token=hashlib.sha256(repr(key).encode()).hexdigest()[:12],
                      problems=rep.problems, notes=rep.notes, class_counts=cont.class_counts(),
                      holes=len(cont.holes), days=days, years=sorted({d.year for d in days}, reverse=True))


def gaps(view: HealthView, classes: tuple[str, ...] | list[str] = GAP_CLASSES, *, start: dt.date | None = None,
         end: dt.date | None = None, min_missing: int = 1, acknowledged: bool | None = None) -> list:
    """:func:`datamgr.health.report.select_gaps` on a view's report, cached per view and filter."""
    if view.report is None:
        return []
    key = (view.token, id(view.report.continuity), tuple(classes), start, end, min_missing, acknowledged)
    return cached("gaps", key, lambda: select_gaps(view.report.continuity, classes, start=start, end=end,
                                                   min_missing=min_missing, acknowledged=acknowledged))


def candle_bars(settings: Settings, ticker: str, start: dt.date, end: dt.date):
    """``(bars, calendar)`` for candlesticks of the trading days ``start..end``: only the row groups
    of those sessions are read (not the whole master), cached by the file's state and the days."""
    key = (file_key(settings.bar_path(ticker, "1m")), overrides_key(settings), ticker, start, end)

    def read():
        cal = calendar_for(settings, ticker)
        seg = cal.segments(start, end)
        if not seg.height:
            return Store(settings).read_range(ticker, "1m", dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                                              dt.datetime(1970, 1, 1, tzinfo=dt.UTC)), cal
        return Store(settings).read_range(ticker, "1m", seg["start"].min(), seg["end"].max()), cal
    return cached("candles", key, read)


# ---------------------------------------------------------------------- backups
@dataclass
class BackupsView:
    """What the Backups page shows: the manifest's records and each copy's last verification."""

    records: list[BackupRecord]
    states: dict[str, str]   # backup path -> verified | FAILED | missing | not verified yet
    verified: int
    bad: int                 # FAILED or missing
    size_bytes: int
    restorable: list[str]    # bar-file backups that are not known bad


def backups_view(settings: Settings) -> BackupsView:
    """The Backups page's answer: never hashes a copy (states come from the last :func:`verify_backups`),
    cached until a file of ``backups/`` changes or a verification runs."""
    def compute() -> BackupsView:
        recs = list_backups(settings)
        states = {r.path: verification_state(settings, r) for r in recs}
        return BackupsView(
            records=recs, states=states, verified=sum(v == "verified" for v in states.values()),
            bad=sum(v in ("FAILED", "missing") for v in states.values()), size_bytes=sum(r.size for r in recs),
            restorable=[r.path for r in recs if r.source.endswith(".parquet")
                        and states[r.path] not in ("FAILED", "missing")])
    return cached("backups", _backups_key(settings), compute)


def verify_backups(settings: Settings, progress=None) -> list[BackupRecord]:
    """Re-hash and re-read every backup (the Backups page's **Verify** button); the verdicts are
    remembered by each copy's size and mtime, and the cached page answers are renewed.

    Parameters
    ----------
    settings : Settings
    progress : callable, optional
        Accepted for the job runner; not called.
    """
    global _verify_epoch
    out = _verify_backups(settings)
    with _lock:
        _verify_epoch += 1
    log.info("verified %d backup(s): %d failed", len(out), sum(not r.ok for r in out))
    return out


def prune_plan(settings: Settings, now: dt.datetime | None = None) -> PrunePlan:
    """:func:`datamgr.store.backup.prune_plan` (the Backups page's **Preview prune**): it verifies
    the copies not verified yet, so the cached page answers are renewed after it.

    Parameters
    ----------
    settings : Settings
    now : datetime, optional
        The clock of the retention rules (UTC-aware); the wall clock when omitted.
    """
    global _verify_epoch
    plan = _prune_plan(settings, now)
    with _lock:
        _verify_epoch += 1
    return plan


def restore_plan(settings: Settings, backup: str) -> RestorePlan:
    """:func:`datamgr.ops.restore.plan_restore` (the diff the Backups page shows for a picked
    copy), cached by the state of the copy and of every bar file: a rerun does not re-read both.

    Parameters
    ----------
    settings : Settings
    backup : str
        The backup's path relative to the data folder (as in the manifest).
    """
    bars = tuple(file_key(p) for p in sorted(Path(settings.data_dir).glob("*.parquet")))
    key = (str(settings.data_dir), backup, file_key(Path(settings.data_dir) / backup), bars)
    return cached("restore_plan", key, lambda: plan_restore(settings, backup))
