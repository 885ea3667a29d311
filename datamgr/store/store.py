"""The bar store: read and write Parquet bar files without ever losing data.

A write (:meth:`Store.write`) is::

    lock -> clean orphaned temp files -> validate -> (unchanged? stop) -> verified backup
         -> temp file in the same folder -> fsync -> read the temp back (footer, rows, schema,
            full decode with page checksums, content hash) -> os.replace (retry on Windows)
         -> fsync the folder -> journal line

Any failure before ``os.replace`` removes the temp file and leaves the original byte-identical.
Reads open the file once (memory map of one handle), so a read never straddles a replace.

Write-ahead journal: an ``intent`` line is appended (durably) just before ``os.replace`` and the
completion line just after. A writer killed in between leaves an intent without completion; the
next lock holder (any command) checks the file's footer against the intent's hashes, appends the
outcome (``reconciled: applied`` / ``reconciled: not applied``) and so repairs the journal. A
completion line that cannot be written (disk full) after the replace is a warning, not an error:
the change happened and the intent line already records it.

Integrity on read (:func:`load_bars`): the content hash and row count recorded in the footer
metadata, and the footer's datetime statistics, must match the decoded bars; any mismatch, any
decoder error -- including a polars ``PanicException``, which is not an ``Exception`` -- raises
:class:`~datamgr.core.errors.DamagedFileError` naming a backup to restore from. Every read that
feeds a write goes through it, and :meth:`Store.write` refuses to replace a damaged file except
for a restore. Every read hashes what it decoded (bit rot does not change an mtime); the write
that follows a read in the same process reuses that result (same path, inode, size and mtime)
instead of reading the file a second time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import itertools
import json
import logging
import mmap
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
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
from datamgr.core import layout
from datamgr.core.config import Settings, check_ticker
from datamgr.core.errors import DamagedFileError, InvariantError, LockedError, ReadBackError, StoreError
from datamgr.core.schema import arrow_schema, check_bars, conform, empty_bars, value_rules
from datamgr.core.timefmt import now_utc
from datamgr.store import journal, parquet_raw
from datamgr.store.atomic import (
    atomic_write_bytes,
    clean_orphans,
    clean_orphans_below,
    fsync_dir,
    open_nofollow,
    refuse_symlink,
    replace_with_retry,
    temp_path,
)
from datamgr.store.backup import BackupRecord, adopt_orphans, backup_file, has_orphan_backups, list_backups, sha256_file
from datamgr.store.footer import (
    META_KEY,
    FileMeta,
    _footer_vs_metadata,
    read_footer,
    remember_damage,
    time_bounds,
)
from datamgr.store.lock_owner import describe_holder, write_owner

SCHEMA_VERSION = 1
ROW_GROUP = 1_000_000
CONTENT_HASH_VERSION = b"datamgr content v2: sha256 of row-group sha256s"
LEGACY_SOURCE = "legacy"
#: How every bar file is encoded: zstd, statistics, page checksums, ``source`` as a dictionary;
#: times and counts as deltas (DELTA_BINARY_PACKED) and prices split by byte (BYTE_STREAM_SPLIT).
#: Both encodings are lossless and part of the Parquet format; pyarrow, polars and pandas read
#: them (tests/store/test_parquet_raw.py). On an 18-year ES master they make the file 45 % smaller (40 MB, was 73 MB), its
#: encoding 2.2x and a pyarrow read 3x faster (``benchmarks/bench_import.py``; issue 13).
WRITE_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "write_statistics": True, "write_page_checksum": True, "use_dictionary": ["source"],
    "column_encoding": {"datetime": "DELTA_BINARY_PACKED", "volume": "DELTA_BINARY_PACKED",
                        "bars": "DELTA_BINARY_PACKED",
                        **dict.fromkeys(("open", "high", "low", "close"), "BYTE_STREAM_SPLIT")},
}

# Per data folder: a thread lock (one writer thread per process; the app runs jobs in threads)
# in front of the file lock (one writer process per folder). Both are reentrant for one thread.
_locks: dict[str, tuple[threading.RLock, filelock.FileLock]] = {}
_locks_guard = threading.Lock()
# Files whose content matched their footer: path -> (dev, inode, size, mtime_ns, content hash).
_verified: dict[str, tuple[int, int, int, int, str]] = {}
_verified_guard = threading.Lock()
# Files a read found damaged live in datamgr.store.footer (known_damage): the inventory (footer
# only) flags them while they are unchanged.
# Never turned into "file damaged": the user or the interpreter asked to stop.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)
# Hashes the new content of a write while the write validates, locks, backs up and encodes
# (hashlib and the Parquet encoder release the GIL): the hash is not a second pass on the clock.
_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="datamgr-hash")
# Encodes the row groups of a write side by side (the Parquet encoder releases the GIL).
_ENCODER = ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1)), thread_name_prefix="datamgr-encode")
log = logging.getLogger(__name__)


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


def _digest(df: pl.DataFrame) -> bytes:
    """sha256 of one slice: column names and values in order (strings by run-length)."""
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
    return h.digest()


def row_group_digests(df: pl.DataFrame) -> list[str]:
    """sha256 of each :data:`ROW_GROUP`-row slice of ``df`` — the row groups the store writes.

    Hashed on two threads (``hashlib`` releases the GIL on large buffers). Kept in the footer
    (``row_groups``), so a reader can tell which row groups changed between two generations
    without reading them (incremental regeneration)."""
    slices = [df.slice(o, ROW_GROUP) for o in range(0, df.height, ROW_GROUP)] or [df]
    if len(slices) == 1:
        return [_digest(slices[0]).hex()]
    with ThreadPoolExecutor(max_workers=2) as ex:
        return [d.hex() for d in ex.map(_digest, slices)]


def combine_digests(digests: list[str]) -> str:
    """The content hash of a file from its row-group digests (:func:`content_sha256`)."""
    h = hashlib.sha256(CONTENT_HASH_VERSION)
    for d in digests:
        h.update(bytes.fromhex(d))
    return h.hexdigest()


def content_sha256(df: pl.DataFrame) -> str:
    """Hash of the bar content (column values in order), independent of Parquet encoding.

    sha256 over the sha256 of each :data:`ROW_GROUP`-row slice (:func:`row_group_digests`): one
    pass gives the file's hash and the per-row-group digests. Files written before this
    definition carry the older whole-column hash; the first rewrite of such a file is therefore
    never taken for "unchanged" (one extra backup, no other effect).
    """
    return combine_digests(row_group_digests(df))


def content_sha256_v1(df: pl.DataFrame) -> str:
    """The content hash of files written before per-row-group digests (no ``row_groups`` in
    their footer metadata): sha256 of the whole columns, i.e. :func:`_digest` of the whole frame.
    The integrity check on read verifies such a file against this definition, so files written by
    earlier versions stay readable."""
    return _digest(df).hex()


def _map(path: Path) -> tuple[mmap.mmap, os.stat_result]:
    """The file's bytes through one handle (never through a symbolic link), memory-mapped."""
    fd = open_nofollow(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)
        if st.st_size == 0:
            raise DamagedFileError(f"{path.name}: is an empty (0-byte) file")
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ), st
    finally:
        os.close(fd)


def _parquet(mm: mmap.mmap) -> pq.ParquetFile:
    return pq.ParquetFile(pa.BufferReader(pa.py_buffer(mm)), page_checksum_verification=True)


def _decode_row_group(mm: mmap.mmap, i: int) -> pa.Table:
    """Row group ``i`` of the mapped file, through a reader of its own (thread-safe)."""
    return _parquet(mm).read_row_group(i)


def _open_parquet(path: Path) -> tuple[pq.ParquetFile, os.stat_result]:
    """One handle (never through a symbolic link), memory-mapped; page checksums verified on read."""
    mm, st = _map(path)
    return _parquet(mm), st


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
    with pq.ParquetWriter(sink, schema, **WRITE_OPTIONS) as w:
        w.write_table(table, row_group_size=ROW_GROUP)
    return sink.getvalue().size


def read_parquet_once(path: Path) -> pa.Table:
    """Read a whole Parquet file through one memory map, verifying page checksums."""
    return _open_parquet(Path(path))[0].read()


def load_bars(path: Path, *, verify: bool = True) -> pl.DataFrame:
    """The bars of a Parquet bar file, read once and (``verify``) checked against its own footer.

    Parameters
    ----------
    path : Path
        A bar file (not a symbolic link).
    verify : bool
        Compare the decoded bars with the footer metadata: row count, ``content_sha256``, start
        and end, the datetime statistics. Files without datamgr metadata (legacy) are checked by
        their page checksums only.

    Raises
    ------
    DamagedFileError
        The file cannot be decoded (any decoder error, a polars panic included) or does not match
        its footer.
    StoreError
        ``path`` is a symbolic link.
    """
    path = Path(path)
    try:
        try:
            pf, st = _open_parquet(path)
            md = pf.metadata
            df = table_to_bars(pf.read())
        except (DamagedFileError, *_PASS_THROUGH):
            raise
        except StoreError:
            raise
        except BaseException as err:  # noqa: BLE001 - pyarrow/OS errors, InvariantError, polars PanicException
            msg = f"{path.name}: cannot be read ({type(err).__name__}: {err})"
            raise DamagedFileError(msg) from err
        if verify:
            _check_content(path, md, df, st)
    except DamagedFileError as err:
        _remember_damage(path, str(err))
        raise
    return df


def _remember_damage(path: Path, what: str) -> None:
    remember_damage(path, what)
    with _verified_guard:
        _verified.pop(str(path), None)


def _check_content(path: Path, md: pq.FileMetaData, df: pl.DataFrame, st: os.stat_result) -> str | None:
    """Raise DamagedFileError unless ``df`` is what the footer says; return the content hash."""
    try:
        kv = md.metadata or {}
        raw = kv.get(META_KEY)
        if raw is None:
            return None  # legacy file: the page checksums are all there is to check
        info = json.loads(raw)
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
        cols = tuple(md.schema.names)
        bounds = [b for b in (time_bounds(md, cols.index("datetime")) if "datetime" in cols else []) if b]
        smin = min((b[0] for b in bounds if b[0] is not None), default=None)
        smax = max((b[1] for b in bounds if b[1] is not None), default=None)
    except (*_PASS_THROUGH,):
        raise
    except BaseException as err:  # noqa: BLE001 - a footer that does not parse is damage
        raise DamagedFileError(f"{path.name}: the datamgr metadata in the footer is corrupt ({err})") from err
    want = info.get("content_sha256")
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    problems = []
    if info.get("rows") != df.height or md.num_rows != df.height:
        problems.append(f"{df.height} rows decoded, footer metadata says {info.get('rows')}")
    problems.extend(_footer_vs_metadata(info, cols, smin, smax))
    if df.height and (smin is not None and (smin != df["datetime"][0] or smax != df["datetime"][-1])):
        problems.append("datetime statistics do not match the bars")
    stored = info.get("row_groups")
    if isinstance(stored, list):  # content hash v2: sha256 of the row-group digests
        digests = row_group_digests(df)
        got = combine_digests(digests)
        if got == want and stored != digests:
            problems.append("row-group digests in the footer do not match the bars")
    else:  # written before per-row-group digests
        got = content_sha256_v1(df)
    if got != want:
        problems.append(f"content hash {got[:12]}... differs from the footer's {str(want)[:12]}...")
    if problems:
        raise DamagedFileError(f"{path.name}: does not match its footer: " + "; ".join(problems))
    with _verified_guard:
        _verified[str(path)] = (*key, got)
    return got


def read_columns_once(path: Path, columns: list[str]) -> pl.DataFrame:
    """Some columns of a Parquet file through one memory map (page checksums verified; never
    through a symbolic link). Read-only callers only: a partial read cannot check the content
    hash, so nothing that feeds a write uses it. A decoder failure is :class:`DamagedFileError`."""
    try:
        pf, _ = _open_parquet(Path(path))
        have = [c for c in columns if c in pf.schema_arrow.names]
        out = pl.from_arrow(pf.read(columns=have))
    except (DamagedFileError, StoreError, *_PASS_THROUGH):
        raise
    except BaseException as err:  # noqa: BLE001 - pyarrow/OS errors and polars PanicException
        raise DamagedFileError(f"{Path(path).name}: cannot be read ({type(err).__name__}: {err})") from err
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
        self._reconciled: list[dict[str, Any]] = []

    def _housekeeping(self) -> list[dict[str, Any]]:
        """Under the lock: repair the journal, adopt backups a crash left out of the manifest."""
        try:
            done = self._reconcile()
            adopt_orphans(self.settings)
        except OSError as err:  # a full disk must not stop the write that needs the lock
            log.warning("journal/manifest repair postponed: %s", err)
            return []
        return done

    # ------------------------------------------------------------------ lock
    @contextmanager
    def lock(self, what: str = "write", timeout: float | None = None) -> Iterator[None]:
        """Hold the write lock of the data folder: exclusive across processes *and* threads,
        reentrant within one thread. Raises LockedError after ``settings.lock_timeout``."""
        self.root.mkdir(parents=True, exist_ok=True)
        refuse_symlink(self.settings.lock_path)  # filelock opens with O_TRUNC: never through a link
        key = str(self.settings.lock_path.resolve())
        wait = self.settings.lock_timeout if timeout is None else timeout
        with _locks_guard:
            if key not in _locks:
                _locks[key] = (threading.RLock(), filelock.FileLock(key, thread_local=False))
            rlock, lk = _locks[key]
        if not rlock.acquire(timeout=wait):
            owner = describe_holder(self.settings.lock_path, other_process=False)
            msg = (f"data folder {self.root} is locked by another writer in this process ({owner}); "
                   f"waited {wait:.0f} s. Try again when it has finished.")
            raise LockedError(msg)
        try:
            try:
                lk.acquire(timeout=wait)
            except filelock.Timeout as err:
                owner = describe_holder(self.settings.lock_path)
                msg = (f"data folder {self.root} is locked by another writer ({owner}); "
                       f"waited {wait:.0f} s. Try again when it has finished.")
                raise LockedError(msg) from err
            try:
                if lk.lock_counter == 1:
                    write_owner(self.settings.lock_path, what)
                    clean_orphans(self.root)
                    clean_orphans(self.settings.backups_dir)
                    clean_orphans_below(self.root / layout.WEB)  # web chunks of a killed regenerate
                    clean_orphans(self.root / layout.DERIVED_STATE)
                    self._reconciled = self._housekeeping()
                yield
            finally:
                lk.release()
        finally:
            rlock.release()

    # ------------------------------------------------------------------ read
    def path(self, ticker: str, timeframe: str) -> Path:
        check_ticker(ticker)
        return self.settings.bar_path(ticker, timeframe)

    def read(self, ticker: str, timeframe: str, *, verify: bool = True) -> pl.DataFrame:
        """The bars of one file; an empty frame with the schema if the file does not exist.

        ``verify`` (default) checks the bars against the footer (see :func:`load_bars`).

        Raises
        ------
        DamagedFileError
            The file is damaged; the message names the backup to restore from.
        StoreError
            The file is a symbolic link, or cannot be opened.
        """
        p = self.path(ticker, timeframe)
        refuse_symlink(p)
        if not p.is_file():
            if p.exists():
                raise StoreError(f"{p}: is not a regular file")
            return empty_bars(with_bars=timeframe in ("5m", "15m", "1h", "4h"))
        try:
            return load_bars(p, verify=verify)
        except DamagedFileError as err:
            raise DamagedFileError(f"file damaged: {err}. {self.restore_hint(p)}") from err
        except OSError as err:
            raise StoreError(f"{p}: cannot be read: {err}") from err

    def restore_hint(self, p: Path) -> str:
        """What to do about a damaged file: the newest backup that reads back intact, by name."""
        try:
            current = sha256_file(p)
        except OSError:
            current = None
        tried = 0
        for rec in list_backups(self.settings, p.name):
            if rec.sha256 == current or getattr(rec, "damaged", False):
                continue
            tried += 1
            b = self.root / rec.path
            try:
                load_bars(b)
            except (DamagedFileError, StoreError, OSError):
                if tried >= 5:
                    break
                continue
            return (f"Nothing was written. Restore it from backup {rec.path} "
                    f"(python -m datamgr backup restore {Path(rec.path).name}, or the Backups page).")
        return ("Nothing was written. No intact backup of it is listed in backups/manifest.jsonl: "
                "re-import the data from its source (NinjaTrader export).")
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
        refuse_symlink(p)
        if not p.is_file():
            return empty_bars().select([c for c in columns if c in empty_bars().columns])
        try:
            return read_columns_once(p, columns)
        except DamagedFileError as err:
            raise DamagedFileError(f"file damaged: {err}. {self.restore_hint(p)}") from err
        except OSError as err:
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
                col = pf.metadata.schema.names.index("datetime")
                groups = [i for i, b in enumerate(time_bounds(pf.metadata, col))
                          if b is None or b[0] is None or b[1] is None or (b[1] >= start and b[0] < end)]
                table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
        except (OSError, pa.ArrowException) as err:
            raise StoreError(f"{p}: cannot be read: {err}") from err
        return table_to_bars(table).filter(pl.col("datetime").is_between(start, end, closed="left"))

    def read_after_row_groups(self, ticker: str, timeframe: str, before: dt.datetime) -> tuple[int, pl.DataFrame]:
        """``(n, rest)``: ``n`` leading row groups whose bars all lie before ``before`` and that
        :meth:`write` can keep (``keep_row_groups=n``), and the file's bars after them.

        ``n`` comes from the footer (whole row groups, digests proven by the content hash, datetime
        statistics); ``rest`` is read from the row groups after them only and checked against
        their footer digests (page checksums verified). A file without that footer proof gives
        ``(0, read())`` — the whole file, verified. Call under :meth:`lock` when the answer feeds
        a write.

        Raises
        ------
        DamagedFileError
            The rows read do not match their footer digests, or cannot be decoded.
        """
        p = self.path(ticker, timeframe)
        refuse_symlink(p)
        meta = read_footer(p) if p.is_file() else None
        n = _keepable(p, meta, before) if meta is not None else 0
        if n == 0:
            return 0, self.read(ticker, timeframe)
        try:
            pf, _ = _open_parquet(p)
            groups = list(range(n, pf.metadata.num_row_groups))
            rest = table_to_bars(pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table())
        except (StoreError, *_PASS_THROUGH):
            raise
        except BaseException as err:  # noqa: BLE001 - pyarrow/OS errors, InvariantError, polars PanicException
            _remember_damage(p, f"cannot be read ({type(err).__name__}: {err})")
            raise DamagedFileError(f"file damaged: {p.name}: cannot be read ({err}). {self.restore_hint(p)}") from err
        assert meta.row_group_digests is not None
        if (row_group_digests(rest) if rest.height else []) != list(meta.row_group_digests[n:]):
            what = f"{p.name}: does not match its footer: row-group digests {n}.. differ from the bars"
            _remember_damage(p, what)
            raise DamagedFileError(f"file damaged: {what}. {self.restore_hint(p)}")
        return n, rest

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
              contracts: list[dict[str, Any]] | None = None, replace_damaged: bool | None = None,
              expect_generation: int | None = None, path: Path | None = None,
              keep_row_groups: int = 0) -> WriteResult:
        """Replace the file of ``ticker``/``timeframe`` with ``df``, safely (see module doc).

        Parameters
        ----------
        df : polars.DataFrame
            The complete new content (canonical schema; validated here).
        operation : str
            Journal operation name (``import``, ``update``, ``regenerate``, ``restore``...).
        backup : bool
            Back up the current file first (off only for regenerable derived files). The current
            file is verified against its footer first (free when this process just read it).
        dry_run : bool
            Validate and describe, write nothing.
        built_from : dict, optional
            Lineage of a derived file (``store.lineage(ticker)`` of its master), kept in the
            footer metadata so the inventory can tell a stale derived file without reading it.
        contracts : list of dict, optional
            Contract ranges of a continuous master (:func:`datamgr.store.roll.record_contracts`),
            kept in the footer metadata; when None the previous file's ranges are carried over.
        replace_damaged : bool, optional
            Allow replacing a file that fails its footer check (default: only for ``restore``);
            its exact bytes are kept in a backup marked damaged.
        expect_generation : int, optional
            Refuse (StoreError) unless the file's generation is still this one (``0``: no file),
            e.g. a restore whose diff was shown before.
        path : Path, optional
            Write this file instead of ``<data>/<ticker>_<timeframe>.parquet`` (the data module's
            interval files under ``historical/``); ``timeframe`` is then only a label.
        keep_row_groups : int
            The new content is the first ``keep_row_groups`` row groups of the current file
            followed by ``df`` (an upsampled file rewritten from its own unchanged prefix plus a
            recomputed tail). The prefix is read under the lock (page checksums verified) and its
            footer row-group digests are reused instead of hashing it again; the whole new content
            is validated, written and read back as usual. StoreError when the current file has no
            such prefix (missing, a legacy footer, a short row group).

        Raises
        ------
        InvariantError, LockedError, BackupError, StoreError, DamagedFileError
            Nothing on disk has changed when any of these is raised.
        """
        op_id = op_id or journal.new_op_id()
        p = Path(path) if path is not None else self.path(ticker, timeframe)
        refuse_symlink(p)
        df = conform(df)
        # the tail after a kept prefix starts on a row-group boundary: its digests are its own
        hashing = _HASHER.submit(row_group_digests, df)
        check_bars(df, f"new content of {p.name}")
        _check_values(df, timeframe, p.name)
        if replace_damaged is None:
            replace_damaged = operation == "restore"
        with (nullcontext() if dry_run else self.lock(f"{operation} {p.name}")):
            refuse_symlink(p)
            meta = read_footer(p) if p.is_file() else None
            if expect_generation is not None and ((meta.generation or 0) if meta else 0) != expect_generation:
                now_gen = (meta.generation or 0) if meta else 0
                msg = (f"{p.name} changed since the plan was made (generation {expect_generation} -> {now_gen}); "
                       f"nothing was written. Look at the new plan and try again.")
                raise StoreError(msg)
            kept_digests: list[str] = []
            prefix: _Kept | None = None
            if keep_row_groups:
                # the prefix stays Arrow (its own encoding, validated when it was written): only
                # the seam between it and ``df`` is checked here
                prefix, kept_digests = _prefix(p, meta, keep_row_groups)
                _check_seam(prefix, df, p.name)
            rows = df.height + (prefix.num_rows if prefix is not None else 0)

            def digests() -> list[str]:
                return kept_digests + hashing.result()

            if path is not None:
                p.parent.mkdir(parents=True, exist_ok=True)
            rows_before = meta.rows if meta else 0
            old_hash, damaged = self._old_hash(p, meta, backup, replace_damaged)
            # a new file cannot be unchanged: its hash is taken while it is written
            new_hash = combine_digests(digests()) if (dry_run or meta is not None) else None
            unchanged = meta is not None and old_hash == new_hash and (built_from is None
                                                                       or meta.built_from == built_from)
            gen = ((meta.generation or 0) + 1) if meta else 1
            if dry_run or unchanged:
                return WriteResult(str(p), False, rows_before, rows, meta.generation if (meta and unchanged) else gen,
                                   new_hash or combine_digests(digests()), None, op_id, dry_run)
            rec = backup_file(self.settings, p, reason=operation, op_id=op_id,
                              expected_rows=None if damaged else meta.rows, damaged=damaged) \
                if (meta and backup) else None
            info = {
                "schema_version": SCHEMA_VERSION, "ticker": ticker, "timeframe": timeframe,
                "rows": rows, "start": _iso(df, 0, prefix), "end": _iso(df, -1, prefix), "generation": gen,
                "content_sha256": new_hash, "row_groups": None, "written_at": now_utc().isoformat(), "operation_id": op_id,
                "datamgr_version": __version__,
                "sources": _sources(df, prefix),
            }
            if built_from is not None:
                info["built_from"] = built_from
            kept = contracts if contracts is not None else (meta.contracts if meta else None)
            if kept:
                info["contracts"] = kept
            entry = journal.JournalEntry(
                id=op_id, op=operation, file=p.name, rows_before=rows_before, rows_after=rows,
                backup=rec.path if rec else None, sha256_before=old_hash, sha256_after=new_hash,
                details=details or {}, added=(details or {}).get("added"), replaced=(details or {}).get("replaced"),
            )
            new_hash = self._write_parquet(p, df, info, entry, digests, prefix)
            log.info("%s: %s wrote %d rows (generation %d, was %d rows)%s", p.name, operation, rows, gen,
                     rows_before, f", backup {rec.path}" if rec else "")
            return WriteResult(str(p), True, rows_before, rows, gen, new_hash, rec, op_id)

    def _old_hash(self, p: Path, meta: FileMeta | None, backup: bool,
                  replace_damaged: bool) -> tuple[str | None, bool]:
        """(content hash of the current file, damaged): checked against its footer before a backup."""
        old_hash = meta.content_sha256 if meta else None
        if meta is None or not (backup or old_hash is None):
            return old_hash, False
        try:
            return self._verified_hash(p) or old_hash, False
        except DamagedFileError as err:
            if not replace_damaged:
                raise DamagedFileError(f"file damaged: {err}. {self.restore_hint(p)}") from err
            # A damaged file stays replaceable by a restore: its exact bytes are kept in a
            # sha256-verified backup (marked damaged) first.
            return None, True

    def _verified_hash(self, p: Path) -> str | None:
        """Content hash of ``p`` checked against its footer (cached per file identity); None for
        a legacy file without metadata (then hashed from its bars)."""
        st = p.stat()
        with _verified_guard:
            hit = _verified.get(str(p))
        if hit is not None and hit[:4] == (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns):
            return hit[4]
        df = load_bars(p)
        meta = read_footer(p)
        return meta.content_sha256 or content_sha256(df)

    def _write_parquet(self, final: Path, df: pl.DataFrame, info: dict[str, Any],
                       entry: journal.JournalEntry | None = None,
                       digests: Callable[[], list[str]] | None = None, prefix: _Kept | None = None) -> str:
        """Temp file -> fsync -> read back -> intent -> replace -> fsync folder -> journal.

        ``digests`` (when given) yields the row-group digests of ``df``; it is called once the row
        groups are encoded, so a hash computed on another thread overlaps the encoding. The footer
        metadata (``info`` with ``content_sha256`` and ``row_groups``) is the file's key-value
        metadata, added before the footer is written. ``prefix`` (the kept row groups of the
        current file, copied raw when their layout allows it) goes before ``df``. Returns the
        content hash."""
        schema = arrow_schema("bars" in df.columns)
        table = to_arrow_table(df, schema)
        kept = prefix.raw if prefix is not None else None
        if prefix is not None and kept is None:  # a layout that cannot be copied: encoded again
            table = pa.concat_tables([prefix.table.replace_schema_metadata(None).cast(schema), table])
        tmp = temp_path(final)
        intent_at: int | None = None
        try:
            # row groups encoded on several threads, then placed one after another: the bytes one
            # writer would have written (parquet_raw); kept row groups are copied as they are
            parts = parquet_raw.encode_parts(table, WRITE_OPTIONS, ROW_GROUP, pool=_ENCODER)
            if digests is not None:
                d = digests()
                info["row_groups"], info["content_sha256"] = d, combine_digests(d)
                if entry is not None:
                    entry.sha256_after = info["content_sha256"]
            with open(tmp, "wb") as f:
                parquet_raw.assemble([kept, *parts] if kept is not None else parts, f,
                                     {META_KEY: json.dumps(info).encode()})
                f.flush()
                os.fsync(f.fileno())
            del parts
            self._read_back(tmp, table, kept)
            if entry is not None:  # write-ahead: the intent is durable before the file changes
                length = journal.size(self.settings)
                journal.append(self.settings, journal.intent(entry))
                intent_at = length
            replace_with_retry(tmp, final)
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            if intent_at is not None and entry is not None and not isinstance(err, _PASS_THROUGH):
                journal.withdraw(self.settings, intent_at, entry)  # the file did not change
            if isinstance(err, (OSError, pa.ArrowException)):
                # Disk full, file too large, I/O error...: a StoreError the CLI maps to its exit code.
                raise StoreError(f"{final.name}: write failed, the file is unchanged: {err}") from err
            raise
        st = final.stat()
        with _verified_guard:  # read back above: this content matches its footer
            _verified[str(final)] = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, info["content_sha256"])
        try:
            fsync_dir(final.parent)
        except OSError as err:
            # The new file is in place and verified; only the rename's durability across a power
            # cut is in doubt. Failing now would report an error for a change that happened.
            log.warning("%s: replaced, but the folder fsync failed: %s", final.name, err)
        if entry is not None:
            try:
                journal.append(self.settings, entry)
            except OSError as err:
                # The change happened and its intent line is in the journal: the next lock holder
                # reconciles it. An error now would report a failure for a write that took place.
                log.warning("%s: written, but the journal completion line failed (%s); it will be "
                            "reconciled at the next start", final.name, err)
        return info["content_sha256"]

    def recover(self) -> list[dict[str, Any]]:
        """Reconcile interrupted writes and adopt orphan backups, if there is anything to do.

        Cheap when there is nothing to do (reads the journal's tail). Takes the lock only when a
        repair is needed; a folder locked by a running writer is left to that writer.
        """
        try:
            if not journal.pending(self.settings) and not has_orphan_backups(self.settings):
                return []
            with self.lock("recover", timeout=0.5):
                return self._reconciled
        except (LockedError, OSError, StoreError) as err:  # a busy or read-only folder: the next writer repairs
            log.debug("recover postponed: %s", err)
            return []

    def _reconcile(self) -> list[dict[str, Any]]:
        """Append the outcome of every intent without completion (the file tells: old or new)."""
        out = []
        for e in journal.pending(self.settings):
            p = self.root / str(e.get("file", ""))
            try:
                meta = read_footer(p) if p.is_file() and not p.is_symlink() else None
            except OSError:
                meta = None
            now = meta.content_sha256 if meta else None
            if now is not None and now == e.get("sha256_after"):
                outcome = "reconciled: applied"
            elif now == e.get("sha256_before"):
                outcome = "reconciled: not applied"
            else:
                outcome = "reconciled: unknown (the file matches neither side; check it)"
            done = {**e, "outcome": outcome, "time": now_utc().isoformat()}
            journal.append_raw(self.settings, done)
            log.warning("journal: interrupted %s of %s: %s", e.get("op"), e.get("file"), outcome)
            out.append(done)
        return out

    @staticmethod
    def _read_back(tmp: Path, table: pa.Table, kept: parquet_raw.Part | None = None) -> None:
        """Footer, row count, schema and a full decode (page checksums verified) equal to ``table``.

        Decoded one row group at a time and compared with the same rows of ``table``: every
        value is still read back, but the memory of one row group is reused for the next instead
        of a second copy of the whole file (fresh pages cost more than the decoding here). Row
        groups copied from the old file (``kept``) are compared byte for byte with the bytes that
        were checked against their page checksums, footer entries included, instead."""
        try:
            meta = read_footer(tmp, cached=False)
            mm, _ = _map(tmp)
            pf = _parquet(mm)
            got = pf.metadata.num_rows
            first = len(kept.groups) if kept is not None else 0
            rows = table.num_rows + (kept.rows if kept is not None else 0)
            if meta.rows != rows or got != rows:
                raise ReadBackError(f"{tmp.name}: wrote {rows} rows, read back {got}")
            if not pf.schema_arrow.equals(table.schema, check_metadata=False):
                raise ReadBackError(f"{tmp.name}: schema changed on read-back")
            if kept is not None:
                back = parquet_raw.part_of(memoryview(mm), first)
                if (back.end != kept.end or back.groups != kept.groups
                        or memoryview(mm)[kept.start:kept.end] != memoryview(kept.data)[kept.start:kept.end]):
                    raise ReadBackError(f"{tmp.name}: the kept row groups differ from the ones copied")
            done = 0
            # two row groups decoded at a time (the decoder releases the GIL), compared in order
            # (each decode has its own reader: one ParquetFile is not safe to share between threads)
            todo = iter(range(first, pf.num_row_groups))
            ahead: deque[tuple[int, Future[pa.Table]]] = deque(
                (i, _ENCODER.submit(_decode_row_group, mm, i)) for i in itertools.islice(todo, 2))
            while ahead:
                i, decoding = ahead.popleft()
                nxt = next(todo, None)
                if nxt is not None:
                    ahead.append((nxt, _ENCODER.submit(_decode_row_group, mm, nxt)))
                back = decoding.result()
                if not back.schema.equals(table.schema, check_metadata=False):
                    raise ReadBackError(f"{tmp.name}: schema changed on read-back (row group {i})")
                if not same_values(back, table.slice(done, back.num_rows)):
                    raise ReadBackError(f"{tmp.name}: content read back differs from what was written "
                                        f"(row group {i})")
                done += back.num_rows
            if done != table.num_rows:
                raise ReadBackError(f"{tmp.name}: wrote {table.num_rows} rows, read back {done}")
        except (OSError, pa.ArrowException, DamagedFileError, parquet_raw.RawLayoutError) as err:
            raise ReadBackError(f"{tmp.name}: written file does not read back: {err}") from err

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
        self.write_json_bytes(path, data, operation=operation, op_id=op_id)
        return path

    def write_json_bytes(self, path: Path, data: bytes, *, operation: str, op_id: str | None = None,
                         before: str | None = None) -> str:
        """:meth:`write_json` of text already serialised (``data``, UTF-8 JSON); returns its sha256.

        ``before``: the sha256 of the file being replaced when the caller knows it (else hashed
        here, when the file exists)."""
        path = Path(path)
        sha = hashlib.sha256(data).hexdigest()
        try:
            name = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            name = str(path)
        with self.lock(f"{operation} {path.name}"):
            if before is None and path.is_file():
                before = hashlib.sha256(path.read_bytes()).hexdigest()
            atomic_write_bytes(path, data)
            journal.append(self.settings, journal.JournalEntry(
                id=op_id or journal.new_op_id(), op=operation, file=name, sha256_before=before,
                sha256_after=sha, details={"kind": "json", "bytes": len(data)}))
        return sha


def to_arrow_table(df: pl.DataFrame, schema: pa.Schema) -> pa.Table:
    """``df`` as an Arrow table of ``schema``; the ``source`` column is built as a dictionary from
    its runs (codes repeated per run) instead of copying and hashing every bar's string."""
    plain = [f for f in schema if f.name != "source"]
    table = df.select([f.name for f in plain]).to_arrow().cast(pa.schema(plain))
    if "source" not in schema.names:
        return table
    typ = schema.field("source").type
    runs = df.select(pl.col("source").rle()).unnest("source")
    if runs.height > 100_000 or runs["value"].null_count():
        src = df.select("source").to_arrow().column(0).cast(typ)
    else:
        values = runs["value"].to_list()
        vocab = list(dict.fromkeys(values))  # first appearance, as a cast would order them
        code = {v: i for i, v in enumerate(vocab)}
        idx = np.repeat(np.array([code[v] for v in values], dtype=np.int32), runs["len"].to_numpy())
        # built from buffers and by polars: pa.array() of a list or of numpy imports pandas (~0.2 s)
        codes = pa.Array.from_buffers(pa.int32(), len(idx), [None, pa.py_buffer(idx)])
        words = pl.Series(vocab, dtype=pl.String).to_arrow().cast(pa.string())
        src = pa.chunked_array([pa.DictionaryArray.from_arrays(codes, words)], typ)
    return table.add_column(schema.get_field_index("source"), schema.field("source"), src)


def same_values(a: pa.Table, b: pa.Table) -> bool:
    """The two tables hold the same values, column by column (read-back check).

    Plain columns are compared with ``equals``; a dictionary column by its codes, mapped onto one
    vocabulary (a frame built from several chunks carries one dictionary per chunk, while the file
    read back has one): the same answer as decoding both to strings, without building millions
    of strings. Anything unusual (nulls in a dictionary column) falls back to decoding.
    """
    if a.num_rows != b.num_rows or a.column_names != b.column_names:
        return False
    for i, f in enumerate(a.schema):
        ca, cb = a.column(i), b.column(i)
        if pa.types.is_dictionary(f.type) and pa.types.is_dictionary(b.schema.field(i).type):
            # same dictionaries and codes (the usual case) prove equal values without decoding
            same = ca.equals(cb) or _same_dictionary_values(ca, cb)
            if same is None:
                same = ca.cast(f.type.value_type).equals(cb.cast(b.schema.field(i).type.value_type))
        else:
            same = ca.equals(cb)
        if not same:
            return False
    return True


def _codes(col: pa.ChunkedArray) -> tuple[np.ndarray, list] | None:
    """Codes (int64) of every row into one dictionary, and that dictionary's values."""
    col = col.unify_dictionaries()
    if col.null_count:
        return None
    if col.num_chunks == 0:
        return np.zeros(0, np.int64), []
    values = col.chunk(0).dictionary.to_pylist()
    codes = [np.asarray(c.indices.to_numpy(zero_copy_only=False), dtype=np.int64) for c in col.chunks]
    return np.concatenate(codes), values


def _same_dictionary_values(ca: pa.ChunkedArray, cb: pa.ChunkedArray) -> bool | None:
    a, b = _codes(ca), _codes(cb)
    if a is None or b is None:
        return None
    vocab = {v: k for k, v in enumerate(dict.fromkeys(a[1] + b[1]))}
    map_a = np.array([vocab[v] for v in a[1]] or [0], dtype=np.int64)
    map_b = np.array([vocab[v] for v in b[1]] or [0], dtype=np.int64)
    return len(a[0]) == len(b[0]) and bool(np.array_equal(map_a[a[0]], map_b[b[0]]))


def _keepable(p: Path, meta: FileMeta, before: dt.datetime) -> int:
    """Leading whole row groups of ``p`` whose datetime maximum (footer statistics) is before
    ``before`` and whose footer digests combine to the content hash; 0 when unproven."""
    d, rows = meta.row_group_digests, meta.row_group_rows
    if meta.problems or not d or len(d) != len(rows) or combine_digests(list(d)) != meta.content_sha256:
        return 0
    try:
        with open(p, "rb") as f:
            md = pq.ParquetFile(f, pre_buffer=False).metadata
            if md.num_row_groups != len(d) or "datetime" not in md.schema.names:
                return 0
            bounds = time_bounds(md, md.schema.names.index("datetime"))
    except (*_PASS_THROUGH,):
        raise
    except BaseException:  # noqa: BLE001 - an unreadable footer: keep nothing, read everything
        return 0
    n = 0
    for b, r in zip(bounds, rows, strict=True):
        if r != ROW_GROUP or b is None or b[1] is None or b[1] >= before:
            break
        n += 1
    return n


@dataclass
class _Kept:
    """The leading row groups a write keeps (``Store.write(keep_row_groups=n)``): their ``datetime``
    and ``source`` columns (decoded: start, end, seam and source counts) and, when the file's
    layout allows it, their raw bytes (``raw``, every page's CRC-32 checked) to be copied into the
    new file as they are; else ``table`` holds all their columns, to be encoded again."""

    table: pa.Table
    raw: parquet_raw.Part | None

    @property
    def num_rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)


def _prefix(p: Path, meta: FileMeta | None, n: int) -> tuple[_Kept, list[str]]:
    """The first ``n`` row groups of ``p`` and their footer digests (``Store.write(keep_row_groups=n)``).

    Only from a file whose footer proves them: digests for every row group combining to the
    content hash, whole :data:`ROW_GROUP`-row groups, no known damage. Read through one handle:
    their bytes with every page checked against its CRC-32 (the same check as a decode with page
    checksums), decoded only for ``datetime`` and ``source``. A layout this writer would not have
    written (another pyarrow, another schema) is decoded whole and encoded again instead."""
    d = meta.row_group_digests if meta is not None else None
    rows = meta.row_group_rows if meta is not None else ()
    if (meta is None or meta.problems or not d or len(d) != len(rows) or n > len(d)
            or any(r != ROW_GROUP for r in rows[:n]) or combine_digests(list(d)) != meta.content_sha256):
        raise StoreError(f"{p.name}: keep_row_groups={n}: the file has no such prefix of whole row groups "
                         f"with footer digests; nothing was written (write the whole content)")
    try:
        mm, _ = _map(p)
        pf = _parquet(mm)
        raw: parquet_raw.Part | None
        try:
            raw = parquet_raw.part_of(memoryview(mm), n)
            parquet_raw.check_same_layout(raw, _layout("bars" in pf.schema_arrow.names))
            # a private copy: the bytes checked are the bytes written, whatever happens to the file
            raw = dataclasses.replace(raw, data=bytes(memoryview(mm)[:raw.end]))
            parquet_raw.check_page_crcs(raw.data, raw)
        except parquet_raw.RawLayoutError as err:
            log.info("%s: kept row groups encoded again (%s)", p.name, err)
            raw = None
        prefix = pf.read_row_groups(list(range(n)), columns=None if raw is None else ["datetime", "source"])
        if prefix.num_rows != n * ROW_GROUP or not {"datetime", "source"} <= set(prefix.column_names):
            raise ValueError(f"{prefix.num_rows} rows, columns {prefix.column_names}")
    except (StoreError, *_PASS_THROUGH):
        raise
    except BaseException as err:  # noqa: BLE001 - pyarrow/OS errors, CRC, InvariantError, polars PanicException
        _remember_damage(p, f"cannot be read ({type(err).__name__}: {err})")
        raise DamagedFileError(f"{p.name}: cannot be read ({type(err).__name__}: {err})") from err
    return _Kept(prefix, raw), list(d[:n])


@functools.lru_cache(maxsize=2)
def _layout(with_bars: bool) -> parquet_raw.Part:
    """One row as this process writes it: the layout kept row groups must have."""
    one = {"datetime": [dt.datetime(2000, 1, 3, tzinfo=dt.UTC)], "open": [1.0], "high": [1.0], "low": [1.0],
           "close": [1.0], "volume": [1], "source": ["x"], "bars": [1]}
    df = conform(pl.DataFrame({k: v for k, v in one.items() if with_bars or k != "bars"}))
    return parquet_raw.part_of(parquet_raw.encode(to_arrow_table(df, arrow_schema(with_bars)), WRITE_OPTIONS,
                                                  ROW_GROUP))


def _check_values(df: pl.DataFrame, timeframe: str, name: str) -> None:
    """Values no file may hold: a volume beyond int32 in a master (sums of them in upsampled files
    must fit int64), a time before 1970, a 1m bar off the whole minute."""
    rules = [r for r in value_rules(minutes=1 if timeframe == "1m" else None)
             if "bars" not in df.columns or not r[0].startswith("volume")]
    # one pass counts the rows of every rule; the rows are listed only when some rule is broken
    if not any(df.select([e.fill_null(False).any().alias(n) for n, e in rules]).row(0)):
        return
    bad = df.select([e.fill_null(False).arg_true().head(20).implode().alias(n) for n, e in rules])
    found = [f"{n}: rows {', '.join(map(str, bad[n][0]))}" for n in bad.columns if len(bad[n][0])]
    if found:
        raise InvariantError(f"new content of {name} breaks the value rules:\n  " + "\n  ".join(found))


def _iso(df: pl.DataFrame, i: int, prefix: _Kept | None = None) -> str | None:
    """First (``i=0``) or last (``-1``) bar time of ``prefix`` (Arrow, may be None) then ``df``."""
    if prefix is not None and prefix.num_rows and (i == 0 or df.height == 0):
        col = pl.from_arrow(prefix.column("datetime").slice(0 if i == 0 else prefix.num_rows - 1, 1))
        assert isinstance(col, pl.Series)
        return col.cast(pl.Datetime("us", "UTC"))[0].isoformat()
    return df["datetime"][i].isoformat() if df.height else None


def _sources(df: pl.DataFrame, prefix: _Kept | None = None) -> dict[str, int]:
    """Bars per ``source`` of ``prefix`` (Arrow, may be None) and ``df`` together."""
    # runs, then runs per value: no hash of every bar's string (a master is one or two long runs)
    runs = df.select(pl.col("source").rle()).unnest("source")
    counts: dict[str, int] = dict(runs.group_by("value").agg(pl.col("len").sum()).iter_rows())
    if prefix is not None and prefix.num_rows:
        src = pl.from_arrow(prefix.column("source"))
        assert isinstance(src, pl.Series)
        for name, n in src.value_counts().iter_rows():  # counted on the codes, not a million strings
            counts[name] = counts.get(name, 0) + n
    return dict(sorted(counts.items()))


def _check_seam(prefix: _Kept, df: pl.DataFrame, name: str) -> None:
    """The kept prefix and the new rows after it keep the time order (no overlap, no repeat)."""
    if not prefix.num_rows or not df.height:
        return
    last = _iso(df.head(0), -1, prefix)
    if last is not None and dt.datetime.fromisoformat(last) >= df["datetime"][0]:
        raise InvariantError(f"new content of {name} break the bar invariants: the rows after the kept row "
                             f"groups start at {df['datetime'][0].isoformat()}, not after their last bar {last}")

