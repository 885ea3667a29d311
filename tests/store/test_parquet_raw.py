"""Parquet files assembled from row groups encoded apart (issue 13): byte for byte what one writer
writes; kept row groups copied raw with every page CRC checked; layouts that cannot be moved are
refused and the store then encodes them again (same bytes either way)."""

from __future__ import annotations

import datetime as dt
import io
import json
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datamgr.core.errors import DamagedFileError
from datamgr.core.schema import arrow_schema
from datamgr.ops.demo import make_demo_bars
from datamgr.store import parquet_raw as raw
from datamgr.store import store as store_mod
from datamgr.store.store import META_KEY, WRITE_OPTIONS, Store, read_footer, to_arrow_table
from tests.conftest import folder_hash

GROUP = 2_000
POOL = ThreadPoolExecutor(2)


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return make_demo_bars(dt.date(2024, 1, 2), dt.date(2024, 1, 12))


def _one_writer(table: pa.Table, group: int, kv: dict[bytes, bytes] | None = None, **options) -> bytes:
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, **{**WRITE_OPTIONS, **options}) as w:
        w.write_table(table, row_group_size=group)
        if kv:
            w.add_key_value_metadata(kv)
    return sink.getvalue().to_pybytes()


def _assembled(parts, kv=None) -> bytes:
    out = io.BytesIO()
    size = raw.assemble(parts, out, kv)
    assert size == len(out.getvalue())
    return out.getvalue()


@pytest.mark.parametrize("rows", [0, 1, GROUP - 1, GROUP, GROUP + 1, 5 * GROUP + 17])
@pytest.mark.parametrize("upsampled", [False, True])
def test_row_groups_encoded_apart_and_assembled_are_the_bytes_one_writer_writes(bars, rows, upsampled):
    df = bars.head(rows)
    if upsampled:
        df = df.with_columns(pl.lit("upsampled").alias("source"), pl.lit(5, pl.Int32).alias("bars"))
    table = to_arrow_table(df, arrow_schema(upsampled))
    kv = {META_KEY: json.dumps({"rows": rows}).encode()}
    one = _one_writer(table, GROUP, kv)
    parts = raw.encode_parts(table, WRITE_OPTIONS, GROUP, pool=POOL)
    assert len(parts) == max(1, -(-rows // GROUP))
    got = _assembled(parts, kv)
    if rows:
        assert got == one
    else:  # one writer writes an empty row group; the assembled file has none
        assert pq.ParquetFile(pa.BufferReader(got)).metadata.num_row_groups == 0
    back = pq.ParquetFile(pa.BufferReader(got), page_checksum_verification=True)
    assert back.read().equals(table) and back.metadata.metadata[META_KEY] == kv[META_KEY]


def test_a_kept_prefix_plus_new_parts_is_the_whole_file_and_every_kept_page_is_checked(bars):
    table = to_arrow_table(bars.head(7 * GROUP + 5), arrow_schema(False))
    old = _one_writer(table.slice(0, 5 * GROUP + 3), GROUP, {META_KEY: b'{"old": 1}'})
    kept = raw.part_of(old, 3)
    assert kept.rows == 3 * GROUP and kept.start == 4
    pages = raw.check_page_crcs(old, kept)
    assert pages >= 3 * 7  # at least one page per column chunk
    tail = raw.encode_parts(table.slice(3 * GROUP), WRITE_OPTIONS, GROUP, pool=POOL)
    kv = {META_KEY: b'{"new": 2}'}
    assert _assembled([kept, *tail], kv) == _one_writer(table, GROUP, kv)


def test_a_flipped_byte_in_a_kept_page_fails_its_checksum(bars):
    table = to_arrow_table(bars.head(3 * GROUP), arrow_schema(False))
    data = bytearray(_one_writer(table, GROUP))
    part = raw.part_of(bytes(data), 2)
    start, end = raw._chunk_range(raw._get(part.groups[1], raw._RG_COLUMNS)[1][4])  # close, group 1
    data[end - 3] ^= 0x40  # inside the last page's compressed bytes
    with pytest.raises(raw.PageChecksumError, match="checksum mismatch"):
        raw.check_page_crcs(bytes(data), raw.part_of(bytes(data), 2))
    assert raw.check_page_crcs(bytes(data), raw.part_of(bytes(data), 1)) > 0  # group 0 untouched


def test_layouts_that_cannot_be_moved_are_refused(bars):
    table = to_arrow_table(bars.head(2 * GROUP), arrow_schema(False))
    with pytest.raises(raw.RawLayoutError, match="offset index"):
        raw.part_of(_one_writer(table, GROUP, write_page_index=True))
    with pytest.raises(raw.RawLayoutError, match="magic"):
        raw.part_of(b"PAR1 not parquet at all")
    mine = raw.part_of(_one_writer(table, GROUP))
    raw.check_same_layout(mine, raw.part_of(_one_writer(table.slice(0, 1), GROUP)))
    snappy = raw.part_of(_one_writer(table, GROUP, compression="snappy"))
    with pytest.raises(raw.RawLayoutError, match="codec or encodings"):
        raw.check_same_layout(snappy, mine)
    no_crc = _one_writer(table, GROUP, write_page_checksum=False)
    with pytest.raises(raw.RawLayoutError, match="no checksum"):
        raw.check_page_crcs(no_crc, raw.part_of(no_crc))
    upsampled = raw.part_of(_one_writer(to_arrow_table(bars.head(10).with_columns(pl.lit(1, pl.Int32).alias("bars")),
                                                       arrow_schema(True)), GROUP))
    with pytest.raises(raw.RawLayoutError, match="schema"):
        raw.footer_bytes([upsampled, mine])
    with pytest.raises(raw.RawLayoutError, match="schema"):
        raw.check_same_layout(upsampled, mine)


@settings(max_examples=60, deadline=None)
@given(st.recursive(
    st.one_of(st.integers(-(2 ** 63), 2 ** 63 - 1).map(lambda n: (raw._I64, n)),
              st.integers(-(2 ** 31), 2 ** 31 - 1).map(lambda n: (raw._I32, n)),
              st.binary(max_size=40).map(lambda b: (raw._BINARY, b)),
              st.booleans().map(lambda b: (raw._TRUE if b else raw._FALSE, b)),
              st.binary(min_size=8, max_size=8).map(lambda b: (raw._DOUBLE, b))),
    lambda kids: st.one_of(
        st.lists(kids, max_size=20).map(lambda xs: (raw._STRUCT, [[i * 7 % 40 + i + 1, t, v] for i, (t, v) in
                                                                   enumerate(xs)])),
        st.lists(st.integers(-1000, 1000), max_size=20).map(lambda xs: (raw._LIST, (raw._I32, xs)))),
    max_leaves=30))
def test_the_thrift_codec_reads_back_what_it_writes(value):
    t, v = value
    fields = v if t == raw._STRUCT else [[1, t, v]]
    fields.sort(key=lambda f: f[0])
    data = raw._encode(fields)
    r = raw._Reader(data)
    assert r.struct() == fields and r.pos == len(data)


def test_the_codec_reads_and_rewrites_real_footers_unchanged(bars):
    """Footers of files written by pyarrow (every field kept, doubles as raw bytes): same bytes."""
    for table in (to_arrow_table(bars, arrow_schema(False)), pa.table({"x": [1.5, float("nan")], "s": ["a", None]})):
        data = _one_writer(table, GROUP)
        fmd, start = raw.footer_of(data)
        assert raw._encode(fmd) == data[start:-8]


# ----------------------------------------------------------------------------- the store
@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(store_mod, "ROW_GROUP", GROUP)


def test_a_store_write_keeps_row_groups_as_raw_bytes_and_equals_a_whole_write(small_groups, store: Store, bars,
                                                                                tmp_path):
    store.write("ES1", "5m", bars.head(9_500), operation="regenerate", backup=False)
    old = store.path("ES1", "5m").read_bytes()
    n, _ = store.read_after_row_groups("ES1", "5m", bars["datetime"][7_000])
    assert n == 3
    w = store.write("ES1", "5m", bars.slice(3 * GROUP, 8_000), operation="regenerate", backup=False,
                    keep_row_groups=n, op_id="same")
    new = store.path("ES1", "5m").read_bytes()
    kept = raw.part_of(old, 3)
    assert new[4:kept.end] == old[4:kept.end]  # copied, not encoded again
    whole = Store(store.settings.__class__.load(data_dir=tmp_path / "whole", env={}))
    whole.write("ES1", "5m", bars.head(3 * GROUP + 8_000), operation="regenerate", backup=False, op_id="same")
    a, b = read_footer(store.path("ES1", "5m")), read_footer(whole.path("ES1", "5m"))
    assert a.content_sha256 == b.content_sha256 == w.content_sha256
    # the same file apart from the write time in the footer metadata
    assert raw.part_of(new).groups == raw.part_of(whole.path("ES1", "5m").read_bytes()).groups
    assert new[:raw.part_of(new).end] == whole.path("ES1", "5m").read_bytes()[:raw.part_of(new).end]


def test_a_kept_row_group_with_a_damaged_page_is_refused_and_nothing_changes(small_groups, store: Store, settings,
                                                                            bars):
    store.write("ES1", "5m", bars.head(9_500), operation="regenerate", backup=False)
    p = store.path("ES1", "5m")
    data = bytearray(p.read_bytes())
    part = raw.part_of(bytes(data), 3)
    _, end = raw._chunk_range(raw._get(part.groups[2], raw._RG_COLUMNS)[1][2])  # high, group 2
    data[end - 2] ^= 0x01
    p.write_bytes(bytes(data))
    before = folder_hash(settings.data_dir)
    with pytest.raises(DamagedFileError, match="checksum"):
        store.write("ES1", "5m", bars.slice(3 * GROUP, 100), operation="regenerate", backup=False, keep_row_groups=3)
    assert folder_hash(settings.data_dir) == before


@pytest.mark.parametrize("layout", ["page index", "plain encodings (files of earlier versions)"])
def test_a_file_of_another_layout_keeps_its_rows_by_encoding_them_again(small_groups, store: Store, bars, tmp_path,
                                                                       layout, caplog):
    """A kept prefix that cannot be copied raw (a page index; the plain encodings earlier versions
    wrote): decoded and encoded again; the result is the file a whole write gives."""
    store.write("ES1", "5m", bars.head(9_500), operation="regenerate", backup=False)
    p = store.path("ES1", "5m")
    table = pq.read_table(p)
    info = pq.ParquetFile(p).metadata.metadata
    options = {"write_page_index": True} if layout == "page index" else {}
    pq.write_table(table.replace_schema_metadata(info), p, row_group_size=GROUP, write_page_checksum=True,
                   compression="zstd", use_dictionary=["source"], **options)
    with pytest.raises(raw.RawLayoutError):
        raw.check_same_layout(raw.part_of(p.read_bytes(), 3), store_mod._layout(True))
    with caplog.at_level("INFO", logger="datamgr.store.store"):
        store.write("ES1", "5m", bars.slice(3 * GROUP, 8_000), operation="regenerate", backup=False,
                    keep_row_groups=3)
    assert "kept row groups encoded again" in caplog.text
    whole = Store(store.settings.__class__.load(data_dir=tmp_path / "whole", env={}))
    whole.write("ES1", "5m", bars.head(3 * GROUP + 8_000), operation="regenerate", backup=False)
    new, ref = p.read_bytes(), whole.path("ES1", "5m").read_bytes()
    assert raw.part_of(new).groups == raw.part_of(ref).groups
    assert new[:raw.part_of(new).end] == ref[:raw.part_of(ref).end]


def test_masters_and_upsampled_files_read_the_same_in_pyarrow_polars_and_pandas(store: Store, bars):
    """The encodings (deltas for times and counts, byte-split prices) are read by the readers a
    trader's scripts use, each with its own decoder: polars' native reader, pandas through pyarrow."""
    up = bars.head(3_000).with_columns(pl.lit("upsampled").alias("source"), pl.lit(5, pl.Int32).alias("bars"))
    store.write("ES1", "1m", bars, operation="test", backup=False)
    store.write("ES1", "5m", up, operation="test", backup=False)
    for tf, want in (("1m", bars), ("5m", up)):
        p = store.path("ES1", tf)
        md = pq.ParquetFile(p).metadata.row_group(0)
        enc = {md.column(i).path_in_schema: md.column(i).encodings for i in range(md.num_columns)}
        assert "DELTA_BINARY_PACKED" in enc["datetime"] and "BYTE_STREAM_SPLIT" in enc["close"]
        native = pl.read_parquet(p, use_pyarrow=False).with_columns(pl.col("source").cast(pl.String))
        assert native.equals(want)
        pdf = pl.from_pandas(pd.read_parquet(p)).with_columns(pl.col("source").cast(pl.String))
        assert pdf.with_columns(pl.col("datetime").cast(pl.Datetime("us", "UTC"))).equals(want)


def test_writes_of_many_row_groups_read_back_on_several_threads_every_time(monkeypatch, store: Store):
    """The read-back decodes row groups side by side, each through a reader of its own: one shared
    ParquetFile fails now and then ("ReadRangeCache did not find matching cache entry")."""
    monkeypatch.setattr(store_mod, "ROW_GROUP", 1_000)
    bars = make_demo_bars(dt.date(2024, 1, 2), dt.date(2024, 1, 31))
    for i in range(20):
        w = store.write("ES1", "1m", bars.head(bars.height - i), operation="test", backup=False)
        assert w.written and pq.ParquetFile(store.path("ES1", "1m")).metadata.num_row_groups > 20
