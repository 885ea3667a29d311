"""Lineage of derived outputs: what each was built from, and which ones are stale.

Every derived output records ``built_from`` = ``Store.lineage(ticker, "1m")`` of the master it
was computed from (``file, generation, content_sha256, end``) and the ``params`` that shape it
(calendar and its overrides, session windows, algorithm version):

* upsampled Parquet files in their footer (``Store.write(..., built_from=...)``);
* JSON outputs in their leading ``meta`` object;
* web chunks in ``web/<T>/index.json``'s ``meta``.

An output is **stale** when it is missing, when its ``built_from`` differs from the current
master (generation or content hash), when its ``params`` differ from the current settings, when
(level touches) the daily file it used changed, or, for legacy files without lineage, when it is
older than the master by mtime ("Profiler data is older than Parquet data").

Incremental regeneration keeps a small state file ``<data>/.derived/<T>.json`` with one
fingerprint per trading day of the master it last saw (row count and a hash of the bars). The
days whose fingerprint changed are the only ones recomputed; an output may be updated
incrementally only if it was built from exactly the master that state describes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from datamgr import __version__
from datamgr.calendar.sessions import SessionCalendar, calendar_for
from datamgr.core import layout
from datamgr.core.config import INTRADAY_DERIVED, Settings
from datamgr.core.timefmt import to_et_iso
from datamgr.store.atomic import atomic_write_bytes
from datamgr.store.store import Store, read_footer

ALGO_VERSION = 2  # 2: per-day ``partial`` in HOD/LOD and profiler
STEPS = ("upsample", "hod_lod", "profiler", "levels", "web")
LABELS = {"upsample": "Upsampled", "hod_lod": "HOD/LOD", "profiler": "Profiler",
          "levels": "Level touches", "web": "Web chunks"}
JSON_NAMES = layout.STEP_JSON


def calendar_of(settings: Settings, ticker: str) -> SessionCalendar:
    """The instrument's calendar with the folder's overrides."""
    return calendar_for(settings, ticker)


def params(settings: Settings, ticker: str, cal: SessionCalendar) -> dict[str, Any]:
    """Everything besides the master that shapes the outputs (a change makes them stale)."""
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


def state_path(settings: Settings, ticker: str) -> Path:
    return layout.state_path(settings.data_dir, ticker)


def make_meta(ticker: str, built_from: dict, prm: dict, **extra: Any) -> dict[str, Any]:
    """The ``meta`` object every derived JSON file starts with."""
    return {"ticker": ticker, "built_from": built_from,
            "built_at": to_et_iso(dt.datetime.now(dt.UTC)), "datamgr_version": __version__,
            "params": prm, **extra}


def same_master(a: dict | None, b: dict | None) -> bool:
    """Two ``built_from`` records describe the same master content."""
    if not a or not b:
        return False
    return a.get("generation") == b.get("generation") and a.get("content_sha256") == b.get("content_sha256")


# ---------------------------------------------------------------------- day fingerprints
def span_segments(bars: pl.DataFrame, cal: SessionCalendar) -> pl.DataFrame:
    """Calendar segments covering the bars (plus ten days either side)."""
    if bars.height == 0:
        return cal.segments(dt.date(2000, 1, 3), dt.date(2000, 1, 3)).head(0)
    lo, hi = bars["datetime"].min(), bars["datetime"].max()
    return cal.segments(lo.date() - dt.timedelta(days=10), hi.date() + dt.timedelta(days=10))


def day_fingerprints(bars: pl.DataFrame, cal: SessionCalendar, seg: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per trading day: ``rows`` and ``hash`` (UInt64) of the master's bars in its segments.

    Vectorised: one row hash per bar, a wrapping cumulative sum, and segment bounds found by
    ``searchsorted`` on the sorted timestamps.
    """
    schema = {"td": pl.Date, "rows": pl.Int64, "hash": pl.UInt64}
    if bars.height == 0:
        return pl.DataFrame(schema=schema)
    t = bars["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    h = bars.select("datetime", "open", "high", "low", "close", "volume").hash_rows().to_numpy()
    cs = np.concatenate([[np.uint64(0)], np.cumsum(h, dtype=np.uint64)])
    seg = span_segments(bars, cal) if seg is None else seg
    s = np.searchsorted(t, seg["start"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy(), "left")
    e = np.searchsorted(t, seg["end"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy(), "left")
    with np.errstate(over="ignore"):
        seg_hash = cs[e] - cs[s]
    out = (pl.DataFrame({"td": seg["trading_day"], "rows": e - s, "hash": seg_hash},
                        schema_overrides={"rows": pl.Int64, "hash": pl.UInt64})
           .group_by("td", maintain_order=True)
           .agg(pl.col("rows").sum(), pl.col("hash").sum()))
    return out.filter(pl.col("rows") > 0).sort("td")


def changed_days(old: pl.DataFrame | None, new: pl.DataFrame) -> list[dt.date]:
    """Trading days whose fingerprint differs (added, removed or changed)."""
    if old is None:
        return new["td"].to_list()
    j = old.join(new, on="td", how="full", coalesce=True, suffix="_new")
    diff = j.filter((pl.col("rows").ne_missing(pl.col("rows_new")))
                    | (pl.col("hash").ne_missing(pl.col("hash_new"))))
    return sorted(diff["td"].to_list())


def load_state(settings: Settings, ticker: str) -> dict[str, Any] | None:
    """The fingerprint state (``built_from``, ``days`` frame), or None if absent or unusable."""
    p = state_path(settings, ticker)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        if raw.get("polars") != pl.__version__ or raw.get("algo") != ALGO_VERSION:
            return None  # row hashes are only stable within one polars version
        days = pl.DataFrame({"td": pl.Series(raw["dates"]).str.to_date(), "rows": raw["rows"],
                             "hash": pl.Series([int(x, 16) for x in raw["hashes"]], dtype=pl.UInt64)},
                            schema_overrides={"rows": pl.Int64})
        return {"built_from": raw["built_from"], "days": days}
    except (OSError, ValueError, KeyError, TypeError, pl.exceptions.PolarsError):
        return None


def save_state(settings: Settings, ticker: str, built_from: dict, days: pl.DataFrame) -> None:
    """Write the fingerprint state atomically (regenerable bookkeeping, not listed by inventory)."""

    obj = {"algo": ALGO_VERSION, "polars": pl.__version__, "built_from": built_from,
           "dates": days["td"].dt.strftime("%Y-%m-%d").to_list(), "rows": days["rows"].to_list(),
           "hashes": [f"{x:016x}" for x in days["hash"].to_list()]}
    atomic_write_bytes(state_path(settings, ticker), json.dumps(obj, separators=(",", ":")).encode())


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
    """
    store = store or Store(settings)
    mmeta = store.read_meta(ticker, "1m")
    if mmeta is None or mmeta.rows == 0:
        return []
    master = store.lineage(ticker, "1m")
    daily = store.lineage(ticker, "1d")
    prm = params(settings, ticker, calendar_of(settings, ticker))
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


def load_output(settings: Settings, ticker: str, step: str) -> dict[str, Any] | None:
    """The whole JSON document of a derived output (``hod_lod``, ``profiler``, ``levels`` or
    ``web`` = the chunk index), or None when it does not exist or cannot be parsed."""
    p = web_index(settings, ticker) if step == "web" else json_path(settings, ticker, step)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
