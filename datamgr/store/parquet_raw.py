"""Parquet files assembled from row groups encoded apart, and row groups copied without re-encoding.

Pyarrow encodes a file's row groups one after another on one thread and cannot copy a row group
from another file without decoding and encoding it again. A row group's bytes, however, hold no
absolute file position (page headers carry sizes and checksums only): only the footer does. So

* :func:`encode_parts` encodes slices of a table on several threads, each into a complete
  in-memory Parquet file (the same writer options, so the same bytes per row group);
* :func:`assemble` writes ``PAR1``, the row-group bytes of each part one after another, and one
  footer: the parts' footers joined, every absolute offset moved by where its bytes now start,
  row-group ordinals renumbered, the file's key-value metadata appended. The result is byte for
  byte the file one writer would have written (``tests/store/test_parquet_raw.py``);
* :func:`leading_row_groups` takes the first row groups of an existing file as raw bytes, each
  page checked against its CRC-32, for a rewrite that keeps them as they are.

The footer is Thrift compact protocol. :class:`_Reader` / :func:`_encode` read and write it
generically (field order, types and values kept, doubles kept as their 8 raw bytes), so fields
this module does not know pass through unchanged; only the offsets listed in ``_SHIFTED`` and the
totals are edited. A file that uses what this module does not move (page indexes, bloom filters,
file paths, encryption) is refused (:class:`RawLayoutError`); callers then write it the usual way.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

MAGIC = b"PAR1"

# Thrift compact types
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)

# field ids (parquet.thrift)
_FMD_NUM_ROWS, _FMD_ROW_GROUPS, _FMD_KV = 3, 4, 5
_RG_COLUMNS, _RG_NUM_ROWS, _RG_FILE_OFFSET, _RG_TOTAL_COMPRESSED, _RG_ORDINAL = 1, 3, 5, 6, 7
_CC_FILE_PATH, _CC_FILE_OFFSET, _CC_META = 1, 2, 3
_CC_REFUSED = {4: "an offset index", 6: "a column index", 8: "encryption", 9: "encryption"}
_CMD_TOTAL_COMPRESSED, _CMD_DATA_PAGE, _CMD_INDEX_PAGE, _CMD_DICT_PAGE = 7, 9, 10, 11
_CMD_REFUSED = {14: "a bloom filter"}
_PH_COMPRESSED, _PH_CRC = 3, 4


class RawLayoutError(ValueError):
    """The file's layout is not one this module can splice (or its bytes are not Parquet)."""


class PageChecksumError(ValueError):
    """A page's bytes do not match the CRC-32 in its header."""


# ----------------------------------------------------------------------------- thrift compact
# A struct is a list of [field_id, type, value]; a list/set is (element_type, [values]); a map is
# (key_type, value_type, [(k, v)]). Booleans inside collections are kept as their raw byte.
class _Reader:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes | memoryview, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def _byte(self) -> int:
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = out = 0
        while True:
            b = self._byte()
            out |= (b & 0x7F) << shift
            if b < 0x80:
                return out
            shift += 7
            if shift > 70:
                raise RawLayoutError("thrift varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def value(self, t: int, in_collection: bool = False) -> Any:
        if t in (_TRUE, _FALSE):
            return self._byte() if in_collection else t == _TRUE
        if t == _BYTE:
            return self._byte()
        if t in (_I16, _I32, _I64):
            return self.zigzag()
        if t == _DOUBLE:
            raw = bytes(self.buf[self.pos:self.pos + 8])
            self.pos += 8
            return raw
        if t == _BINARY:
            n = self.varint()
            raw = bytes(self.buf[self.pos:self.pos + n])
            if len(raw) != n:
                raise RawLayoutError("thrift binary runs past the end")
            self.pos += n
            return raw
        if t in (_LIST, _SET):
            h = self._byte()
            n, et = h >> 4, h & 0x0F
            if n == 15:
                n = self.varint()
            return (et, [self.value(et, True) for _ in range(n)])
        if t == _MAP:
            n = self.varint()
            if n == 0:
                return (0, 0, [])
            kv = self._byte()
            kt, vt = kv >> 4, kv & 0x0F
            return (kt, vt, [(self.value(kt, True), self.value(vt, True)) for _ in range(n)])
        if t == _STRUCT:
            return self.struct()
        raise RawLayoutError(f"thrift type {t} not understood")

    def struct(self) -> list[list[Any]]:
        fields: list[list[Any]] = []
        last = 0
        while True:
            h = self._byte()
            t = h & 0x0F
            if t == 0:
                return fields
            delta = h >> 4
            fid = last + delta if delta else self.zigzag()
            fields.append([fid, t, self.value(t)])
            last = fid


def _varint(n: int, out: bytearray) -> None:
    while True:
        if n < 0x80:
            out.append(n)
            return
        out.append((n & 0x7F) | 0x80)
        n >>= 7


def _zigzag(n: int, out: bytearray) -> None:
    _varint((n << 1) ^ (n >> 63), out)


def _value(t: int, v: Any, out: bytearray, in_collection: bool = False) -> None:
    if t in (_TRUE, _FALSE):
        if in_collection:
            out.append(v)
        return  # a struct field's boolean lives in its header
    if t == _BYTE:
        out.append(v & 0xFF)
    elif t in (_I16, _I32, _I64):
        _zigzag(v, out)
    elif t == _DOUBLE:
        out += v
    elif t == _BINARY:
        _varint(len(v), out)
        out += v
    elif t in (_LIST, _SET, _MAP):
        _collection(t, v, out)
    elif t == _STRUCT:
        _struct(v, out)
    else:
        raise RawLayoutError(f"thrift type {t} not understood")


def _collection(t: int, v: Any, out: bytearray) -> None:
    if t == _MAP:
        kt, vt, pairs = v
        _varint(len(pairs), out)
        if pairs:
            out.append(kt << 4 | vt)
            for k, x in pairs:
                _value(kt, k, out, True)
                _value(vt, x, out, True)
        return
    et, items = v
    if len(items) < 15:
        out.append(len(items) << 4 | et)
    else:
        out.append(0xF0 | et)
        _varint(len(items), out)
    for x in items:
        _value(et, x, out, True)


def _struct(fields: list[list[Any]], out: bytearray) -> None:
    last = 0
    for fid, t, v in fields:
        if t in (_TRUE, _FALSE):
            t = _TRUE if v else _FALSE
        delta = fid - last
        if 0 < delta <= 15:
            out.append(delta << 4 | t)
        else:
            out.append(t)
            _zigzag(fid, out)
        _value(t, v, out)
        last = fid
    out.append(0)


def _encode(fields: list[list[Any]]) -> bytes:
    out = bytearray()
    _struct(fields, out)
    return bytes(out)


def _field(fields: list[list[Any]], fid: int) -> list[Any] | None:
    return next((f for f in fields if f[0] == fid), None)


def _get(fields: list[list[Any]], fid: int, default: Any = None) -> Any:
    f = _field(fields, fid)
    return default if f is None else f[2]


# ----------------------------------------------------------------------------- footer
def footer_of(buf: bytes | memoryview) -> tuple[list[list[Any]], int]:
    """(decoded FileMetaData, byte offset where it starts) of a whole Parquet file in ``buf``."""
    if len(buf) < 12 or bytes(buf[:4]) != MAGIC or bytes(buf[-4:]) != MAGIC:
        raise RawLayoutError("not a Parquet file (magic bytes missing)")
    n = struct.unpack("<I", bytes(buf[-8:-4]))[0]
    start = len(buf) - 8 - n
    if start < 4:
        raise RawLayoutError("Parquet footer length out of range")
    r = _Reader(buf, start)
    fmd = r.struct()
    if r.pos != len(buf) - 8:
        raise RawLayoutError("Parquet footer does not end where its length says")
    return fmd, start


@dataclass
class _Span:
    """The bytes of one row group: [start, end) in its file, and its decoded RowGroup."""

    start: int
    end: int
    rg: list[list[Any]]


def _chunk_range(cc: list[list[Any]]) -> tuple[int, int]:
    for fid, what in _CC_REFUSED.items():
        if _field(cc, fid) is not None:
            raise RawLayoutError(f"column chunk with {what}")
    if _get(cc, _CC_FILE_PATH) is not None:
        raise RawLayoutError("column chunk in another file")
    md = _get(cc, _CC_META)
    if md is None:
        raise RawLayoutError("column chunk without metadata")
    for fid, what in _CMD_REFUSED.items():
        if _field(md, fid) is not None:
            raise RawLayoutError(f"column chunk with {what}")
    starts = [x for x in (_get(md, _CMD_DICT_PAGE), _get(md, _CMD_INDEX_PAGE), _get(md, _CMD_DATA_PAGE))
              if x is not None]
    start = min(starts)
    return start, start + _get(md, _CMD_TOTAL_COMPRESSED)


def _spans(fmd: list[list[Any]], data_end: int) -> list[_Span]:
    """Each row group's byte range; they must follow one another from offset 4 up to ``data_end``
    (the footer) or less, with no gap: the layout this module can move as one block."""
    groups = _get(fmd, _FMD_ROW_GROUPS, (_STRUCT, []))[1]
    out: list[_Span] = []
    pos = len(MAGIC)
    for rg in groups:
        ranges = [_chunk_range(cc) for cc in _get(rg, _RG_COLUMNS, (_STRUCT, []))[1]]
        if not ranges:
            raise RawLayoutError("row group without columns")
        lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
        if lo != pos or sum(b - a for a, b in ranges) != hi - lo:
            raise RawLayoutError("row groups are not contiguous")
        out.append(_Span(lo, hi, rg))
        pos = hi
    if pos > data_end:
        raise RawLayoutError("row groups run into the footer")
    return out


def _with(fields: list[list[Any]], changes: dict[int, Any]) -> list[list[Any]]:
    """A copy of struct ``fields`` with the values of the fields in ``changes`` replaced (the
    other values are shared, not copied)."""
    return [[f[0], f[1], changes[f[0]]] if f[0] in changes else f for f in fields]


def _moved(rg: list[list[Any]], shift: int, ordinal: int) -> list[list[Any]]:
    """A copy of RowGroup ``rg`` with every absolute offset moved by ``shift`` and its ordinal set."""
    changes: dict[int, Any] = {}
    if _field(rg, _RG_ORDINAL) is not None:
        changes[_RG_ORDINAL] = ordinal
    if shift:
        if _get(rg, _RG_FILE_OFFSET) is not None:
            changes[_RG_FILE_OFFSET] = _get(rg, _RG_FILE_OFFSET) + shift
        cols = []
        for cc in _get(rg, _RG_COLUMNS)[1]:
            md = _get(cc, _CC_META)
            moved_md = _with(md, {f[0]: f[2] + shift for f in md if f[0] in (_CMD_DATA_PAGE, _CMD_INDEX_PAGE,
                                                                             _CMD_DICT_PAGE)})
            cc_changes: dict[int, Any] = {_CC_META: moved_md}
            if _get(cc, _CC_FILE_OFFSET):
                cc_changes[_CC_FILE_OFFSET] = _get(cc, _CC_FILE_OFFSET) + shift
            cols.append(_with(cc, cc_changes))
        changes[_RG_COLUMNS] = (_STRUCT, cols)
    return _with(rg, changes)


# ----------------------------------------------------------------------------- parts
@dataclass
class Part:
    """Row groups ready to be placed in a new file: their bytes (``data[start:end]``, one block)
    and their decoded RowGroup structs, plus the FileMetaData they came with."""

    data: bytes | memoryview
    start: int
    end: int
    groups: list[list[list[Any]]]
    fmd: list[list[Any]]

    @property
    def rows(self) -> int:
        return sum(_get(g, _RG_NUM_ROWS) for g in self.groups)


def part_of(buf: bytes | memoryview, n: int | None = None) -> Part:
    """The first ``n`` row groups (all when None) of the Parquet file in ``buf``."""
    buf = memoryview(buf)
    if buf.format != "B":  # an Arrow buffer exports signed bytes
        buf = buf.cast("B")
    fmd, fstart = footer_of(buf)
    if _get(fmd, _FMD_NUM_ROWS) == 0 and not n:  # a writer's empty row group holds nothing to place
        return Part(buf, len(MAGIC), len(MAGIC), [], fmd)
    spans = _spans(fmd, fstart)
    spans = spans if n is None else spans[:n]
    if n is not None and len(spans) != n:
        raise RawLayoutError(f"the file has {len(spans)} row groups, not {n}")
    end = spans[-1].end if spans else len(MAGIC)
    return Part(buf, len(MAGIC), end, [s.rg for s in spans], fmd)


def encode(table: pa.Table, options: dict[str, Any], row_group_size: int) -> memoryview:
    """``table`` as a complete Parquet file in memory (one writer, ``options``)."""
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, **options) as w:
        w.write_table(table, row_group_size=row_group_size)
    return memoryview(sink.getvalue())


def encode_parts(table: pa.Table, options: dict[str, Any], row_group_size: int, *,
                 pool: ThreadPoolExecutor | None = None) -> list[Part]:
    """``table`` encoded one row group per part (row groups of ``row_group_size`` rows, the last
    shorter), on ``pool``'s threads when given (the encoder releases the GIL)."""
    slices = [table.slice(i, row_group_size) for i in range(0, table.num_rows, row_group_size)] or [table]
    if len(slices) == 1:  # one writer is the same file: no splice
        return [part_of(encode(table, options, row_group_size))]
    if pool is None:
        blobs = [encode(s, options, row_group_size) for s in slices]
    else:
        blobs = list(pool.map(lambda s: encode(s, options, row_group_size), slices))
    return [part_of(b) for b in blobs]


def footer_bytes(parts: Sequence[Part], kv: dict[str | bytes, bytes] | None = None) -> tuple[bytes, list[tuple[Part, int]]]:
    """The footer (FileMetaData, its length and the magic) of ``parts`` placed one after another
    from offset 4, with the key-value pairs ``kv`` appended; and where each part's bytes go."""
    if not parts:
        raise RawLayoutError("no parts")
    template = parts[-1].fmd  # schema, created_by, column orders: the same in every part
    for part in parts[:-1]:
        _check_same_file_kind(part.fmd, template)
    groups: list[list[list[Any]]] = []
    placed: list[tuple[Part, int]] = []
    pos = len(MAGIC)
    for part in parts:
        shift = pos - part.start
        groups += [_moved(g, shift, len(groups) + i) for i, g in enumerate(part.groups)]
        placed.append((part, pos))
        pos += part.end - part.start
    changes: dict[int, Any] = {_FMD_NUM_ROWS: sum(p.rows for p in parts), _FMD_ROW_GROUPS: (_STRUCT, groups)}
    pairs = [[[1, _BINARY, k if isinstance(k, bytes) else k.encode()], [2, _BINARY, v]] for k, v in (kv or {}).items()]
    if pairs and _field(template, _FMD_KV) is not None:
        changes[_FMD_KV] = (_STRUCT, pairs + _get(template, _FMD_KV)[1])  # where add_key_value_metadata puts them
    for fid in (_FMD_NUM_ROWS, _FMD_ROW_GROUPS):
        if _field(template, fid) is None:
            raise RawLayoutError(f"Parquet footer without field {fid}")
    fmd = _with(template, changes)
    if pairs and _field(template, _FMD_KV) is None:
        fmd = sorted([*fmd, [_FMD_KV, _LIST, (_STRUCT, pairs)]], key=lambda x: x[0])
    body = _encode(fmd)
    return body + struct.pack("<I", len(body)) + MAGIC, placed


def assemble(parts: Sequence[Part], out: BinaryIO, kv: dict[str | bytes, bytes] | None = None) -> int:
    """Write one Parquet file of ``parts`` (in order) to ``out``; return its size."""
    tail, placed = footer_bytes(parts, kv)
    out.write(MAGIC)
    size = len(MAGIC)
    for part, _ in placed:
        size += out.write(memoryview(part.data)[part.start:part.end])
    return size + out.write(tail)


# ----------------------------------------------------------------------------- checks
def _check_same_file_kind(fmd: list[list[Any]], like: list[list[Any]]) -> None:
    """RawLayoutError unless two footers have the same schema, writer and column orders."""
    for fid, what in ((2, "schema"), (6, "writer (created_by)"), (7, "column orders")):
        if _get(fmd, fid) != _get(like, fid):
            raise RawLayoutError(f"row groups written with another {what}")


def check_same_layout(part: Part, like: Part) -> None:
    """RawLayoutError unless ``part``'s row groups are encoded as ``like``'s first row group is
    (same schema, writer, column orders, and per column the same codec and encodings): bytes
    copied from it then equal what encoding its rows again would give."""
    if not like.groups:
        raise RawLayoutError("no row group to compare the layout with")
    _check_same_file_kind(part.fmd, like.fmd)
    want = [(_get(_get(cc, _CC_META), 4), _get(_get(cc, _CC_META), 2))
            for cc in _get(like.groups[0], _RG_COLUMNS)[1]]
    for i, rg in enumerate(part.groups):
        got = [(_get(_get(cc, _CC_META), 4), _get(_get(cc, _CC_META), 2)) for cc in _get(rg, _RG_COLUMNS)[1]]
        if got != want:
            raise RawLayoutError(f"row group {i} is encoded with another codec or encodings")


def check_page_crcs(buf: bytes | memoryview, part: Part) -> int:
    """Check every page of ``part``'s row groups against the CRC-32 in its header; return the
    number of pages. PageChecksumError on a mismatch; RawLayoutError for a page without one."""
    mv = memoryview(buf)
    pages = 0
    for rg in part.groups:
        for cc in _get(rg, _RG_COLUMNS)[1]:
            pos, end = _chunk_range(cc)
            while pos < end:
                r = _Reader(mv, pos)
                ph = r.struct()
                size = _get(ph, _PH_COMPRESSED)
                crc = _get(ph, _PH_CRC)
                if size is None or r.pos + size > end:
                    raise PageChecksumError(f"page header at byte {pos} runs past its column chunk")
                if crc is None:  # written without page checksums: not the layout written now
                    raise RawLayoutError(f"page at byte {pos} has no checksum")
                if zlib.crc32(mv[r.pos:r.pos + size]) != crc & 0xFFFFFFFF:
                    raise PageChecksumError(f"page at byte {pos}: checksum mismatch")
                pos = r.pos + size
                pages += 1
    return pages
