"""Store boundaries (issue 15): a read-back that returns different but well-formed content (valid
page checksums), a footer whose row count disagrees with the datamgr metadata, and the no-op check
that must look at lineage (a derived file whose content is unchanged but whose master changed).

Faults are injected at the OS boundary as in test_store_faults.py: ``os.fsync`` is wrapped so
that, just before the read-back, the temp file is replaced by another *valid* Parquet file
(written by pyarrow with page checksums): only the content comparison can catch it."""

from __future__ import annotations

import hashlib
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


# ---------------------------------------------------------------- mutation survivors (issue 15 item 3)
def test_a_value_rule_error_lists_the_first_20_rows_only(store, settings, week_bars):
    bad = week_bars.head(30).with_columns(pl.col("datetime") + pl.duration(seconds=30))  # off the whole minute
    before = folder_hash(settings.data_dir)
    with pytest.raises(Exception, match="breaks the value rules") as e:
        store.write("ES1", "1m", bad, operation="test")
    line = next(x for x in str(e.value).splitlines() if "rows" in x)
    assert line.split("rows ", 1)[1] == ", ".join(str(i) for i in range(20))
    assert folder_hash(settings.data_dir) == before


def test_row_group_digests_hash_each_row_group_slice():
    from datamgr.store.store import ROW_GROUP, _digest, combine_digests, content_sha256, row_group_digests

    df = pl.DataFrame({"datetime": pl.int_range(0, ROW_GROUP + 3, eager=True).cast(pl.Datetime("us", "UTC")),
                       "close": pl.Series([1.0] * (ROW_GROUP + 3))})
    d = row_group_digests(df)
    assert len(d) == 2
    assert d == [_digest(df.head(ROW_GROUP)).hex(), _digest(df.tail(3)).hex()]
    assert combine_digests(d) == content_sha256(df)


def test_a_dry_run_and_a_no_op_name_the_file(store, settings, week_bars):
    p = str(settings.bar_path("ES1", "1m"))
    assert store.write("ES1", "1m", week_bars, operation="test", dry_run=True).path == p
    store.write("ES1", "1m", week_bars, operation="test")
    assert store.write("ES1", "1m", week_bars, operation="test").path == p


def test_contract_months_are_kept_by_a_write_that_does_not_give_them(store, settings, week_bars):
    months = [{"contract": "ES 03-25", "start": week_bars["datetime"][0].isoformat(), "roll_offset": None}]
    store.write("ES1", "1m", week_bars.head(100), operation="test", contracts=months)
    store.write("ES1", "1m", week_bars, operation="test")
    assert store.read_meta("ES1", "1m").contracts == months


def test_the_journal_line_carries_added_and_replaced(store, settings, week_bars):
    from datamgr.store import journal

    store.write("ES1", "1m", week_bars, operation="import", details={"added": 7, "replaced": 3})
    top = journal.read(settings)[0]
    assert (top["op"], top["added"], top["replaced"], top["rows_after"]) == ("import", 7, 3, week_bars.height)


def test_an_interrupted_write_whose_file_is_unchanged_is_reconciled_as_not_applied(store, settings, week_bars):
    from datamgr.store import journal

    res = store.write("ES1", "1m", week_bars, operation="test")
    journal.append(settings, journal.intent(journal.JournalEntry(
        id="op-x", op="trim", file="ES1_1m.parquet", sha256_before=res.content_sha256, sha256_after="f" * 64)))
    out = store.recover()
    assert [(o["id"], o["outcome"]) for o in out] == [("op-x", "reconciled: not applied")]
    assert journal.read(settings)[0]["outcome"] == "reconciled: not applied" and store.recover() == []


def test_the_restore_hint_names_the_newest_intact_backup(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    second = store.write("ES1", "1m", week_bars.head(50), operation="trim")
    p = settings.bar_path("ES1", "1m")
    p.write_bytes(p.read_bytes()[:-100])  # damaged
    hint = store.restore_hint(p)
    assert hint.startswith(f"Nothing was written. Restore it from backup {second.backup.path} ")


def test_read_range_is_half_open(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    t = week_bars["datetime"]
    got = store.read_range("ES1", "1m", t[10], t[20])
    assert got["datetime"].to_list() == t[10:20].to_list()
    assert store.read_range("ES1", "5m", t[10], t[20]).height == 0


def test_exports_and_json_outputs_are_journaled_with_their_size(store, settings):
    from datamgr.store import journal

    store.write_export(settings.data_dir / "exports" / "ES1_1m.csv", b"a,b\n1,2\n", operation="export",
                       details={"rows": 1})
    top = journal.read(settings)[0]
    assert (top["op"], top["file"], top["rows_after"]) == ("export", "exports/ES1_1m.csv", 1)
    assert isinstance(top["id"], str) and len(top["id"]) >= 8
    store.write_export(settings.data_dir / "x.csv", b"", operation="export")
    assert journal.read(settings)[0]["rows_after"] is None
    out = store.write_json(settings.data_dir / "levels.json", {"a": [1, 2], "b": "é"}, operation="levels")
    assert out.read_bytes() == '{"a":[1,2],"b":"é"}'.encode()
    top = journal.read(settings)[0]
    assert top["details"] == {"kind": "json", "bytes": len(out.read_bytes())} and top["file"] == "levels.json"
    first = hashlib.sha256(out.read_bytes()).hexdigest()
    store.write_json(out, {"a": 3}, operation="levels")
    top = journal.read(settings)[0]
    assert (top["sha256_before"], top["sha256_after"]) == (first, hashlib.sha256(b'{"a":3}').hexdigest())


def test_an_interrupted_write_whose_file_is_the_new_one_is_reconciled_as_applied(store, settings, week_bars):
    from datamgr.store import journal

    res = store.write("ES1", "1m", week_bars, operation="test")
    intent = journal.intent(journal.JournalEntry(
        id="op-y", op="trim", file="ES1_1m.parquet", sha256_before="e" * 64, sha256_after=res.content_sha256))
    journal.append(settings, intent)
    out = store.recover()
    assert out[0]["time"] != intent.time  # the reconciliation's own time
    assert [(o["id"], o["outcome"]) for o in out] == [("op-y", "reconciled: applied")]
    assert out[0]["time"] and journal.read(settings)[0]["time"] == out[0]["time"]


def test_the_footer_names_the_datamgr_version_and_only_source_is_dictionary_encoded(store, settings, week_bars):
    from datamgr import __version__

    store.write("ES1", "1m", week_bars, operation="test")
    p = settings.bar_path("ES1", "1m")
    info = json.loads(pq.ParquetFile(p).metadata.metadata[META_KEY])  # the file footer's key-value metadata
    assert info["datamgr_version"] == __version__ and info["rows"] == week_bars.height
    assert sorted(info) == ["content_sha256", "datamgr_version", "end", "generation", "operation_id", "row_groups",
                            "rows", "schema_version", "sources", "start", "ticker", "timeframe", "written_at"]
    md = pq.ParquetFile(p).metadata
    enc = {md.schema.column(i).name: md.row_group(0).column(i).encodings for i in range(md.num_columns)}
    assert any("DICTIONARY" in e for e in enc["source"])
    assert not any("DICTIONARY" in e for e in enc["close"] + enc["datetime"])


def test_the_journal_line_keeps_the_operation_details(store, settings, week_bars):
    from datamgr.store import journal

    store.write("ES1", "1m", week_bars, operation="import", details={"export": "ES 03-25.Last.txt"})
    assert journal.read(settings)[0]["details"] == {"export": "ES 03-25.Last.txt"}


def test_expect_generation_0_means_no_file_yet(store, settings, week_bars):
    from datamgr.core.errors import StoreError

    assert store.write("ES1", "1m", week_bars, operation="restore", expect_generation=0).written
    with pytest.raises(StoreError, match=r"changed since the plan was made \(generation 0 -> 1\)"):
        store.write("ES1", "1m", week_bars.head(5), operation="restore", expect_generation=0)
    with pytest.raises(StoreError, match=r"changed since the plan was made \(generation 1 -> 0\)"):
        store.write("NQ1", "1m", week_bars.head(5), operation="restore", expect_generation=1)


def test_a_write_to_a_given_path_in_an_existing_folder(store, settings, week_bars):
    p = settings.data_dir / "historical" / "ES1" / "ES1_1m.parquet"
    p.parent.mkdir(parents=True)
    assert store.write("ES1", "1m", week_bars, operation="test", path=p).path == str(p)
    assert read_parquet_once(p).num_rows == week_bars.height


def test_reading_a_range_of_a_missing_file_gives_the_empty_frame_of_its_timeframe(store):
    import datetime as dt

    a, b = dt.datetime(2025, 3, 3, tzinfo=dt.UTC), dt.datetime(2025, 3, 4, tzinfo=dt.UTC)
    for tf in ("5m", "15m", "1h", "4h"):
        assert "bars" in store.read_range("ES1", tf, a, b).columns, tf
    assert "bars" not in store.read_range("ES1", "1m", a, b).columns


def test_a_replace_that_fails_after_the_intent_withdraws_the_intent(store, settings, week_bars, monkeypatch):
    from datamgr.store import journal

    store.write("ES1", "1m", week_bars, operation="test")
    p = settings.bar_path("ES1", "1m")
    before, lines = p.read_bytes(), settings.journal_path.read_bytes()
    real_replace = os.replace

    def replace(src, dst, *a, **kw):
        if Path(dst) == p:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst, *a, **kw)

    monkeypatch.setattr(os, "replace", replace)
    from datamgr.core.errors import StoreError

    with pytest.raises(StoreError, match="write failed, the file is unchanged"):
        store.write("ES1", "1m", week_bars.head(10), operation="trim", backup=False)
    monkeypatch.undo()
    assert p.read_bytes() == before and journal.pending(settings) == []
    assert settings.journal_path.read_bytes() == lines


def test_read_columns_gives_only_the_columns_the_file_has(store, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    got = store.read_columns("ES1", "1m", ["close", "volume", "nope"])
    assert got.columns == ["close", "volume"] and got["close"].to_list() == week_bars["close"].to_list()
    assert store.read_columns("NQ1", "1m", ["close", "nope"]).columns == ["close"]
