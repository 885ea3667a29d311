"""Per-day JSON outputs as spliceable text: an incremental run keeps the bytes of the unchanged
leading rows and serializes only the rows from the first changed day on.

The outputs ``hod_lod``, ``profiler`` and ``levels`` are one JSON object whose ``days`` list holds
one object per trading day in date order, each starting with its ``"date"`` key. Their text is
exactly ``json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)``, which for
a dict is ``{`` + ``,``-joined ``key:value`` + ``}`` and for a list ``[`` + ``,``-joined items +
``]``: :func:`assemble` builds it from those pieces (the same bytes) and records where each day row
starts. Beside every such file a *rows index* ``.derived/<T>.<step>.rows.parquet`` (regenerable
bookkeeping, no fsync) keeps:

* per day row: its byte offset ``start`` and the step's summary inputs (e.g. the profiler's
  ranges and time buckets, the level touch flags), so a summary over every day needs no parse;
* in the Parquet metadata: the sha256 and size of the JSON file it describes and the offset of
  the ``]`` that closes ``days``.

:func:`open_rows` trusts the index only when the file's bytes hash to the recorded sha256, the
sizes agree and the offsets land on row boundaries (``[`` or ``,`` before each ``{"date":"``);
anything else (a hand-edited or truncated file, an index from another build, a killed run
between the two writes) returns None and the caller parses the whole file as before. Because
the hashed text is our own ``json.dumps`` output, the kept prefix is exactly the rows the file
held, and the rows from the first changed day on are parsed, merged and re-serialized.
"""

from __future__ import annotations

import bisect
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from datamgr.core import layout
from datamgr.derived.web_chunks import write_atomic
from datamgr.store.store import Store

log = logging.getLogger(__name__)

_ENC = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
_ROW = b'{"date":"'
#: bump when the index layout changes (older indexes are then not trusted)
INDEX_VERSION = "1"


def enc(obj: Any) -> bytes:
    """``obj`` as the derived JSON text (the store's ``write_json`` encoding), UTF-8."""
    return _ENC(obj).encode("utf-8")


@dataclass
class RowsDoc:
    """A serialized per-day document: its bytes, the offset of every day row, of the closing ``]``."""

    data: bytes
    starts: np.ndarray
    end: int


@dataclass
class OldRows:
    """A per-day JSON file proven to be what its rows index describes."""

    data: bytes
    sha256: str
    starts: np.ndarray
    end: int
    inputs: pl.DataFrame  # the summary inputs, one row per day row

    def date(self, i: int) -> str:
        s = int(self.starts[i]) + len(_ROW)
        return self.data[s:s + 10].decode("ascii")

    def first_at_or_after(self, date: str) -> int:
        """Index of the first row whose date is ``>= date`` (rows are in date order)."""
        return bisect.bisect_left(range(len(self.starts)), date, key=self.date)

    def rows_from(self, i: int) -> list[dict]:
        """The rows from index ``i`` on, parsed."""
        if i >= len(self.starts):
            return []
        return json.loads(b"[" + self.data[int(self.starts[i]):self.end] + b"]")

    def prefix(self, i: int) -> bytes:
        """The text of rows ``0 .. i-1`` (comma-joined), as the file holds it."""
        if i <= 0:
            return b""
        return self.data[int(self.starts[0]):int(self.starts[i]) - 1 if i < len(self.starts) else self.end]


def index_path(settings_data_dir: Path, ticker: str, step: str) -> Path:
    return layout.rows_index_path(settings_data_dir, ticker, step)


def assemble(head: dict, kept: bytes, kept_starts: np.ndarray, rows: list[dict], tail: dict) -> RowsDoc:
    """The bytes of ``{**head, "days": [<kept rows>, *rows], **tail}`` as ``json.dumps`` writes them.

    ``kept`` is the comma-joined text of leading rows already serialized (``kept_starts``: their
    offsets, relative to any origin); ``rows`` are serialized here."""
    pre = b"{" + b"".join(enc(k) + b":" + enc(v) + b"," for k, v in head.items()) + b'"days":['
    texts = [enc(r) for r in rows]
    base = len(pre)
    ks = np.asarray(kept_starts, dtype=np.int64)
    ks = ks - ks[0] + base if len(ks) else ks
    first_new = base + len(kept) + (1 if kept else 0)
    lens = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    ns = first_new + np.concatenate([[0], np.cumsum(lens)[:-1]]) if len(texts) else np.zeros(0, np.int64)
    body = kept + (b"," if kept and texts else b"") + b",".join(texts)
    post = b"]" + b"".join(b"," + enc(k) + b":" + enc(v) for k, v in tail.items()) + b"}"
    return RowsDoc(pre + body + post, np.concatenate([ks, ns]).astype(np.int64), base + len(body))


def open_rows(path: Path, index: Path) -> OldRows | None:
    """The file at ``path`` with its rows index, or None when the index does not prove the file
    (module docstring): the caller then parses the file in full."""
    try:
        table = pq.ParquetFile(index).read()  # not read_table: pyarrow.dataset imports pandas
        meta = {k.decode(): v.decode() for k, v in (table.schema.metadata or {}).items()}
        if meta.get("version") != INDEX_VERSION:
            return None
        size, sha, end = int(meta["json_size"]), meta["json_sha256"], int(meta["days_end"])
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        starts = frame["start"].to_numpy().astype(np.int64)  # (ChunkedArray.to_numpy imports pandas)
        data = path.read_bytes()
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return None
    if len(data) != size or hashlib.sha256(data).hexdigest() != sha:
        log.info("%s: rows index does not match the file: parsing it in full", path.name)
        return None
    arr = np.frombuffer(data, np.uint8)
    if not 0 < end < len(data) or arr[end] != ord("]") or (len(starts) and (
            starts[0] <= 0 or starts[-1] >= end or np.any(np.diff(starts) <= 0)
            or arr[starts[0] - 1] != ord("[") or np.any(arr[starts[1:] - 1] != ord(","))
            or np.any(arr[starts] != ord("{")))):
        return None
    return OldRows(data, sha, starts, end, frame.drop("start"))


def write(store: Store, path: Path, doc: RowsDoc, inputs: pl.DataFrame, index: Path, *, operation: str,
          before: str | None) -> str:
    """Write the JSON file atomically and durably, journal it (as ``Store.write_json`` does), then
    its rows index (no fsync: a torn index is not trusted and only costs a full parse).

    ``before``: sha256 of the file being replaced (None: hashed here when it exists)."""
    with store.lock(f"{operation} {path.name}"):
        index.unlink(missing_ok=True)  # never an index beside a file it does not describe
        sha = store.write_json_bytes(path, doc.data, operation=operation, before=before)
        frame = pl.concat([pl.DataFrame({"start": pl.Series(doc.starts, dtype=pl.Int64)}), inputs],
                          how="horizontal")  # built by polars: pa.array(numpy) imports pandas
        table = frame.to_arrow().replace_schema_metadata({"version": INDEX_VERSION, "json_sha256": sha,
                                               "json_size": str(len(doc.data)), "days_end": str(doc.end)})
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        write_atomic(index, buf.getvalue())
    return sha


@dataclass
class Spec:
    """How one step's document is laid out around its ``days`` rows."""

    head: Callable[[], dict]                       # keys before ``days``
    inputs: Callable[[list[dict]], pl.DataFrame]   # per-row summary inputs
    tail: Callable[[pl.DataFrame], dict]           # keys after ``days``, from every row's inputs


def full_doc(spec: Spec, rows: list[dict]) -> tuple[RowsDoc, pl.DataFrame]:
    """The document of ``rows`` (all days) and their summary inputs."""
    inputs = spec.inputs(rows)
    return assemble(spec.head(), b"", np.zeros(0, np.int64), rows, spec.tail(inputs)), inputs


def splice(spec: Spec, old: OldRows, target: set[str], new: list[dict]) -> tuple[RowsDoc, pl.DataFrame]:
    """The document with the rows of the ``target`` dates replaced by ``new`` (rows of dates in
    ``target`` only; a target date without a new row is removed): the old text is kept up to
    the first target date, the rows after it are parsed, merged and serialized again."""
    f = old.first_at_or_after(min(target)) if target else len(old.starts)
    after = [r for r in old.rows_from(f) if r["date"] not in target]
    merged = sorted(after + new, key=lambda r: r["date"])
    inputs = pl.concat([old.inputs.head(f), spec.inputs(merged)], how="vertical")
    doc = assemble(spec.head(), old.prefix(f), old.starts[:f], merged, spec.tail(inputs))
    return doc, inputs
