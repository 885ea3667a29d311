"""Read only the changed tail of a 1m master for an incremental regeneration.

The store keeps the sha256 of every row group in the master's footer (``row_groups``, content
hash v2) and the regeneration state keeps the row-group digests of the master it last saw. The
first row group whose digest differs is the first that can hold a changed bar; everything
before it is byte-for-byte the content the state's day fingerprints were computed from. So the
master is read from the row group *before* the first changed one (it holds the session that may
straddle the boundary and the days the steps look back to) to the end, and only those days are
fingerprinted again. Nothing is trusted that the footer does not prove:

* the footer's content hash must equal the hash of its row-group digests, and the row groups
  must have the store's layout (every one :data:`~datamgr.store.store.ROW_GROUP` rows but the last);
* the state must describe exactly the master the outputs were built from (its digests combine to
  the content hash of its ``built_from``);
* the rows read must reach back to every day a step needs (the year of the first changed day
  and the session before it: row-group statistics prove no earlier bar is needed), else None.

Any doubt returns None and the caller reads the whole master (the full path).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from datamgr.store.footer import FileMeta
from datamgr.store.store import ROW_GROUP, combine_digests, table_to_bars

log = logging.getLogger(__name__)


@dataclass
class Tail:
    """The master's rows from ``first_row`` on, and what they prove."""

    bars: pl.DataFrame
    first_row: int
    first_group: int          # row group of ``first_row``
    changed_group: int        # first row group whose digest changed (== groups: none changed)
    groups: int
    earlier_max: dt.datetime | None  # latest bar before ``first_row`` (row-group statistics)
    #: when the read starts at the first changed row group: the state's fingerprint of the bars
    #: before it that belong to the day in progress there (``day``, ``rows``, ``hash``)
    head: tuple[dt.date, int, int] | None = None


def trusted_digests(meta: FileMeta) -> tuple[str, ...] | None:
    """The footer's row-group digests if they provably describe the file, else None."""
    d, rows = meta.row_group_digests, meta.row_group_rows
    if not d or len(d) != len(rows) or not meta.content_sha256:
        return None
    if any(n != ROW_GROUP for n in rows[:-1]) or (rows and rows[-1] > ROW_GROUP):
        return None
    if combine_digests(list(d)) != meta.content_sha256:
        return None
    return d


def first_changed(old: list[str] | tuple[str, ...], new: tuple[str, ...]) -> int:
    """Index of the first row group whose digest differs; ``len(new)`` when none does."""
    for i, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            return i
    return len(new) if len(old) == len(new) else min(len(old), len(new))


def read_tail(path: Path, meta: FileMeta, state: dict) -> Tail | None:
    """The rows of the master from the row group before the first changed one, or None when the
    footer or the state cannot prove which rows changed (the caller then reads everything)."""
    new = trusted_digests(meta)
    old = state.get("row_groups")
    built = state.get("built_from") or {}
    if new is None or not old or combine_digests(list(old)) != built.get("content_sha256"):
        return None
    k = first_changed(old, new)
    if k == 0:
        return None  # the first row group changed: nothing to save
    first_group = min(k, len(new)) - 1
    head = state_head(state, k) if k < len(new) else None
    if head is not None:
        first_group = k  # the bars before it are summarised by the state: not read
    with pa.memory_map(str(path), "r") as src:
        pf = pq.ParquetFile(src, page_checksum_verification=True)
        md = pf.metadata
        if md.num_row_groups != len(new):
            return None
        earlier_max = None
        if first_group > 0:
            earlier_max = _max_time(md, first_group - 1)
            if earlier_max is None:
                return None
        table = pf.read_row_groups(list(range(first_group, len(new))))
    log.debug("%s: row groups %d.. of %d read (first changed %d)", path.name, first_group, len(new), k)
    return Tail(table_to_bars(table), first_group * ROW_GROUP, first_group, k, len(new), earlier_max, head)


def state_head(state: dict, group: int) -> tuple[dt.date, int, int] | None:
    """The state's boundary fingerprint at the start of row group ``group`` (see
    :func:`datamgr.derived.lineage.boundary_heads`), or None."""
    try:
        day, rows, h = (state.get("heads") or {})[str(group)]
        return dt.date.fromisoformat(day), int(rows), int(h, 16)
    except (KeyError, TypeError, ValueError):
        return None


def read_groups(path: Path, meta: FileMeta, first: int, last: int) -> pl.DataFrame | None:
    """The bars of row groups ``first .. last-1`` (page checksums verified), or None when the file
    no longer has the layout its footer digests describe."""
    with pa.memory_map(str(path), "r") as src:
        pf = pq.ParquetFile(src, page_checksum_verification=True)
        if trusted_digests(meta) is None or pf.metadata.num_row_groups != len(meta.row_group_digests):
            return None
        return table_to_bars(pf.read_row_groups(list(range(first, last))))


def group_max(path: Path, group: int) -> dt.datetime | None:
    """The latest ``datetime`` of a row group (footer statistics), or None when unknown."""
    return _max_time(pq.ParquetFile(str(path)).metadata, group)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _max_time(md: pq.FileMetaData, group: int) -> dt.datetime | None:
    """The ``datetime`` maximum of a row group from its raw statistics (UTC microseconds): the
    statistics' ``max`` would convert through pandas (0.2 s to import in a fresh process)."""
    i = md.schema.names.index("datetime")
    unit = json.loads(md.schema.column(i).logical_type.to_json() or "{}")
    st = md.row_group(group).column(i).statistics
    if (st is None or not st.has_min_max or unit.get("Type") != "Timestamp"
            or unit.get("timeUnit") != "microseconds" or not isinstance(st.max_raw, int)):
        return None
    return _EPOCH + dt.timedelta(microseconds=st.max_raw)
