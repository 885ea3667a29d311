"""Parquet footers of bar files: what a file holds without reading a data page.

Light on purpose (pyarrow only, no polars or pandas): ``status`` and the inventory read every
footer of the data folder through this module. :mod:`datamgr.store.store` re-exports
:class:`FileMeta` and :func:`read_footer`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

META_KEY = b"datamgr"

__all__ = ["META_KEY", "FileMeta", "known_damage", "read_footer", "remember_damage"]

# Never turned into "damaged footer": the user or the interpreter asked to stop.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)
# Files a read found damaged: path -> (dev, inode, size, mtime_ns, what). The inventory (footer
# only) flags them while they are unchanged.
_damaged: dict[str, tuple[int, int, int, int, str]] = {}
_damaged_guard = threading.Lock()


def remember_damage(path: Path, what: str) -> None:
    """Record that a full read of ``path`` found it damaged (until the file changes)."""
    try:
        st = os.lstat(path)
    except OSError:
        return
    with _damaged_guard:
        _damaged[str(path)] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, what)


def known_damage(path: Path, st: os.stat_result) -> str | None:
    """What a read in this process found wrong with ``path``, if the file has not changed since."""
    with _damaged_guard:
        hit = _damaged.get(str(path))
    if hit is not None and hit[:4] == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
        return hit[4]
    return None


@dataclass(frozen=True)
class FileMeta:
    """What the Parquet footer says about a bar file (no data pages read)."""

    path: str
    rows: int
    start: dt.datetime | None
    end: dt.datetime | None
    size_bytes: int
    mtime: dt.datetime
    generation: int | None = None
    content_sha256: str | None = None
    written_at: str | None = None
    operation_id: str | None = None
    ticker: str | None = None
    timeframe: str | None = None
    columns: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    built_from: dict[str, Any] | None = None
    sources: dict[str, int] | None = None
    contracts: list[dict[str, Any]] | None = None
    #: sha256 of each row group's content (written by the store since content hash v2), and the
    #: row count of each row group as the Parquet footer states it
    row_group_digests: tuple[str, ...] | None = None
    row_group_rows: tuple[int, ...] = ()


_CACHE: dict[tuple, FileMeta] = {}
_CACHE_MAX = 1024
_RACY_NS = 2_000_000_000


def read_footer(path: Path, *, cached: bool = True) -> FileMeta:
    """Metadata of a Parquet file from its footer only (one open handle).

    Never raises for a damaged file: what is wrong is in ``problems`` (including what a full
    read in this process found, :func:`known_damage`).

    Parameters
    ----------
    path : Path
    cached : bool
        Answer from the process's footer cache when the file is the one seen before: same
        device, inode, size, mtime and ctime (every datamgr write is a new file renamed into
        place, so a rewrite never matches; a file changed in the last two seconds is never
        cached — file times are coarse, so an in-place edit could keep them: git's "racily clean"
        rule). ``False`` always reads (the store's read-back).
    """
    st = Path(path).stat()
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if cached and key in _CACHE and known_damage(Path(path), st) is None:
        return _CACHE[key]
    try:
        meta = _read_footer(Path(path), st)
    except (*_PASS_THROUGH, OSError):
        raise
    except BaseException as err:  # noqa: BLE001 - any footer a flipped bit made unreadable
        return FileMeta(str(path), 0, None, None, st.st_size, _mtime(st), problems=(f"damaged footer: {err}",))
    if cached and not meta.problems and time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > _RACY_NS:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = meta
    return meta


def _read_footer(path: Path, st: os.stat_result) -> FileMeta:
    problems: list[str] = []
    if (seen := known_damage(path, st)) is not None:
        problems.append(f"damaged: {seen}")
    with open(path, "rb") as f:
        try:
            md = pq.ParquetFile(f, pre_buffer=False).metadata  # no IO thread pool: see calendar.cache
        except Exception as err:  # noqa: BLE001 - any unreadable footer is a finding
            return FileMeta(str(path), 0, None, None, st.st_size, _mtime(st), problems=(f"unreadable footer: {err}",))
    kv = md.metadata or {}
    info: dict[str, Any] = {}
    if META_KEY in kv:
        try:
            info = json.loads(kv[META_KEY])
        except json.JSONDecodeError:
            problems.append("corrupt datamgr metadata")
    cols = tuple(md.schema.names)  # Parquet names: no Arrow/pandas schema conversion
    start = end = None
    tcol = next((c for c in ("datetime", "timestamp", "time", "date", "__index_level_0__") if c in cols), None)
    if tcol is None:
        problems.append("no datetime column")
    else:
        idx = cols.index(tcol)
        convert = _raw_converter(md.schema.column(idx))
        mins, maxs = [], []
        try:
            for stats in _column_stats(md, idx):
                if stats is None or not stats.has_min_max:
                    problems.append("no statistics on the datetime column")
                    break
                mins.append(convert(stats.min_raw) if convert else stats.min)
                maxs.append(convert(stats.max_raw) if convert else stats.max)
        except Exception as err:  # noqa: BLE001 - statistics a flipped bit made unreadable
            problems.append(f"damaged footer: {err}")
        if mins and not problems:
            start, end = _aware(min(mins)), _aware(max(maxs))
    if info and info.get("rows") not in (None, md.num_rows):
        problems.append(f"footer says {md.num_rows} rows, datamgr metadata says {info.get('rows')}")
    problems.extend(_footer_vs_metadata(info, cols, start, end))
    return FileMeta(
        path=str(path), rows=md.num_rows, start=start, end=end, size_bytes=st.st_size, mtime=_mtime(st),
        generation=info.get("generation"), content_sha256=info.get("content_sha256"),
        written_at=info.get("written_at"), operation_id=info.get("operation_id"),
        ticker=info.get("ticker"), timeframe=info.get("timeframe"), columns=cols, problems=tuple(problems),
        built_from=info.get("built_from"), sources=info.get("sources"), contracts=info.get("contracts"),
        row_group_digests=tuple(info["row_groups"]) if isinstance(info.get("row_groups"), list) else None,
        row_group_rows=tuple(md.row_group(g).num_rows for g in range(md.num_row_groups)),
    )


def _column_stats(md: pq.FileMetaData, idx: int) -> list[Any]:
    """Statistics of column ``idx`` in every row group.

    Raises ValueError when a row group's column chunk disagrees with the schema on the physical
    type: pyarrow would abort the whole process (an uncaught C++ exception) building statistics
    from such a footer -- one flipped bit is enough.
    """
    want = md.schema.column(idx).physical_type
    out = []
    for g in range(md.num_row_groups):
        chunk = md.row_group(g).column(idx)
        if chunk.physical_type != want:
            msg = f"row group {g} stores column {idx} as {chunk.physical_type}, the schema says {want}"
            raise ValueError(msg)
        out.append(chunk.statistics)
    return out


def _footer_vs_metadata(info: dict[str, Any], cols: tuple[str, ...], start: dt.datetime | None,
                        end: dt.datetime | None) -> list[str]:
    """Footer facts that contradict datamgr's own metadata (a flipped bit in the footer)."""
    if not info:
        return []
    out = []
    if "datetime" not in cols or "source" not in cols:
        out.append(f"columns {list(cols)} are not the ones datamgr wrote")
    for name, got in (("start", start), ("end", end)):
        want = info.get(name)
        if want and got is not None and _parse_iso(want) != got:
            out.append(f"footer statistics say {name} {got.isoformat()}, datamgr metadata says {want}")
    return out


def _parse_iso(text: Any) -> dt.datetime | None:
    try:
        return _aware(dt.datetime.fromisoformat(str(text)))
    except ValueError:
        return None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_UNITS = {"microseconds": 1, "milliseconds": 1_000, "nanoseconds": None}


def _raw_converter(col):
    """Physical statistic -> datetime for the common time columns, without pyarrow's logical
    conversion (``Statistics.min`` imports pandas for timestamps: ~0.3 s on a CLI start).
    None when the column is of another kind (the logical conversion is used then)."""
    lt = col.logical_type
    if col.physical_type == "INT64" and lt.type == "TIMESTAMP":
        unit = json.loads(lt.to_json()).get("timeUnit")
        if unit == "microseconds":
            return lambda v: _EPOCH + dt.timedelta(microseconds=v)
        if unit == "milliseconds":
            return lambda v: _EPOCH + dt.timedelta(milliseconds=v)
        if unit == "nanoseconds":
            return lambda v: _EPOCH + dt.timedelta(microseconds=v // 1000)
        return None
    if col.physical_type == "INT32" and lt.type == "DATE":
        return lambda v: dt.date(1970, 1, 1) + dt.timedelta(days=v)
    return None


def time_bounds(md: pq.FileMetaData, idx: int) -> list[tuple[dt.datetime | None, dt.datetime | None] | None]:
    """(min, max) of column ``idx`` per row group, as aware datetimes, from the raw statistics
    (no pandas import); None for a row group without min/max statistics."""
    convert = _raw_converter(md.schema.column(idx))
    out: list[tuple[dt.datetime | None, dt.datetime | None] | None] = []
    for st in _column_stats(md, idx):
        if st is None or not st.has_min_max:
            out.append(None)
        elif convert is not None:
            out.append((_aware(convert(st.min_raw)), _aware(convert(st.max_raw))))
        else:
            out.append((_aware(st.min), _aware(st.max)))
    return out


def _aware(v: Any) -> dt.datetime | None:
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC)
    return None


def _mtime(st: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
