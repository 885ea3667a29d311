"""The store writes real Parquet files safely: round trip, invariants, no-op and dry-run writes,
verified backups, the journal, temp-file hygiene and legacy files.

Failure injection, crashes and concurrency are in ``test_store_faults.py``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os

import polars as pl
import pyarrow.parquet as pq
import pytest

from datamgr.core.errors import InvariantError, StoreError
from datamgr.core.schema import bar_schema
from datamgr.ops.demo import make_demo_bars
from datamgr.store import journal
from datamgr.store.backup import list_backups, sha256_file
from datamgr.store.store import ROW_GROUP, Store, content_sha256, read_footer
from tests.conftest import folder_hash

# ---------------------------------------------------------------------------- helpers


def page_has_crc(path, offset: int) -> bool:
    """Whether the Parquet page header at ``offset`` carries a CRC (thrift compact PageHeader).

    Fields 1-3 (type, uncompressed size, compressed size) are i32s (header byte 0x15 = delta 1,
    type i32); an i32 field 4 right after them is the CRC. Without it the next header is field 5 or 7.
    """
    with open(path, "rb") as f:
        f.seek(offset)
        buf = f.read(64)
    i = 0
    for _ in range(3):
        assert buf[i] == 0x15, f"unexpected page header byte {buf[i]:#x}"
        i += 1
        while buf[i] & 0x80:
            i += 1
        i += 1
    return buf[i] == 0x15


def corrupt(path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0xFF]))


def journal_lines(settings) -> list[dict]:
    """Completed journal entries (write-ahead ``intent`` lines left out)."""
    p = settings.journal_path
    lines = [json.loads(x) for x in p.read_text().splitlines()] if p.is_file() else []
    return [x for x in lines if x.get("outcome") != "intent"]


def tmp_files(settings) -> list[str]:
    dirs = [settings.data_dir, settings.backups_dir]
    return [p.name for d in dirs if d.is_dir() for p in d.iterdir() if ".tmp-" in p.name]


def shifted(df: pl.DataFrame, ticks: float = 0.25) -> pl.DataFrame:
    """The same bars with every price moved up by one tick (a different, valid content)."""
    return df.with_columns([pl.col(c) + ticks for c in ("open", "high", "low", "close")])


# ---------------------------------------------------------------------------- round trip


def test_written_bars_read_back_identical_with_exact_schema(store, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    back = store.read("ES1", "1m")
    assert back.schema == pl.Schema(bar_schema())
    assert back.equals(week_bars)


def test_footer_metadata_describes_the_file_and_generation_counts_writes(store, settings, week_bars):
    r1 = store.write("ES1", "1m", week_bars, operation="test")
    r2 = store.write("ES1", "1m", shifted(week_bars), operation="test")
    r3 = store.write("ES1", "1m", week_bars, operation="test")
    assert (r1.generation, r2.generation, r3.generation) == (1, 2, 3)
    path = settings.bar_path("ES1", "1m")
    info = json.loads(pq.ParquetFile(path).metadata.metadata[b"datamgr"])
    assert info["schema_version"] == 1
    assert (info["ticker"], info["timeframe"], info["rows"]) == ("ES1", "1m", week_bars.height)
    assert info["start"] == week_bars["datetime"][0].isoformat()
    assert info["end"] == week_bars["datetime"][-1].isoformat()
    assert info["generation"] == 3
    assert info["content_sha256"] == content_sha256(store.read("ES1", "1m")) == r3.content_sha256
    assert info["operation_id"] == r3.op_id
    meta = store.read_meta("ES1", "1m")
    assert (meta.rows, meta.generation, meta.start, meta.end) == (
        week_bars.height, 3, week_bars["datetime"][0], week_bars["datetime"][-1])


def test_files_are_written_with_zstd_page_checksums_statistics_and_million_row_groups(big_master):
    settings, bars = big_master
    path = settings.bar_path("ES1", "1m")
    md = pq.ParquetFile(path).metadata
    assert md.num_rows == bars.height > ROW_GROUP
    assert [md.row_group(i).num_rows for i in range(md.num_row_groups)] == [ROW_GROUP, bars.height - ROW_GROUP]
    for g in range(md.num_row_groups):
        for c in range(md.num_columns):
            col = md.row_group(g).column(c)
            assert col.compression == "ZSTD"
            assert col.statistics is not None and col.statistics.has_min_max
            assert page_has_crc(path, col.data_page_offset), f"no page CRC in {col.path_in_schema}"


def test_the_page_header_probe_tells_files_without_checksums_apart(tmp_path, week_bars):
    plain = tmp_path / "plain.parquet"
    pq.write_table(week_bars.to_arrow(), plain, compression="zstd")
    col = pq.ParquetFile(plain).metadata.row_group(0).column(1)
    assert not page_has_crc(plain, col.data_page_offset)


def test_a_flipped_byte_in_a_data_page_is_caught_by_the_page_checksum(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    path = settings.bar_path("ES1", "1m")
    col = pq.ParquetFile(path).metadata.row_group(0).column(1)  # "open"
    corrupt(path, col.data_page_offset + col.total_compressed_size // 2)
    with pytest.raises(StoreError, match="cannot be read"):
        store.read("ES1", "1m")


def test_a_missing_file_reads_as_an_empty_frame_with_the_schema(store, settings):
    df = store.read("ES1", "1m")
    assert df.height == 0 and df.schema == pl.Schema(bar_schema())
    assert store.read("ES1", "5m").schema == pl.Schema(bar_schema(with_bars=True))
    assert store.read_meta("ES1", "1m") is None
    assert folder_hash(settings.data_dir) == {}


# ---------------------------------------------------------------------------- invariants

def _break(df: pl.DataFrame, row: int, **values) -> pl.DataFrame:
    return df.with_row_index("_i").with_columns([
        pl.when(pl.col("_i") == row).then(pl.lit(v)).otherwise(pl.col(k)).cast(df.schema[k]).alias(k)
        for k, v in values.items()
    ]).drop("_i")


def _bad_frames(bars: pl.DataFrame):
    r = 17
    row = bars.row(r, named=True)
    dup = pl.concat([bars.head(r + 1), bars.slice(r, 1), bars.slice(r + 1)])
    swapped = pl.concat([bars.head(r), bars.slice(r + 1, 1), bars.slice(r, 1), bars.slice(r + 2)])
    with_null = bars.with_columns(pl.when(pl.int_range(pl.len()) == r).then(None)
                                  .otherwise(pl.col("volume")).alias("volume"))
    return {
        "schema mismatch": (bars.with_columns(pl.lit("many").alias("volume")), None),
        "missing column": (bars.drop("volume"), None),
        "null value": (with_null, r),
        "NaN or inf price": (_break(bars, r, close=float("nan")), r),
        "inf": (_break(bars, r, high=float("inf")), r),
        "price <= 0": (_break(bars, r, open=0.0, low=-1.0), r),
        "low > min(open, close)": (_break(bars, r, low=min(row["open"], row["close"]) + 0.25,
                                          high=max(row["open"], row["close"]) + 1), r),
        "high < max(open, close)": (_break(bars, r, high=max(row["open"], row["close"]) - 0.25), r),
        "low > high": (_break(bars, r, low=row["high"] + 1, open=row["high"] + 2, close=row["high"] + 2,
                              high=row["high"]), r),
        "volume < 0": (_break(bars, r, volume=-5), r),
        "fractional volume": (_break(bars.with_columns(pl.col("volume").cast(pl.Float64)), r, volume=98.7), r),
        "duplicate": (dup, r + 1),
        "out of order": (swapped, r + 1),
    }


RULES = {"missing column": "lacks column", "inf": "NaN or inf price", "duplicate": "datetime not strictly increasing",
         "out of order": "datetime not strictly increasing"}


@pytest.mark.parametrize("case", list(_bad_frames(make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 3)))))
def test_every_invariant_violation_is_refused_naming_the_rule_and_row_and_nothing_changes(
        store, settings, week_bars, case):
    store.write("ES1", "1m", week_bars, operation="test")
    before = folder_hash(settings.data_dir)
    bad, row = _bad_frames(week_bars)[case]
    with pytest.raises(InvariantError) as err:
        store.write("ES1", "1m", bad, operation="test")
    msg = str(err.value)
    assert RULES.get(case, case) in msg
    if row is not None:
        assert f"rows {row}" in msg
        assert any(v.rows and v.rows[0] == row for v in err.value.violations)
    else:
        assert "volume" in msg
    assert folder_hash(settings.data_dir) == before


# ---------------------------------------------------------------------------- no-op, dry run

def test_writing_identical_content_is_a_no_op(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    before = folder_hash(settings.data_dir)
    mtime = settings.bar_path("ES1", "1m").stat().st_mtime_ns
    res = store.write("ES1", "1m", week_bars.clone(), operation="test")
    assert not res.written and res.generation == 1 and res.backup is None
    assert folder_hash(settings.data_dir) == before
    assert settings.bar_path("ES1", "1m").stat().st_mtime_ns == mtime
    assert len(journal_lines(settings)) == 1
    assert list_backups(settings) == []


def test_a_dry_run_writes_nothing(store, settings, week_bars):
    res = store.write("ES1", "1m", week_bars, operation="test", dry_run=True)
    assert res.dry_run and not res.written and res.rows_after == week_bars.height
    assert folder_hash(settings.data_dir) == {}
    store.write("ES1", "1m", week_bars, operation="test")
    before = folder_hash(settings.data_dir)
    res = store.write("ES1", "1m", shifted(week_bars), operation="test", dry_run=True)
    assert not res.written and res.generation == 2
    assert folder_hash(settings.data_dir) == before


# ---------------------------------------------------------------------------- backups, journal

def test_a_verified_backup_of_the_previous_file_precedes_every_replacing_write(store, settings, week_bars):
    path = settings.bar_path("ES1", "1m")
    first = store.write("ES1", "1m", week_bars, operation="test")
    assert first.backup is None  # nothing to back up yet
    previous = []
    for k in range(1, 4):
        previous.append(path.read_bytes())
        res = store.write("ES1", "1m", shifted(week_bars, 0.25 * k), operation="test")
        assert res.backup is not None
    records = list(reversed(list_backups(settings, "ES1_1m.parquet")))
    assert len(records) == 3
    for rec, old in zip(records, previous):
        copy = settings.data_dir / rec.path
        assert copy.read_bytes() == old
        assert rec.sha256 == hashlib.sha256(old).hexdigest() == sha256_file(copy)
        assert rec.rows == week_bars.height
        assert rec.source == "ES1_1m.parquet" and rec.reason == "test"
        assert rec.path.startswith("backups/ES1_1m.") and rec.path.endswith(".parquet")
    manifest = [json.loads(x) for x in (settings.backups_dir / "manifest.jsonl").read_text().splitlines()]
    assert [m["sha256"] for m in manifest] == [r.sha256 for r in records]


def test_each_write_appends_one_journal_line_with_its_counts(store, settings, week_bars):
    store.write("ES1", "1m", week_bars.head(100), operation="import", details={"added": 100})
    res = store.write("ES1", "1m", week_bars, operation="import", details={"added": week_bars.height - 100})
    lines = journal_lines(settings)
    assert len(lines) == 2
    e = lines[-1]
    assert e["id"] == res.op_id and e["op"] == "import" and e["file"] == "ES1_1m.parquet"
    assert e["outcome"] == "ok"
    assert (e["rows_before"], e["rows_after"]) == (100, week_bars.height)
    assert e["added"] == week_bars.height - 100
    assert e["backup"] == res.backup.path
    assert e["sha256_before"] == lines[0]["sha256_after"] == content_sha256(week_bars.head(100))
    assert e["sha256_after"] == content_sha256(week_bars)
    assert dt.datetime.fromisoformat(e["time"]).tzinfo is not None
    assert [x["id"] for x in journal.read(settings)] == [res.op_id, lines[0]["id"]]


# ---------------------------------------------------------------------------- temp files, legacy

def test_orphaned_temp_files_are_removed_by_the_next_writer(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    settings.backups_dir.mkdir(exist_ok=True)
    orphans = [settings.data_dir / ".ES1_1m.parquet.tmp-999999-deadbeef",
               settings.backups_dir / ".ES1_1m.20250101T000000Z.parquet.tmp-999999-cafe0000"]
    for o in orphans:
        o.write_bytes(b"torn")
    keep = settings.data_dir / "notes.tmp.txt"
    keep.write_text("not ours")
    store.write("ES1", "1m", shifted(week_bars), operation="test")
    assert not any(o.exists() for o in orphans)
    assert keep.read_text() == "not ours"
    assert tmp_files(settings) == []


@pytest.mark.parametrize("zone", [None, "UTC"])
def test_a_legacy_pandas_file_is_read_and_described(store, settings, week_bars, zone):
    pdf = week_bars.to_pandas()
    pdf["datetime"] = pdf["datetime"].dt.tz_convert(zone) if zone else pdf["datetime"].dt.tz_localize(None)
    path = settings.bar_path("ES1", "1m")
    pdf.to_parquet(path)
    meta = store.read_meta("ES1", "1m")
    assert meta.rows == week_bars.height and meta.generation is None and meta.content_sha256 is None
    assert (meta.start, meta.end) == (week_bars["datetime"][0], week_bars["datetime"][-1])
    assert meta.problems == ()
    assert store.read("ES1", "1m").equals(week_bars)
    # The first datamgr write backs the legacy file up and starts its generations at 1.
    legacy = path.read_bytes()
    res = store.write("ES1", "1m", shifted(week_bars), operation="test")
    assert res.generation == 1 and (settings.data_dir / res.backup.path).read_bytes() == legacy


def test_a_legacy_file_without_a_source_column_is_read_with_source_legacy(store, settings, week_bars):
    pdf = week_bars.drop("source").to_pandas().set_index("datetime")
    pdf.to_parquet(settings.bar_path("ES1", "1m"))
    meta = store.read_meta("ES1", "1m")
    assert (meta.rows, meta.start, meta.end) == (week_bars.height, week_bars["datetime"][0],
                                                 week_bars["datetime"][-1])
    back = store.read("ES1", "1m")
    assert back.drop("source").equals(week_bars.drop("source"))
    assert back["source"].unique().to_list() == ["legacy"]


def test_read_footer_reports_an_unreadable_file_as_a_problem_not_an_exception(settings):
    p = settings.data_dir / "ES1_1m.parquet"
    p.write_bytes(b"not parquet at all")
    meta = read_footer(p)
    assert meta.rows == 0 and meta.problems and "unreadable footer" in meta.problems[0]
    with pytest.raises(StoreError):
        Store(settings).read("ES1", "1m")


def test_the_store_refuses_tickers_that_escape_the_data_folder(store, settings, week_bars):
    from datamgr.core.errors import ConfigError
    for bad in ("../x", "..", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError):
            store.write(bad, "1m", week_bars, operation="test")
    assert not any(settings.data_dir.parent.glob("*.parquet"))
    assert os.listdir(settings.data_dir) == []


def test_a_frame_that_is_not_in_the_canonical_schema_fails_the_schema_check(week_bars):
    from datamgr.core.schema import check_bars

    with pytest.raises(InvariantError, match="schema mismatch"):
        check_bars(week_bars.with_columns(pl.col("volume").cast(pl.Float64)))


def test_a_frame_built_from_chunks_with_different_sources_writes_and_reads_back(store, week_bars):
    """``pl.concat`` keeps one chunk (and one ``source`` dictionary) per part: the read-back must
    compare values, not dictionary layouts."""
    half = week_bars.height // 2
    parts = [week_bars.head(half), week_bars.slice(half).with_columns(pl.lit("yahoo").alias("source"))]
    df = pl.concat(parts, rechunk=False)
    assert df.n_chunks() == 2
    res = store.write("ES1", "1m", df, operation="test")
    assert res.written
    back = store.read("ES1", "1m")
    assert back.equals(df)
    assert dict(back.group_by("source").len().iter_rows()) == {"demo": half, "yahoo": week_bars.height - half}


def test_a_torn_last_journal_line_is_reported_and_the_next_line_starts_fresh(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    with open(settings.journal_path, "ab") as f:
        f.write(b'{"id": "torn", "op": "imp')  # a crash in the middle of an append
    res = store.write("ES1", "1m", shifted(week_bars), operation="test")
    entries = journal.read(settings)
    assert [e["outcome"] for e in entries] == ["ok", "unreadable", "ok"]
    assert entries[0]["id"] == res.op_id
    assert settings.journal_path.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("damage", ["footer", "pages of a legacy file"])
def test_a_damaged_master_can_be_replaced_and_its_bytes_are_kept_in_a_verified_backup(
        store, settings, week_bars, damage):
    path = settings.bar_path("ES1", "1m")
    if damage == "footer":
        store.write("ES1", "1m", week_bars, operation="test")
        data = bytearray(path.read_bytes())
        data[-12:-4] = b"\x00" * 8  # footer length and part of the footer: unreadable
        path.write_bytes(bytes(data))
    else:
        week_bars.to_pandas().to_parquet(path, compression=None)  # legacy: no content hash in the footer
        col = pq.ParquetFile(path).metadata.row_group(0).column(1)
        corrupt(path, col.data_page_offset + col.total_compressed_size // 2)
        with pytest.raises(StoreError, match="cannot be read"):
            store.read("ES1", "1m")
    damaged = path.read_bytes()
    res = store.write("ES1", "1m", week_bars, operation="restore")
    assert res.written and store.read("ES1", "1m").equals(week_bars)
    copy = settings.data_dir / res.backup.path
    assert copy.read_bytes() == damaged
    rec = list_backups(settings)[0]
    assert rec.sha256 == hashlib.sha256(damaged).hexdigest()
    assert journal_lines(settings)[-1]["backup"] == res.backup.path
