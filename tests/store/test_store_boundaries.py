"""Store boundaries (issue 15): a read-back that returns different but well-formed content (valid
page checksums), a footer whose row count disagrees with the datamgr metadata, and the no-op check
that must look at lineage (a derived file whose content is unchanged but whose master changed).

Faults are injected at the OS boundary as in test_store_faults.py: ``os.fsync`` is wrapped so
that, just before the read-back, the temp file is replaced by another *valid* Parquet file
(written by pyarrow with page checksums): only the content comparison can catch it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datamgr.core.errors import DamagedFileError, ReadBackError
from datamgr.store.store import META_KEY, read_footer, read_parquet_once
from tests.conftest import folder_hash

PRICES = ("open", "high", "low", "close")


def _fd_name(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _rewrite_temp_on_fsync(monkeypatch, settings, change) -> list[int]:
    """On the fsync of the master's temp file, rewrite it as ``change(table)``: a valid Parquet file."""
    real_fsync = os.fsync
    hits: list[int] = []

    def fsync(fd):
        name = _fd_name(fd)
        p = Path(name)
        if p.parent == settings.data_dir.resolve() and p.name.startswith(".ES1_1m.parquet.tmp-"):
            real_fsync(fd)
            table = pq.read_table(name)
            out = change(table)
            pq.write_table(out, name, compression="zstd", write_page_checksum=True, write_statistics=True)
            hits.append(out.num_rows)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return hits


@pytest.fixture
def seeded(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    new = week_bars.with_columns([pl.col(c) + 0.25 for c in PRICES])
    return new, folder_hash(settings.data_dir), settings.bar_path("ES1", "1m").read_bytes()


def _untouched(settings, before, master) -> None:
    after = folder_hash(settings.data_dir)
    assert {k: v for k, v in after.items() if not k.startswith("backups/")} == \
        {k: v for k, v in before.items() if not k.startswith("backups/")}
    assert settings.bar_path("ES1", "1m").read_bytes() == master
    assert not [p for p in settings.data_dir.iterdir() if ".tmp-" in p.name]


def test_a_read_back_with_valid_checksums_but_one_changed_price_is_refused(store, settings, seeded, monkeypatch):
    new, before, master = seeded

    def one_cent(table: pa.Table) -> pa.Table:
        i = table.schema.get_field_index("close")
        col = table.column(i).to_pylist()
        col[len(col) // 2] += 0.01
        return table.set_column(i, table.schema.field(i), pa.array(col, type=table.schema.field(i).type))

    hits = _rewrite_temp_on_fsync(monkeypatch, settings, one_cent)
    with pytest.raises(ReadBackError, match="content read back differs"):
        store.write("ES1", "1m", new, operation="test")
    assert hits == [new.height]
    _untouched(settings, before, master)


def test_a_read_back_missing_one_row_is_refused_naming_both_counts(store, settings, seeded, monkeypatch):
    new, before, master = seeded
    _rewrite_temp_on_fsync(monkeypatch, settings, lambda t: t.slice(0, t.num_rows - 1))
    with pytest.raises(ReadBackError, match=f"wrote {new.height} rows, read back {new.height - 1}"):
        store.write("ES1", "1m", new, operation="test")
    _untouched(settings, before, master)


def test_a_read_back_with_another_schema_is_refused(store, settings, seeded, monkeypatch):
    new, before, master = seeded
    _rewrite_temp_on_fsync(monkeypatch, settings,
                           lambda t: t.set_column(t.schema.get_field_index("volume"), "volume",
                                                  t.column("volume").cast(pa.float64())))
    with pytest.raises(ReadBackError, match="schema changed on read-back"):
        store.write("ES1", "1m", new, operation="test")
    _untouched(settings, before, master)


def _with_meta(path: Path, out: Path, **changes) -> dict:
    table = pq.read_table(path)
    info = json.loads(pq.ParquetFile(path).metadata.metadata[META_KEY])  # the file's key-value metadata
    info.update(changes)
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(info).encode()}),
                   out, write_page_checksum=True)
    return info


def test_a_footer_row_count_that_disagrees_with_the_datamgr_metadata_is_a_problem(store, settings, week_bars,
                                                                                  tmp_path):
    store.write("ES1", "1m", week_bars, operation="test")
    p = settings.bar_path("ES1", "1m")
    assert read_footer(p).problems == ()
    bad = tmp_path / "bad.parquet"
    _with_meta(p, bad, rows=week_bars.height + 1)
    meta = read_footer(bad)
    assert meta.rows == week_bars.height
    assert meta.problems == (f"footer says {week_bars.height} rows, datamgr metadata says {week_bars.height + 1}",)
    same = tmp_path / "same.parquet"
    _with_meta(p, same, rows=week_bars.height)
    assert read_footer(same).problems == ()


def test_a_damaged_footer_metadata_master_is_refused_and_only_a_restore_replaces_it(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    p = settings.bar_path("ES1", "1m")
    _with_meta(p, p, rows=week_bars.height + 5)  # the footer now contradicts the metadata
    damaged = p.read_bytes()
    with pytest.raises(DamagedFileError, match="6905|footer"):
        store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + 1), operation="test")
    assert p.read_bytes() == damaged  # issue 11: never a write over a damaged file
    res = store.write("ES1", "1m", week_bars, operation="restore")  # a restore may replace it
    assert res.written and res.backup is not None
    assert (settings.data_dir / res.backup.path).read_bytes() == damaged  # its exact bytes kept
    assert read_footer(p).problems == ()


def test_corrupt_metadata_and_a_file_without_datetime_are_described_not_raised(tmp_path, week_bars):
    p = tmp_path / "x.parquet"
    t = week_bars.to_arrow()
    pq.write_table(t.replace_schema_metadata({META_KEY: b"{not json"}), p)
    assert "corrupt datamgr metadata" in read_footer(p).problems
    q = tmp_path / "y.parquet"
    pq.write_table(t.drop_columns(["datetime"]), q)
    assert read_footer(q).problems == ("no datetime column",)
    r = tmp_path / "z.parquet"
    pq.write_table(t, r, write_statistics=False)
    m = read_footer(r)
    assert "no statistics on the datetime column" in m.problems and m.start is None


def test_the_no_op_check_compares_lineage_too(store, settings, week_bars):
    """A derived file whose bars did not change (its master changed only in stray bars) must still be
    rewritten with the new lineage, or it would look stale forever."""
    five = week_bars.head(100).with_columns(pl.lit(5, pl.Int32).alias("bars"),
                                            pl.lit("upsampled").alias("source"))
    a = {"file": "ES1_1m.parquet", "generation": 1, "content_sha256": "a" * 64, "end": "x"}
    b = {**a, "generation": 2, "content_sha256": "b" * 64}
    r1 = store.write("ES1", "5m", five, operation="regenerate", backup=False, built_from=a)
    r2 = store.write("ES1", "5m", five, operation="regenerate", backup=False, built_from=b)
    assert r1.written and r2.written and r2.generation == 2
    assert store.read_meta("ES1", "5m").built_from == b
    r3 = store.write("ES1", "5m", five, operation="regenerate", backup=False, built_from=b)
    assert not r3.written and r3.generation == 2
    r4 = store.write("ES1", "5m", five, operation="regenerate", backup=False)  # no lineage given: content decides
    assert not r4.written and store.read_meta("ES1", "5m").built_from == b
    assert store.read("ES1", "5m").equals(five)


def test_dry_run_and_no_op_report_the_generations(store, settings, week_bars):
    dry_new = store.write("ES1", "1m", week_bars, operation="test", dry_run=True)
    assert (dry_new.written, dry_new.dry_run, dry_new.generation, dry_new.rows_before) == (False, True, 1, 0)
    store.write("ES1", "1m", week_bars, operation="test")
    dry = store.write("ES1", "1m", week_bars.head(10), operation="test", dry_run=True)
    assert (dry.generation, dry.rows_before, dry.rows_after) == (2, week_bars.height, 10)
    same = store.write("ES1", "1m", week_bars, operation="test")
    assert (same.written, same.generation) == (False, 1)
    assert store.read_meta("ES1", "1m").generation == 1


def test_lineage_names_file_generation_hash_and_end(store, settings, week_bars):
    assert store.lineage("ES1") == {"file": "ES1_1m.parquet", "generation": None, "content_sha256": None,
                                    "end": None}
    res = store.write("ES1", "1m", week_bars, operation="test")
    lin = store.lineage("ES1")
    assert lin == {"file": "ES1_1m.parquet", "generation": 1, "content_sha256": res.content_sha256,
                   "end": week_bars["datetime"][-1].isoformat()}
    meta = store.read_meta("ES1", "1m")
    assert meta.sources == dict(week_bars.group_by("source").len().iter_rows())
    assert sum(meta.sources.values()) == week_bars.height
    assert read_parquet_once(settings.bar_path("ES1", "1m")).num_rows == week_bars.height


def test_write_results_and_footers_name_their_file_and_backup(store, settings, week_bars, caplog):
    first = store.write("ES1", "1m", week_bars, operation="test")
    assert first.to_json()["backup"] is None and first.to_json()["path"] == str(settings.bar_path("ES1", "1m"))
    with caplog.at_level("INFO", logger="datamgr.store.store"):
        second = store.write("ES1", "1m", week_bars.head(10), operation="trim")
    j = second.to_json()
    assert j["backup"] == second.backup.path and j["backup"].startswith("backups/")
    assert (j["written"], j["rows_before"], j["rows_after"], j["generation"]) == (True, week_bars.height, 10, 2)
    assert f"ES1_1m.parquet: trim wrote 10 rows (generation 2, was {week_bars.height} rows), backup {second.backup.path}" \
        in caplog.messages
    meta = read_footer(settings.bar_path("ES1", "1m"))
    assert meta.path == str(settings.bar_path("ES1", "1m")) and meta.rows == 10
