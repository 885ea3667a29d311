"""Session calendar cache: the expanded sessions of a calendar, stored once per data folder.

What is cached: the *open segments* (``trading_day``, ``start``, ``end``; half-open, UTC) of every
trading day from :data:`FIRST_YEAR` (or earlier when a file needs it) to two years ahead, of one
calendar with the era table (:mod:`datamgr.calendar.sessions`) and the ``[[closed]]`` /
``[[opened]]`` periods of ``calendar_overrides.toml`` that apply to a ticker. The file is
``<data>/.cache/sessions-<calendar>-<key>.parquet``; the key is a SHA-256 of those inputs, the
year range, :data:`SESSIONS_ALGO`, the datamgr version and the installed
``pandas_market_calendars`` version, so any change of an input selects another file (stale files
are never read; they are removed when a new one is written).

Why: building a schedule costs the ``pandas_market_calendars`` import (~0.7 s, with pandas)
plus ~0.5 s of schedule work; reading the cached Parquet with pyarrow costs milliseconds. The
light readers (``status``, the inventory's health flags and staleness) use only this module,
numpy and pyarrow; the schedule is built (pandas, polars, pandas_market_calendars imported then)
only when the cache is cold.

The cache is regenerable bookkeeping: written atomically (temp file + rename), never backed up,
skipped silently when the data folder is read-only. :class:`datamgr.calendar.sessions.SessionCalendar`
builds its schedules with the same functions (:func:`schedule`, :func:`base_segments`,
:func:`cut`, :func:`add_opened`), so the cache and the library answers cannot disagree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.util
import json
import logging
import os
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datamgr import __version__
from datamgr.calendar.overrides import load_overrides
from datamgr.core import layout
from datamgr.core.errors import ConfigError

log = logging.getLogger(__name__)

MINUTE_US = 60_000_000
HALT_END_DAY = dt.date(2021, 6, 28)  # first trading day without the 15:15-15:30 CT halt
ERA_2012_DAY = dt.date(2012, 11, 19)  # first trading day ending 16:15 CT (halt 15:15-15:30)
CALENDARS = ("CME Globex Equity", "NYSE extended", "NYSE", "XNSE")
#: other names accepted for a calendar
ALIASES = {"NSE": "XNSE"}
FIRST_YEAR = 2000
#: bump when the era table or the segment rules change (selects new cache files)
SESSIONS_ALGO = 2  # 2: an [[opened]] period's day is looked up around its own end

_MEM: dict[str, Segments] = {}
#: segments built without writing their file (``write=False``), with the table a writer would write
_UNWRITTEN: dict[str, tuple[Segments, pa.Table]] = {}


def _pl():
    import polars  # heavy: only when a schedule is built (cold session cache, full health checks)

    return polars


def _utc():
    return _pl().Datetime("us", "UTC")


# ---------------------------------------------------------------------- what a calendar is
@dataclass(frozen=True)
class CalendarSpec:
    """The inputs of a ticker's sessions: calendar name and the overrides that apply to it."""

    name: str
    closed: tuple[tuple[dt.datetime, dt.datetime], ...] = ()
    opened: tuple[tuple[dt.datetime, dt.datetime, dt.date | None], ...] = ()


def spec_for(settings, ticker: str) -> CalendarSpec:
    """The calendar spec of ``ticker`` (instrument setting + the folder's overrides file).

    Raises
    ------
    ConfigError
        Unknown calendar name.
    InputError
        The overrides file is malformed.
    """
    name = settings.instrument(ticker).calendar
    name = ALIASES.get(name, name)
    if name not in CALENDARS:
        raise ConfigError(f"unknown calendar {name!r}; expected one of {', '.join(CALENDARS)}")
    ov = load_overrides(settings.overrides_path)
    closed = tuple((p.start, p.end) for p in ov.closed if p.applies(ticker, name))
    opened = tuple((p.start, p.end, p.trading_day) for p in ov.opened if p.applies(ticker, name))
    return CalendarSpec(name, closed, opened)


@dataclass(frozen=True)
class Segments:
    """Open segments as numpy arrays, sorted by ``start``: ``day`` (datetime64[D]), ``start`` and
    ``end`` (int64 microseconds since the epoch, UTC, half-open)."""

    day: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_days_sorted", bool(len(self.day) < 2 or (np.diff(self.day.view("int64")) >= 0).all()))

    def between(self, first: dt.date, last: dt.date) -> Segments:
        """Segments of trading days in ``[first, last]``."""
        lo, hi = np.datetime64(first, "D"), np.datetime64(last, "D")
        if self._days_sorted:  # the usual case: two binary searches instead of two masks
            i, j = np.searchsorted(self.day, lo, "left"), np.searchsorted(self.day, hi, "right")
            return Segments(self.day[i:j], self.start[i:j], self.end[i:j])
        m = (self.day >= lo) & (self.day <= hi)
        return Segments(self.day[m], self.start[m], self.end[m])

    def covers(self, first: dt.date, last: dt.date) -> bool:
        return len(self.day) > 0 and self.day[0] <= np.datetime64(first, "D") and \
            self.day[-1] >= np.datetime64(last, "D")


# ---------------------------------------------------------------------- the cache
@lru_cache(maxsize=1)
def _pmc_version() -> str:
    """Installed pandas_market_calendars version, from its dist-info name (no import: ~1 ms)."""
    spec = importlib.util.find_spec("pandas_market_calendars")
    if spec is None or not spec.origin:
        return "missing"
    site = Path(spec.origin).parent.parent
    try:
        names = [n for n in os.listdir(site) if n.startswith("pandas_market_calendars-") and n.endswith(".dist-info")]
    except OSError:
        names = []
    return names[0] if names else str(Path(spec.origin).stat().st_mtime_ns)


def cache_key(spec: CalendarSpec, lo_year: int, hi_year: int) -> str:
    """SHA-256 of everything the cached segments depend on."""
    obj = {
        "algo": SESSIONS_ALGO, "datamgr": __version__, "pmc": _pmc_version(), "calendar": spec.name,
        "eras": [ERA_2012_DAY.isoformat(), HALT_END_DAY.isoformat()],
        "closed": [[a.isoformat(), b.isoformat()] for a, b in spec.closed],
        "opened": [[a.isoformat(), b.isoformat(), d.isoformat() if d else None] for a, b, d in spec.opened],
        "years": [lo_year, hi_year],
    }
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())


def year_range(first: dt.date | None = None, last: dt.date | None = None) -> tuple[int, int]:
    """Years the cache spans: :data:`FIRST_YEAR` (earlier if ``first`` needs it) to two years
    after this one (later if ``last`` needs it) — the range :mod:`sessions` builds too."""
    lo = min(FIRST_YEAR, first.year - 1) if first else FIRST_YEAR
    hi = max(dt.date.today().year + 2, last.year if last else 0)
    return lo, hi


def cached_segments(data_dir: Path | None, spec: CalendarSpec, first: dt.date | None = None,
                    last: dt.date | None = None, *, write: bool = True) -> Segments:
    """Open segments of ``spec`` over :func:`year_range`, from memory, the cache file or built.

    Parameters
    ----------
    data_dir : Path or None
        The data folder whose ``.cache/`` holds the file; None: memory only.
    spec : CalendarSpec
    first, last : date, optional
        Days that must be covered (widen the year range when outside it).
    write : bool
        Write the file when it was missing (False: read it if present, else build in memory only).
    """
    lo, hi = year_range(first, last)
    key = cache_key(spec, lo, hi)
    hit = _MEM.get(key)
    if hit is not None:
        return hit
    path = layout.cache_dir(data_dir) / f"sessions-{_slug(spec.name)}-{key[:24]}.parquet" if data_dir else None
    seg = _read(path) if path is not None else None
    if seg is None:
        pending = _UNWRITTEN.get(key)
        seg, table = pending if pending is not None else (None, build_table(spec, lo, hi))
        if seg is None:
            seg = _from_table(table)
        if path is not None and not write:  # built for a step that writes nothing: kept aside, so a
            _UNWRITTEN[key] = (seg, table)  # later writer of a folder still writes the file
            return seg
        if path is not None:
            _write(path, table, key)
        _UNWRITTEN.pop(key, None)
    _MEM[key] = seg
    return seg


def _ints(col: pa.ChunkedArray, dtype: type) -> np.ndarray:
    """Values of a null-free date32 / timestamp[us] column as integers, straight from its buffer
    (``to_numpy`` and ``cast`` import pandas and pyarrow.compute: ~0.4 s on a CLI start)."""
    arr = col.combine_chunks()
    if arr.null_count or np.dtype(dtype).itemsize * 8 != arr.type.bit_width:
        raise ValueError(f"unexpected session cache column {arr.type}")
    return np.frombuffer(arr.buffers()[1], dtype=dtype, count=len(arr), offset=arr.offset).copy()


def _from_table(table: pa.Table) -> Segments:
    for name in ("start", "end"):
        if table.schema.field(name).type != pa.timestamp("us", "UTC"):
            raise ValueError(f"session cache column {name} is {table.schema.field(name).type}")
    return Segments(_ints(table.column("trading_day"), np.int32).astype("datetime64[D]"),
                    _ints(table.column("start"), np.int64), _ints(table.column("end"), np.int64))


def _read(path: Path) -> Segments | None:
    if not path.is_file():
        return None
    try:
        with open(path, "rb") as f:  # ParquetFile, not read_table: that imports pyarrow.dataset (+ pandas)
            # one thread: a tiny file, and no Arrow thread pool left starting when a short-lived
            # CLI process exits (that aborts with "terminate called without an active exception")
            return _from_table(pq.ParquetFile(f, pre_buffer=False).read(use_threads=False))
    except (OSError, pa.ArrowException, KeyError, ValueError) as err:
        log.warning("%s: unreadable session cache, rebuilding: %s", path, err)
        return None


def _write(path: Path, table: pa.Table, key: str) -> None:
    """Atomic write of a cache file; older files of the same calendar are removed."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.replace_schema_metadata({b"datamgr_session_cache": key.encode()}), tmp,
                       compression="zstd")
        os.replace(tmp, path)
    except OSError as err:  # a read-only folder: the cache is an optimisation, not data
        log.debug("%s: session cache not written: %s", path, err)
        with contextlib.suppress(OSError):  # no folder to clean (e.g. ``.cache`` is not a folder)
            tmp.unlink(missing_ok=True)
        return
    prefix = path.name.rsplit("-", 1)[0] + "-"
    for old in path.parent.glob(prefix + "*.parquet"):
        if old != path and old.name.count("-") == path.name.count("-"):
            old.unlink(missing_ok=True)


def build_table(spec: CalendarSpec, lo_year: int, hi_year: int) -> pa.Table:
    """The segments of ``spec`` over whole years ``lo_year .. hi_year`` as an Arrow table."""
    sess = schedule(spec.name, lo_year, hi_year)
    seg = base_segments(sess)
    for c_start, c_end in spec.closed:
        seg = cut(seg, c_start, c_end)
    if spec.opened:
        seg = add_opened(seg, spec.name, spec.opened, dt.date(lo_year, 1, 1), dt.date(hi_year, 12, 31))
    return seg.select("trading_day", "start", "end").to_arrow()


# ---------------------------------------------------------------------- schedules (polars)
@lru_cache(maxsize=8)
def _pmc(name: str):
    import pandas_market_calendars as mcal  # heavy (~0.7 s): only when a schedule is built

    return mcal.get_calendar("NYSE" if name.startswith("NYSE") else name)


@lru_cache(maxsize=8)
def schedule(name: str, lo_year: int, hi_year: int) -> Any:
    """Sessions of whole years (polars frame: ``trading_day``, ``open``, ``close``,
    ``break_start``, ``break_end``; UTC) from the library with the era table applied."""
    pl = _pl()
    utc = _utc()
    cal = _pmc(name)
    start, end = dt.date(lo_year, 1, 1), dt.date(hi_year, 12, 31)
    if name == "NYSE extended":
        sched = cal.schedule(start, end, start="pre", end="post")
        o, c = sched["pre"], sched["post"]
    else:
        sched = cal.schedule(start, end)
        o, c = sched["market_open"], sched["market_close"]
    df = pl.DataFrame({
        "trading_day": pl.Series(sched.index.to_numpy().astype("datetime64[D]"), dtype=pl.Date),
        "open": pl.Series(o.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")),
        "close": pl.Series(c.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")),
    }).with_columns(pl.col("open", "close").dt.replace_time_zone("UTC"))
    if name == "CME Globex Equity":
        df = _cme_equity_eras(df)
    else:
        df = df.with_columns(pl.lit(None, utc).alias("break_start"), pl.lit(None, utc).alias("break_end"))
    return df.with_columns(pl.col("open", "close", "break_start", "break_end").cast(utc))


def _cme_equity_eras(df):
    """Apply the regular-day hours of each era (:mod:`sessions` docstring) to library sessions."""
    pl = _pl()
    utc = _utc()
    day_ct = pl.col("trading_day").cast(pl.Datetime("us")).dt.replace_time_zone(
        "America/Chicago", ambiguous="earliest")

    def at(h: int, m: int):
        return (day_ct + pl.duration(hours=h, minutes=m)).dt.convert_time_zone("UTC")

    df = df.with_columns(pl.col("open", "close").cast(utc))
    regular = pl.col("close") == at(16, 0)
    era_a = pl.col("trading_day") < ERA_2012_DAY
    era_b = ~era_a & (pl.col("trading_day") < HALT_END_DAY)
    df = df.with_columns(
        pl.when(regular & era_a).then(at(15, 15))
        .when(regular & era_b).then(at(16, 15))
        .otherwise(pl.col("close")).alias("close"))
    halt = era_b & (pl.col("close") > at(15, 30))
    # before 2012: after a regular close at 15:15 CT the next session reopened at 15:30 CT the
    # same afternoon, then paused for maintenance 16:30-17:00 CT
    prev = pl.col("close").shift(1)
    ext = era_a & (prev == pl.col("open") - pl.duration(minutes=105))
    return df.with_columns(
        pl.when(ext).then(prev + pl.duration(minutes=15)).otherwise(pl.col("open")).alias("open"),
        pl.when(ext).then(pl.col("open") - pl.duration(minutes=30))
        .when(halt).then(at(15, 15)).otherwise(None).alias("break_start"),
        pl.when(ext).then(pl.col("open"))
        .when(halt).then(at(15, 30)).otherwise(None).alias("break_end"),
    )


def base_segments(s):
    """Open segments of sessions ``s`` (one, or two around a break, per session)."""
    pl = _pl()
    first = s.select("trading_day", pl.col("open").alias("start"),
                     pl.coalesce("break_start", "close").alias("end"))
    second = s.filter(pl.col("break_end").is_not_null()).select(
        "trading_day", pl.col("break_end").alias("start"), pl.col("close").alias("end"))
    return pl.concat([first, second]).sort("start")


def cut(seg, c_start: dt.datetime, c_end: dt.datetime):
    """Remove the closed period ``[c_start, c_end)`` from the segments."""
    pl = _pl()
    utc = _utc()
    cs, ce = pl.lit(c_start).cast(utc), pl.lit(c_end).cast(utc)
    left = seg.filter(pl.col("start") < cs).with_columns(pl.min_horizontal("end", cs).alias("end"))
    right = seg.filter(pl.col("end") > ce).with_columns(pl.max_horizontal("start", ce).alias("start"))
    untouched = seg.filter((pl.col("end") <= cs) | (pl.col("start") >= ce))
    out = pl.concat([untouched, left, right]).unique(maintain_order=False)
    return out.filter(pl.col("end") > pl.col("start")).sort("start")


def add_opened(seg, name: str, opened, start: dt.date, end: dt.date):
    """Add the ``[[opened]]`` periods as segments of their (or the next session's) trading day."""
    pl = _pl()
    rows = []
    for o_start, o_end, day in opened:  # a handful of override entries, not days
        seg = cut(seg, o_start, o_end)
        if day is None:
            day = day_closing_at_or_after(name, o_end)
        if start <= day <= end:
            rows.append({"trading_day": day, "start": o_start, "end": o_end})
    if not rows:
        return seg
    add = pl.DataFrame(rows).with_columns(pl.col("start", "end").cast(_utc()))
    return pl.concat([seg, add.select(seg.columns)]).sort("start")


def day_closing_at_or_after(name: str, t: dt.datetime) -> dt.date:
    """Trading day of the first session closing at or after ``t`` (an ``[[opened]]`` period's end).

    Looked up around ``t`` itself, not from the first day of the requested range: a period before
    the range belongs to its own (earlier) session, never to the range's first day."""
    pl = _pl()
    d = t.astimezone(dt.UTC).date()
    lo, hi = d - dt.timedelta(days=1), d + dt.timedelta(days=10)
    sess = schedule(name, lo.year, hi.year).filter(pl.col("trading_day").is_between(lo, hi))
    closes = sess["close"].to_numpy().astype("datetime64[us]").astype("int64")
    i = int(np.searchsorted(closes, np.datetime64(t.astimezone(dt.UTC).replace(tzinfo=None), "us")
                            .astype("int64"), side="left"))
    return sess["trading_day"][i] if i < sess.height else d
