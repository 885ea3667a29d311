"""The bar store: read and write Parquet bar files without ever losing data.

A write (:meth:`Store.write`) is::

    lock -> clean orphaned temp files -> validate -> (unchanged? stop) -> verified backup
         -> temp file in the same folder -> fsync -> read the temp back (footer, rows, schema,
            full decode with page checksums, content hash) -> os.replace (retry on Windows)
         -> fsync the folder -> journal line

Any failure before ``os.replace`` removes the temp file and leaves the original byte-identical.
Reads open the file once (memory map of one handle), so a read never straddles a replace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import filelock
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from datamgr import __version__
from datamgr.core.config import Settings, check_ticker
from datamgr.core.errors import LockedError, ReadBackError, StoreError
from datamgr.core.schema import arrow_schema, check_bars, conform, empty_bars
from datamgr.core.timefmt import now_utc
from datamgr.store import journal
from datamgr.store.atomic import atomic_write_bytes, clean_orphans, fsync_dir, replace_with_retry, temp_path
from datamgr.store.backup import BackupRecord, backup_file

SCHEMA_VERSION = 1
ROW_GROUP = 1_000_000
META_KEY = b"datamgr"
LEGACY_SOURCE = "legacy"

# Per data folder: a thread lock (one writer thread per process; the app runs jobs in threads)
# in front of the file lock (one writer process per folder). Both are reentrant for one thread.
_locks: dict[str, tuple[threading.RLock, filelock.FileLock]] = {}
_locks_guard = threading.Lock()
log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class WriteResult:
    path: str
    written: bool
    rows_before: int
    rows_after: int
    generation: int | None
    content_sha256: str
    backup: BackupRecord | None
    op_id: str
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["backup"] = self.backup.path if self.backup else None
        return d


def content_sha256(df: pl.DataFrame) -> str:
    """Hash of the bar content (column values in order), independent of Parquet encoding."""
    h = hashlib.sha256()
    for name in df.columns:
        s = df[name]
        h.update(name.encode())
        if s.dtype == pl.String or isinstance(s.dtype, pl.Categorical):
            r = s.cast(pl.String).rle()
            h.update(np.ascontiguousarray(r.struct.field("len").to_numpy()))
            h.update("\x00".join(r.struct.field("value").fill_null("").to_list()).encode())
        else:
            h.update(np.ascontiguousarray(s.to_physical().to_numpy()))
    return h.hexdigest()


def read_footer(path: Path) -> FileMeta:
    """Metadata of a Parquet file from its footer only (one open handle)."""
    st = path.stat()
    problems: list[str] = []
    with open(path, "rb") as f:
        try:
            md = pq.ParquetFile(f).metadata
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
        mins, maxs = [], []
        for g in range(md.num_row_groups):
            stats = md.row_group(g).column(idx).statistics
            if stats is None or not stats.has_min_max:
                problems.append("no statistics on the datetime column")
                break
            mins.append(stats.min)
            maxs.append(stats.max)
        if mins and not problems:
            start, end = _aware(min(mins)), _aware(max(maxs))
    if info and info.get("rows") not in (None, md.num_rows):
        problems.append(f"footer says {md.num_rows} rows, datamgr metadata says {info.get('rows')}")
    return FileMeta(
        path=str(path), rows=md.num_rows, start=start, end=end, size_bytes=st.st_size, mtime=_mtime(st),
        generation=info.get("generation"), content_sha256=info.get("content_sha256"),
        written_at=info.get("written_at"), operation_id=info.get("operation_id"),
        ticker=info.get("ticker"), timeframe=info.get("timeframe"), columns=cols, problems=tuple(problems),
        built_from=info.get("built_from"), sources=info.get("sources"), contracts=info.get("contracts"),
    )


def parquet_size(df: pl.DataFrame) -> int:
    """Bytes ``df`` would take as a bar file written by :meth:`Store.write` (encoded in memory,
    footer metadata aside): the file size change a dry run prints."""
    df = conform(df)
    info = {  # the footer metadata Store.write adds, same shape and length
        "schema_version": SCHEMA_VERSION, "ticker": "TICKER", "timeframe": "1m", "rows": df.height,
        "start": _iso(df, 0) if df.height else None, "end": _iso(df, -1) if df.height else None, "generation": 1,
        "content_sha256": "0" * 64, "written_at": now_utc().isoformat(), "operation_id": "0" * 22,
        "datamgr_version": __version__, "sources": dict(sorted(df.group_by("source").len().iter_rows())),
    }
    schema = arrow_schema("bars" in df.columns).with_metadata({META_KEY: json.dumps(info).encode()})
    table = df.to_arrow().cast(schema.remove_metadata()).replace_schema_metadata(schema.metadata)
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, schema, compression="zstd", write_statistics=True,
                          write_page_checksum=True, use_dictionary=["source"]) as w:
        w.write_table(table, row_group_size=ROW_GROUP)
    return sink.getvalue().size


def read_parquet_once(path: Path) -> pa.Table:
    """Read a whole Parquet file through one memory map, verifying page checksums."""
    with pa.memory_map(str(path), "r") as src:
        return pq.ParquetFile(src, page_checksum_verification=True).read()


def read_columns_once(path: Path, columns: list[str]) -> pl.DataFrame:
    """Some columns of a Parquet file through one memory map (page checksums verified)."""
    with pa.memory_map(str(path), "r") as src:
        pf = pq.ParquetFile(src, page_checksum_verification=True)
        have = [c for c in columns if c in pf.schema_arrow.names]
        out = pl.from_arrow(pf.read(columns=have))
    assert isinstance(out, pl.DataFrame)
    return out


def table_to_bars(table: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    if "source" in df.columns:
        df = df.with_columns(pl.col("source").cast(pl.String))
    elif "datetime" in df.columns:
        # Legacy files written before datamgr often lack ``source``: label their bars "legacy".
        df = df.with_columns(pl.lit(LEGACY_SOURCE, dtype=pl.String).alias("source"))
    return conform(df)


class Store:
    """Read and write the bar files of one data folder."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = Path(settings.data_dir)

    # ------------------------------------------------------------------ lock
    @contextmanager
    def lock(self, what: str = "write") -> Iterator[None]:
        """Hold the write lock of the data folder: exclusive across processes *and* threads,
        reentrant within one thread. Raises LockedError after ``settings.lock_timeout``."""
        self.root.mkdir(parents=True, exist_ok=True)
        key = str(self.settings.lock_path.resolve())
        with _locks_guard:
            if key not in _locks:
                _locks[key] = (threading.RLock(), filelock.FileLock(key, thread_local=False))
            rlock, lk = _locks[key]
        if not rlock.acquire(timeout=self.settings.lock_timeout):
            owner = _read_owner(self.settings.lock_path)
            msg = (f"data folder {self.root} is locked by another writer in this process ({owner}); "
                   f"waited {self.settings.lock_timeout:.0f} s. Try again when it has finished.")
            raise LockedError(msg)
        try:
            try:
                lk.acquire(timeout=self.settings.lock_timeout)
            except filelock.Timeout as err:
                owner = _read_owner(self.settings.lock_path)
                msg = (f"data folder {self.root} is locked by another writer ({owner}); "
                       f"waited {self.settings.lock_timeout:.0f} s. Try again when it has finished.")
                raise LockedError(msg) from err
            try:
                if lk.lock_counter == 1:
                    _write_owner(self.settings.lock_path, what)
                    clean_orphans(self.root)
                    clean_orphans(self.settings.backups_dir)
                yield
            finally:
                lk.release()
        finally:
            rlock.release()

    # ------------------------------------------------------------------ read
    def path(self, ticker: str, timeframe: str) -> Path:
        check_ticker(ticker)
        return self.settings.bar_path(ticker, timeframe)

    def read(self, ticker: str, timeframe: str) -> pl.DataFrame:
        """The bars of one file; an empty frame with the schema if the file does not exist."""
        p = self.path(ticker, timeframe)
        if not p.is_file():
            return empty_bars(with_bars=timeframe in ("5m", "15m", "1h", "4h"))
        try:
            return table_to_bars(read_parquet_once(p))
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"{p}: cannot be read: {err}") from err

    def read_path(self, p: Path) -> pl.DataFrame:
        """The bars of the Parquet file ``p`` (a file under ``historical/``); StoreError if unreadable."""
        try:
            return table_to_bars(read_parquet_once(Path(p)))
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"{p}: cannot be read: {err}") from err

    def read_columns(self, ticker: str, timeframe: str, columns: list[str]) -> pl.DataFrame:
        """Only ``columns`` of one file (those it has); an empty frame when the file does not exist.

        Raises
        ------
        StoreError
            The file cannot be read (names the file).
        """
        p = self.path(ticker, timeframe)
        if not p.is_file():
            return empty_bars().select([c for c in columns if c in empty_bars().columns])
        try:
            return read_columns_once(p, columns)
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"{p}: cannot be read: {err}") from err
    def read_range(self, ticker: str, timeframe: str, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
        """The bars with open times in ``[start, end)`` (aware datetimes): row groups outside the
        range are skipped by their statistics, so a short range of a long file reads little."""
        p = self.path(ticker, timeframe)
        if not p.is_file():
            return empty_bars(with_bars=timeframe in ("5m", "15m", "1h", "4h"))
        try:
            with pa.memory_map(str(p), "r") as src:
                pf = pq.ParquetFile(src, page_checksum_verification=True)
                col = pf.schema_arrow.get_field_index("datetime")
                groups = []
                for i in range(pf.num_row_groups):
                    st = pf.metadata.row_group(i).column(col).statistics
                    if st is None or not st.has_min_max or (_aware(st.max) >= start and _aware(st.min) < end):
                        groups.append(i)
                table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"{p}: cannot be read: {err}") from err
        return table_to_bars(table).filter(pl.col("datetime").is_between(start, end, closed="left"))

    def read_meta(self, ticker: str, timeframe: str) -> FileMeta | None:
        p = self.path(ticker, timeframe)
        return read_footer(p) if p.is_file() else None

    def lineage(self, ticker: str, timeframe: str = "1m") -> dict[str, Any]:
        """``built_from`` for derived outputs: file, generation, content hash, end (UTC ISO)."""
        meta = self.read_meta(ticker, timeframe)
        p = self.path(ticker, timeframe)
        if meta is None:
            return {"file": p.name, "generation": None, "content_sha256": None, "end": None}
        return {"file": p.name, "generation": meta.generation, "content_sha256": meta.content_sha256,
                "end": meta.end.isoformat() if meta.end else None}

    # ------------------------------------------------------------------ write
    def write(self, ticker: str, timeframe: str, df: pl.DataFrame, *, operation: str,
              details: dict[str, Any] | None = None, backup: bool = True, op_id: str | None = None,
              dry_run: bool = False, built_from: dict[str, Any] | None = None,
              contracts: list[dict[str, Any]] | None = None, path: Path | None = None) -> WriteResult:
        """Replace the file of ``ticker``/``timeframe`` with ``df``, safely (see module doc).

        Parameters
        ----------
        df : polars.DataFrame
            The complete new content (canonical schema; validated here).
        operation : str
            Journal operation name (``import``, ``update``, ``regenerate``, ``restore``...).
        backup : bool
            Back up the current file first (off only for regenerable derived files).
        dry_run : bool
            Validate and describe, write nothing.
        built_from : dict, optional
            Lineage of a derived file (``store.lineage(ticker)`` of its master), kept in the
            footer metadata so the inventory can tell a stale derived file without reading it.
        contracts : list of dict, optional
            Contract ranges of a continuous master (:func:`datamgr.store.roll.record_contracts`),
            kept in the footer metadata; when None the previous file's ranges are carried over.
        path : Path, optional
            Write this file instead of ``<data>/<ticker>_<timeframe>.parquet`` (the data module's
            interval files under ``historical/``); ``timeframe`` is then only a label.

        Raises
        ------
        InvariantError, LockedError, BackupError, StoreError
            Nothing on disk has changed when any of these is raised.
        """
        op_id = op_id or journal.new_op_id()
        p = Path(path) if path is not None else self.path(ticker, timeframe)
        df = conform(df)
        check_bars(df, f"new content of {p.name}")
        new_hash = content_sha256(df)
        with (nullcontext() if dry_run else self.lock(f"{operation} {p.name}")):
            meta = read_footer(p) if p.is_file() else None
            if path is not None:
                p.parent.mkdir(parents=True, exist_ok=True)
            rows_before = meta.rows if meta else 0
            old_hash = meta.content_sha256 if meta else None
            damaged = bool(meta and meta.problems)
            if meta is not None and old_hash is None:  # legacy file: hash its content
                try:
                    old_hash = content_sha256(self.read(ticker, timeframe) if path is None else self.read_path(p))
                except StoreError:
                    # A damaged file (unreadable footer or pages) must stay replaceable (restore):
                    # its exact bytes are kept in a sha256-verified backup first.
                    old_hash, damaged = None, True
            unchanged = old_hash == new_hash and (built_from is None or meta.built_from == built_from)
            gen = ((meta.generation or 0) + 1) if meta else 1
            if dry_run or unchanged:
                return WriteResult(str(p), False, rows_before, df.height, meta.generation if (meta and unchanged) else gen,
                                   new_hash, None, op_id, dry_run)
            rec = backup_file(self.settings, p, reason=operation, op_id=op_id, expected_rows=None if damaged else meta.rows) \
                if (meta and backup) else None
            info = {
                "schema_version": SCHEMA_VERSION, "ticker": ticker, "timeframe": timeframe,
                "rows": df.height, "start": _iso(df, 0), "end": _iso(df, -1), "generation": gen,
                "content_sha256": new_hash, "written_at": now_utc().isoformat(), "operation_id": op_id,
                "datamgr_version": __version__,
                "sources": dict(sorted(df.group_by("source").len().iter_rows())),
            }
            if built_from is not None:
                info["built_from"] = built_from
            kept = contracts if contracts is not None else (meta.contracts if meta else None)
            if kept:
                info["contracts"] = kept
            self._write_parquet(p, df, info)
            journal.append(self.settings, journal.JournalEntry(
                id=op_id, op=operation, file=p.name, rows_before=rows_before, rows_after=df.height,
                backup=rec.path if rec else None, sha256_before=old_hash, sha256_after=new_hash,
                details=details or {}, added=(details or {}).get("added"), replaced=(details or {}).get("replaced"),
            ))
            log.info("%s: %s wrote %d rows (generation %d, was %d rows)%s", p.name, operation, df.height, gen,
                     rows_before, f", backup {rec.path}" if rec else "")
            return WriteResult(str(p), True, rows_before, df.height, gen, new_hash, rec, op_id)

    def _write_parquet(self, final: Path, df: pl.DataFrame, info: dict[str, Any]) -> None:
        schema = arrow_schema("bars" in df.columns).with_metadata({META_KEY: json.dumps(info).encode()})
        table = df.to_arrow().cast(schema.remove_metadata()).replace_schema_metadata(schema.metadata)
        tmp = temp_path(final)
        try:
            with open(tmp, "wb") as f:
                with pq.ParquetWriter(f, schema, compression="zstd", write_statistics=True,
                                      write_page_checksum=True, use_dictionary=["source"]) as w:
                    w.write_table(table, row_group_size=ROW_GROUP)
                f.flush()
                os.fsync(f.fileno())
            self._read_back(tmp, table)
            replace_with_retry(tmp, final)
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            if isinstance(err, (OSError, pa.ArrowException)):
                # Disk full, file too large, I/O error...: a StoreError the CLI maps to its exit code.
                raise StoreError(f"{final.name}: write failed, the file is unchanged: {err}") from err
            raise
        try:
            fsync_dir(final.parent)
        except OSError as err:
            # The new file is in place and verified; only the rename's durability across a power
            # cut is in doubt. Failing now would report an error for a change that happened.
            log.warning("%s: replaced, but the folder fsync failed: %s", final.name, err)

    @staticmethod
    def _read_back(tmp: Path, table: pa.Table) -> None:
        """Footer, row count, schema and a full decode (page checksums verified) equal to ``table``."""
        try:
            meta = read_footer(tmp)
            back = read_parquet_once(tmp)
        except (OSError, pa.ArrowException) as err:
            raise ReadBackError(f"{tmp.name}: written file does not read back: {err}") from err
        if meta.rows != table.num_rows or back.num_rows != table.num_rows:
            raise ReadBackError(f"{tmp.name}: wrote {table.num_rows} rows, read back {back.num_rows}")
        if not back.schema.equals(table.schema, check_metadata=False):
            raise ReadBackError(f"{tmp.name}: schema changed on read-back")
        if not _decoded(back).equals(_decoded(table)):
            raise ReadBackError(f"{tmp.name}: content read back differs from what was written")

    def write_export(self, path: Path, data: bytes, *, operation: str, details: dict[str, Any] | None = None) -> Path:
        """Write an export (CSV beside a Parquet file) atomically under the lock, with a journal line.

        No backup: an export is a copy of a Parquet file and is rewritten from it.
        """
        path = Path(path)
        with self.lock(f"{operation} {path.name}"):
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, data)
            journal.append(self.settings, journal.JournalEntry(
                id=journal.new_op_id(), op=operation, file=str(path.relative_to(self.root)) if path.is_relative_to(self.root)
                else path.name, rows_before=None, rows_after=(details or {}).get("rows"), backup=None,
                sha256_before=None, sha256_after=hashlib.sha256(data).hexdigest(), details=details or {}))
        return path

    def write_json(self, path: Path, obj: Any, *, operation: str, op_id: str | None = None) -> Path:
        """Write a derived JSON output atomically and journal it (no backup: derived files are
        regenerable from the master)."""
        data = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
        path = Path(path)
        try:
            name = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            name = str(path)
        with self.lock(f"{operation} {path.name}"):
            before = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
            atomic_write_bytes(path, data)
            journal.append(self.settings, journal.JournalEntry(
                id=op_id or journal.new_op_id(), op=operation, file=name, sha256_before=before,
                sha256_after=hashlib.sha256(data).hexdigest(), details={"kind": "json", "bytes": len(data)}))
        return path


def _decoded(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns decoded: a frame built from several chunks (``pl.concat``)
    carries one dictionary per chunk, while the file read back has one; the values are what count."""
    for i, f in enumerate(table.schema):
        if pa.types.is_dictionary(f.type):
            table = table.set_column(i, f.name, table.column(i).cast(f.type.value_type))
    return table


def _iso(df: pl.DataFrame, i: int) -> str | None:
    return df["datetime"][i].isoformat() if df.height else None


def _aware(v: Any) -> dt.datetime | None:
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day, tzinfo=dt.UTC)
    return None


def _mtime(st: os.stat_result) -> dt.datetime:
    return dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)


def _write_owner(lock_path: Path, what: str) -> None:
    try:
        lock_path.with_name(lock_path.name + ".owner").write_text(f"pid {os.getpid()}: {what}", encoding="utf-8")
    except OSError:
        pass


def _read_owner(lock_path: Path) -> str:
    try:
        return lock_path.with_name(lock_path.name + ".owner").read_text(encoding="utf-8")
    except OSError:
        return "unknown process"
