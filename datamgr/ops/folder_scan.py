"""The folder scan behind the inventory and ``status``: every file, classified, from metadata only.

:mod:`datamgr.ops.inventory` is this scan with Health's coverage function plugged in (what the
pages use); ``status`` and ``backup`` use this module directly so they start without polars.

Light on purpose: the scan imports pyarrow and numpy only (``status`` starts in about the time of
a bare footer-reading script); coverage, staleness and gap flags come from the session calendar
cache (:mod:`datamgr.calendar.cache`), built once per data folder, calendar and overrides.

Parquet files are described from their footers (row counts, ``datetime`` min/max statistics,
``datamgr`` key-value metadata): no data page is read, so the cost does not grow with rows.
JSON analysis files are described by their lineage (``meta.built_from``, read from the first
kilobytes of the file) and mtime.

Categories (by file name, so a pre-existing flat folder works as it is):

* ``market``: ``<T>_<tf>.parquet`` with tf in 1m, 5m, 15m, 1h, 4h, 1d, 1w
  (role ``master`` for 1m, ``upsampled`` for 5m..4h, ``downloaded`` for 1d/1w).
* ``derived``: ``<T>_daily_hod_lod.json``, ``<T>_profiler.json``, ``<T>_level_touches.json``,
  and ``web/<T>/`` (one entry per ticker).
* ``other``: the verified backups (``backups/<name>.<stamp>.parquet``, one row each with its
  verification state from the last Verify of this process: no hashing here) and anything else.
  datamgr's other bookkeeping (quarantine/, live/, journal.jsonl, the lock and overrides files)
  is not listed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datamgr.core import layout
from datamgr.core.config import INTRADAY_DERIVED, TIMEFRAMES, Settings
from datamgr.core.errors import DataMgrError
from datamgr.core.timefmt import EMPTY, fmt_time, to_et_iso
from datamgr.derived.stale import read_json_meta, stale_outputs
from datamgr.health import coverage_cache
from datamgr.health.quick import quick_flags, segments_for
from datamgr.store.backup import list_backups, verification_state
from datamgr.store.footer import FileMeta, read_footer

_BAR_RE, _JSON_RE, _INTERNAL = layout.BAR_RE, layout.JSON_RE, layout.INTERNAL


@dataclass
class FileInfo:
    """One inventory row."""

    name: str
    category: str                 # market | derived | other
    ticker: str | None
    timeframe: str | None
    role: str                     # master | upsampled | downloaded | analysis | web | other
    path: str
    size_bytes: int
    last_updated: dt.datetime
    rows: int | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    coverage: float | None = None  # 1m masters: present in-session bars / expected (strays excluded)
    holes: int | None = None       # 1m masters: unacknowledged holes (health's failures)
    generation: int | None = None
    built_from: dict[str, Any] | None = None
    flags: list[str] = field(default_factory=list)
    meta: FileMeta | None = field(default=None, repr=False)  # footer of a bar file

    def to_json(self, tz: str) -> dict[str, Any]:
        return {
            "name": self.name, "category": self.category, "ticker": self.ticker,
            "timeframe": self.timeframe, "role": self.role,
            "start": to_et_iso(self.start, tz), "end": to_et_iso(self.end, tz),
            "last_updated": to_et_iso(self.last_updated, tz), "size_bytes": self.size_bytes,
            "rows": self.rows, "coverage": self.coverage, "holes": self.holes, "generation": self.generation,
            "flags": list(self.flags),
        }


def scan(settings: Settings, now: dt.datetime | None = None, coverage=None) -> list[FileInfo]:
    """Every file of the data folder with its state, sorted by category, ticker, name.

    Parameters
    ----------
    settings : Settings
    now : datetime, optional
        The clock for the "behind: N sessions" flag (UTC-aware); the wall clock when omitted.
    coverage : callable, optional
        ``coverage(settings, ticker) -> CoverageSummary``: Health's coverage function
        (:func:`datamgr.health.report.master_coverage`), called for a master whose figure is not
        in the folder's coverage cache yet (its answer is then remembered). Without it a cold
        master shows no coverage (never a footer estimate: stray prints would count as coverage).
    """
    root = Path(settings.data_dir)
    if not root.is_dir():
        return []
    out: list[FileInfo] = []
    for p in sorted(root.iterdir()):
        if p.name.startswith(".") or p.name in _INTERNAL:
            continue
        if p.is_dir():
            if p.name == "web":
                out.extend(_web_entries(p))
            else:
                out.append(_other(p, size=_dir_size(p)))
            continue
        m = _BAR_RE.match(p.name)
        if m:
            out.append(_bar_entry(p, m["ticker"], m["tf"]))
            continue
        j = _JSON_RE.match(p.name)
        if j:
            out.append(_json_entry(p, j["ticker"]))
            continue
        out.append(_other(p))
    out.extend(_backup_entries(settings))
    _flag_stale(settings, out)
    _add_health(settings, out, now, coverage)
    order = {"market": 0, "derived": 1, "other": 2}
    out.sort(key=lambda f: (order[f.category], f.ticker or "", TIMEFRAMES.index(f.timeframe)
                            if f.timeframe in TIMEFRAMES else 99, f.name))
    return out


#: flag text -> icon (first match wins); the Flags column shows icons, the selection the words.
#: Text symbols (not colour emoji): they render with the fonts every browser has.
FLAG_ICONS: tuple[tuple[str, str], ...] = (
    ("demo data", "⚗"), ("stale", "◷"), ("derived missing", "✚"), ("behind", "◔"), ("hole", "⊘"),
    ("gap", "⊘"), ("FAILED", "✘"), ("missing", "✘"), ("not verified", "◌"), ("verified", "✔"),
    ("footer", "⚠"), ("empty", "∅"), ("not checked", "◌"), ("legacy", "⚑"),
)


def flag_icon(flag: str) -> str:
    """The icon of one flag (``⚠`` when no rule matches)."""
    low = flag.lower()
    return next((icon for key, icon in FLAG_ICONS if key.lower() in low), "⚠")


def to_frame(files: list[FileInfo], tz: str, zones: dict[str, str] | None = None):
    """The inventory as a pandas frame for display (fits 1280 px): times as ``2025-07-14 00:36 ET``
    text in ``tz`` (or, with ``zones`` = ticker -> zone, in each instrument's zone: ``... IST`` for
    NIFTY), sizes in MB, flags as icons (their words are in ``FileInfo.flags``), never a None cell
    (``—`` or blank)."""
    import pandas as pd  # heavy: only for the page's table

    def text(v: dt.datetime | None, ticker: str | None = None) -> str:
        return fmt_time(v, (zones or {}).get(ticker or "", tz)) if v is not None else EMPTY

    rows = [{
        "file": f.name, "rows": EMPTY if f.rows is None else f"{f.rows:,}",
        "start": text(f.start, f.ticker), "end": text(f.end, f.ticker), "updated": text(f.last_updated, f.ticker),
        "size MB": round(f.size_bytes / 1e6, 3),
        "coverage": EMPTY if f.coverage is None else f"{100 * f.coverage:.2f} %",
        "flags": " ".join(dict.fromkeys(flag_icon(x) for x in f.flags)),
    } for f in files]
    return pd.DataFrame(rows, columns=["file", "rows", "start", "end", "updated", "size MB", "coverage", "flags"])


def check_data_dir(path: str | Path) -> str | None:
    """Why ``path`` cannot be the data folder (the sidebar's switcher), or None when it can."""
    p = Path(path).expanduser()
    if not p.exists():
        return f"{p} does not exist: create the folder first."
    if not p.is_dir():
        return f"{p} is a file, not a folder."
    return None


def preview(settings: Settings, name: str, n: int = 5) -> dict[str, Any]:
    """Schema, footer metadata and the first/last ``n`` bars of one Parquet file of the folder.

    Reads only the first and last row groups (one open handle), never the whole file.
    """
    import polars as pl  # heavy: only for a preview
    import pyarrow.parquet as pq  # heavy: only for a preview

    p = Path(settings.data_dir) / name
    if p.parent.resolve() != Path(settings.data_dir).resolve() or not _BAR_RE.match(name) or not p.is_file():
        return {"name": name, "error": "not a bar file of the data folder"}
    meta = read_footer(p)
    with open(p, "rb") as f:
        pf = pq.ParquetFile(f)
        schema = [(fld.name, str(fld.type)) for fld in pf.schema_arrow]
        groups = pf.metadata.num_row_groups
        if groups == 0:
            head = tail = None
        else:
            first = pf.read_row_group(0)
            last = pf.read_row_group(groups - 1) if groups > 1 else first
            head, tail = _display(pl.from_arrow(first)).head(n), _display(pl.from_arrow(last)).tail(n)

    def et(df: pl.DataFrame | None):
        if df is None:
            return None
        tz = settings.display_tz_for(meta.ticker) if meta.ticker else settings.display_tz
        return df.with_columns(pl.col("datetime").dt.convert_time_zone(tz)).to_pandas()
    return {"name": name, "schema": schema, "meta": meta, "head": et(head), "tail": et(tail)}


def _display(df):
    """A row group as shown in a preview: categorical ``source`` as text (the file's own columns,
    no schema conversion: a preview shows what is stored)."""
    if "source" in df.columns:
        import polars as pl  # heavy: only for a preview

        df = df.with_columns(pl.col("source").cast(pl.String))
    return df


def tickers(settings: Settings) -> list[str]:
    """Tickers that have a 1m master in the data folder (file names only: the sidebar calls this
    on every page render, so it must not scan footers or compute flags)."""
    root = Path(settings.data_dir)
    if not root.is_dir():
        return []
    return sorted(m["ticker"] for p in root.glob("*_1m.parquet") if (m := _BAR_RE.match(p.name)))


# ---------------------------------------------------------------------- entries
def _bar_entry(p: Path, ticker: str, tf: str) -> FileInfo:
    meta: FileMeta = read_footer(p)
    role = "master" if tf == "1m" else ("upsampled" if tf in INTRADAY_DERIVED else "downloaded")
    info = FileInfo(
        name=p.name, category="market", ticker=ticker, timeframe=tf, role=role, path=str(p),
        size_bytes=meta.size_bytes, last_updated=meta.mtime, rows=meta.rows, start=meta.start,
        end=meta.end, generation=meta.generation, built_from=meta.built_from,
        flags=list(meta.problems), meta=meta,
    )
    if meta.rows == 0 and not meta.problems:
        info.flags.append("empty file")
    if meta.sources and "demo" in meta.sources:
        info.flags.append("demo data (synthetic, not market prices)")
    return info


def _json_entry(p: Path, ticker: str) -> FileInfo:
    st = p.stat()
    meta = read_json_meta(p)
    built = meta.get("built_from") if isinstance(meta, dict) else None
    return FileInfo(
        name=p.name, category="derived", ticker=ticker, timeframe=None, role="analysis", path=str(p),
        size_bytes=st.st_size, last_updated=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC),
        built_from=built if isinstance(built, dict) else None,
        flags=[] if meta is not None else ["no lineage (legacy file)"],
    )


def _web_entries(web: Path) -> list[FileInfo]:
    out = []
    for d in sorted(x for x in web.iterdir() if x.is_dir()):
        idx = d / "index.json"
        built = None
        if idx.is_file():
            meta = read_json_meta(idx)
            built = meta.get("built_from") if isinstance(meta, dict) else None
        files = [f for f in d.rglob("*.json")]
        mtime = max((f.stat().st_mtime for f in files), default=d.stat().st_mtime)
        out.append(FileInfo(
            name=f"web/{d.name}/", category="derived", ticker=d.name, timeframe=None, role="web",
            path=str(d), size_bytes=sum(f.stat().st_size for f in files),
            last_updated=dt.datetime.fromtimestamp(mtime, dt.UTC), rows=len(files),
            built_from=built if isinstance(built, dict) else None,
        ))
    return out


def _other(p: Path, size: int | None = None) -> FileInfo:
    st = p.stat()
    return FileInfo(name=p.name + ("/" if p.is_dir() else ""), category="other", ticker=None, timeframe=None,
                    role="other", path=str(p), size_bytes=st.st_size if size is None else size,
                    last_updated=dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))


def _backup_entries(settings: Settings) -> list[FileInfo]:
    """One row per backup of the manifest, flagged with its cached verification state."""
    out = []
    for rec in list_backups(settings):
        p = Path(settings.data_dir) / rec.path
        state = verification_state(settings, rec)
        try:
            mtime = dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)
        except OSError:
            mtime = dt.datetime.fromisoformat(rec.time)
        out.append(FileInfo(name=rec.path, category="other", ticker=None, timeframe=None, role="backup",
                            path=str(p), size_bytes=rec.size, last_updated=mtime, rows=rec.rows,
                            flags=[f"backup of {rec.source} ({rec.reason}): {state}"]))
    return out


def _dir_size(p: Path) -> int:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


# ---------------------------------------------------------------------- flags
def _flag_stale(settings: Settings, files: list[FileInfo]) -> None:
    """Flag derived outputs that do not follow their 1m master (lineage, settings, daily file,
    or for legacy files mtime: "Profiler data is older than Parquet data"); missing outputs are
    flagged on the master."""
    by_name = {f.name: f for f in files}
    for m in (f for f in files if f.role == "master" and f.ticker):
        try:
            stale = stale_outputs(settings, m.ticker)
        except DataMgrError as err:
            m.flags.append(f"derived not checked: {err}")
            continue
        missing = [o for o in stale if o.reason == "missing"]
        if missing:
            m.flags.append(f"derived missing: {len(missing)} output(s) (run regenerate)")
        for o in stale:
            if o.reason == "missing":
                continue
            web = f"web/{m.ticker}/"
            target = by_name.get(web if o.path.replace("\\", "/").startswith(web) else Path(o.path).name)
            if target is not None and f"stale: {o.message}" not in target.flags:
                target.flags.append(f"stale: {o.message}")


def _add_health(settings: Settings, files: list[FileInfo], now: dt.datetime | None = None, coverage=None) -> None:
    """Coverage, holes and the cheap health flags of each 1m master: Health's figure from the
    coverage cache (or ``coverage`` on a miss), staleness and gap flags from the cached calendar."""
    now = now or dt.datetime.now(dt.UTC)
    for f in files:
        if f.role != "master" or not f.rows or f.start is None or f.end is None:
            continue
        try:
            seg = segments_for(settings, f.ticker or "", f.start.date(), max(f.end.date(), now.date()))
            flags = quick_flags(settings, f.ticker or "", f.meta, now=now, seg=seg)
            cov = _coverage(settings, f, coverage)
        except DataMgrError as err:  # e.g. an unknown calendar or a broken overrides file
            f.flags.append(f"health not checked: {err}")
            continue
        f.flags.extend(fl for fl in flags if not fl.startswith("footer: "))  # footer problems already listed
        if cov is not None:
            f.coverage = round(cov["present"] / cov["expected"], 6) if cov["expected"] else None
            f.holes = cov["holes"]
            if cov["holes"]:
                f.flags.append(f"holes: {cov['holes']} (see Health)")


def _coverage(settings: Settings, f: FileInfo, compute) -> dict | None:
    """Health's coverage figure of a master: remembered, or computed by ``compute`` and remembered."""
    hit = coverage_cache.load(settings, f.ticker or "", f.meta)
    if hit is None and compute is not None:
        c = compute(settings, f.ticker or "")
        hit = {"expected": c.expected, "present": c.present, "outside": c.outside, "holes": c.holes,
               "quiet": c.quiet}
        coverage_cache.save(settings, f.ticker or "", f.meta, hit)
    return hit
