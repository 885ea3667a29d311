"""Which derived outputs are stale: footers and the first bytes of JSON files only (no polars).

Split from :mod:`datamgr.derived.lineage` (which re-exports every name here) so ``status`` and the
inventory can tell a stale output without importing polars, pandas or the calendar library:
the calendar enters :func:`params` through its name and override periods only
(:class:`datamgr.calendar.cache.CalendarSpec`, read from the overrides file).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamgr.calendar.cache import spec_for
from datamgr.core import layout
from datamgr.core.config import INTRADAY_DERIVED, Settings
from datamgr.store.footer import read_footer

ALGO_VERSION = 2  # 2: per-day ``partial`` in HOD/LOD and profiler
STEPS = ("upsample", "hod_lod", "profiler", "levels", "web")
LABELS = {"upsample": "Upsampled", "hod_lod": "HOD/LOD", "profiler": "Profiler",
          "levels": "Level touches", "web": "Web chunks"}
JSON_NAMES = layout.STEP_JSON


def params(settings: Settings, ticker: str, cal) -> dict[str, Any]:
    """Everything besides the master that shapes the outputs (a change makes them stale).

    ``cal`` is a :class:`~datamgr.calendar.sessions.SessionCalendar` or a
    :class:`~datamgr.calendar.cache.CalendarSpec` (same ``name``, ``closed``, ``opened``)."""
    extra = [repr(getattr(cal, a, ())) for a in ("closed", "opened")]
    inst = settings.instrument(ticker)
    return {
        "algo": ALGO_VERSION,
        "calendar": cal.name,
        "overrides": hashlib.sha256("|".join(extra).encode()).hexdigest()[:16],
        "sessions": {n: [s, e] for n, s, e in inst.sessions},
        "include_partial": settings.derived_include_partial,
    }


def json_path(settings: Settings, ticker: str, step: str) -> Path:
    return layout.json_path(settings.data_dir, ticker, step)


def web_index(settings: Settings, ticker: str) -> Path:
    return layout.web_index(settings.data_dir, ticker)


def same_master(a: dict | None, b: dict | None) -> bool:
    """Two ``built_from`` records describe the same master content."""
    if not a or not b:
        return False
    return a.get("generation") == b.get("generation") and a.get("content_sha256") == b.get("content_sha256")


def footer_lineage(settings: Settings, ticker: str, timeframe: str = "1m") -> dict[str, Any]:
    """``built_from`` of a bar file from its footer (same as ``Store.lineage``)."""
    p = settings.bar_path(ticker, timeframe)
    meta = read_footer(p) if p.is_file() else None
    if meta is None:
        return {"file": p.name, "generation": None, "content_sha256": None, "end": None}
    return {"file": p.name, "generation": meta.generation, "content_sha256": meta.content_sha256,
            "end": meta.end.isoformat() if meta.end else None}


# ---------------------------------------------------------------------- staleness
@dataclass(frozen=True)
class StaleOutput:
    """One derived output that does not follow its master."""

    step: str
    path: str
    reason: str    # missing | lineage | params | daily | legacy-mtime
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "path": self.path, "reason": self.reason, "message": self.message}


def read_json_meta(p: Path, limit: int = 65536) -> dict[str, Any] | None:
    """The ``meta`` object of a derived JSON file, read from its first ``limit`` bytes."""
    try:
        with open(p, "rb") as f:
            head = f.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None
    i = head.find('"meta"')
    if i < 0:
        return None
    j = head.find("{", i)
    try:
        obj, _ = json.JSONDecoder().raw_decode(head, j)
    except (json.JSONDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


read_meta = read_json_meta


def output_records(settings: Settings, ticker: str) -> list[tuple[str, Path, dict | None, bool]]:
    """``(step, path, meta-or-None, exists)`` for every output of ``ticker``."""
    out: list[tuple[str, Path, dict | None, bool]] = []
    for tf in INTRADAY_DERIVED:
        p = settings.bar_path(ticker, tf)
        meta = None
        if p.is_file():
            fm = read_footer(p)
            meta = {"built_from": fm.built_from, "params": (fm.built_from or {}).get("params")} \
                if fm.built_from else None
        out.append(("upsample", p, meta, p.is_file()))
    for step in ("hod_lod", "profiler", "levels"):
        p = json_path(settings, ticker, step)
        out.append((step, p, read_meta(p) if p.is_file() else None, p.is_file()))
    p = web_index(settings, ticker)
    out.append(("web", p, read_meta(p) if p.is_file() else None, p.is_file()))
    return out


def stale_outputs(settings: Settings, ticker: str, store=None) -> list[StaleOutput]:
    """Derived outputs of ``ticker`` that are missing or do not follow the current master.

    Reads Parquet footers and the first bytes of JSON files only. Returns an empty list when
    there is no 1m master (nothing to derive from).

    Parameters
    ----------
    settings : Settings
    ticker : str
    store : Store, optional
        Unused (kept for callers that pass one): the footers are read directly.
    """
    mp = settings.bar_path(ticker, "1m")
    mmeta = read_footer(mp) if mp.is_file() else None
    if mmeta is None or mmeta.rows == 0:
        return []
    master = footer_lineage(settings, ticker, "1m")
    daily = footer_lineage(settings, ticker, "1d")
    prm = params(settings, ticker, spec_for(settings, ticker))
    out: list[StaleOutput] = []
    for step, path, meta, exists in output_records(settings, ticker):
        label = LABELS[step] + (f" {path.stem.split('_')[-1]}" if step == "upsample" else "")
        rel = str(path.relative_to(settings.data_dir)) if path.is_relative_to(settings.data_dir) else str(path)
        if not exists:
            out.append(StaleOutput(step, rel, "missing", f"{label} data is missing"))
            continue
        bf = (meta or {}).get("built_from")
        if not bf:
            if path.stat().st_mtime < mmeta.mtime.timestamp():
                out.append(StaleOutput(step, rel, "legacy-mtime", f"{label} data is older than Parquet data"))
            continue
        if not same_master(bf, master):
            out.append(StaleOutput(step, rel, "lineage",
                                   f"{label} data is older than Parquet data (built from generation "
                                   f"{bf.get('generation')}, master is at generation {master.get('generation')})"))
        elif (meta or {}).get("params") != prm:
            out.append(StaleOutput(step, rel, "params", f"{label} data was built with other settings "
                                   "(calendar, overrides or session windows changed)"))
        elif step == "levels" and not same_daily((meta or {}).get("daily_from"), daily):
            out.append(StaleOutput(step, rel, "daily", f"{label} data is older than the daily file"))
    return out


def same_daily(a: dict | None, b: dict) -> bool:
    if b.get("generation") is None and b.get("content_sha256") is None:
        return not a or a.get("content_sha256") is None
    return bool(a) and same_master(a, b)
