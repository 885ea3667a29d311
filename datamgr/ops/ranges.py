"""Range tools (NinjaTrader's Historical Data window): export a date range of any bar file,
delete a range from a master (backed up, journaled, confirmed), and the bars of a range for the
Chart page (aggregated on the fly so the browser never gets more than ~3,000 candles).

Ranges are given as ET dates (whole trading... calendar days, inclusive: ``2025-07-14``) or ISO
datetimes (naive = the display zone, ET): :func:`parse_range`. Times inside are UTC like the
store; CSV exports write the bar open time as ISO 8601 with the ET offset.

Decisions where the issue is silent:

* ``delete_range`` works on files that are written, not rebuilt: the 1m master and the
  downloaded 1d/1w files. Deleting from an upsampled file would be undone by the next
  regeneration, so it is refused (delete from the master instead).
* Without ``confirm=True`` (CLI ``--yes``, page: the typed file name) nothing is deleted and
  :class:`ConfirmationRequired` is raised; ``dry_run=True`` returns the plan instead.
* ``export_range`` never writes into the data folder (the data is not a scratch space) and
  never overwrites a file unless ``overwrite=True``.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from datamgr.calendar.sessions import calendar_for
from datamgr.core.config import Settings
from datamgr.core.errors import DataMgrError, InputError
from datamgr.core.layout import INTRADAY_DERIVED, TIMEFRAMES
from datamgr.core.layout import bar_name as layout_name
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import to_et_iso
from datamgr.derived.regenerate import regenerate
from datamgr.health.gaps import classify_like, continuity
from datamgr.store.atomic import atomic_write_bytes
from datamgr.store.store import Store, parquet_size

log = logging.getLogger(__name__)
FORMATS = ("csv", "parquet")
DELETABLE = ("1m", "1d", "1w")
MAX_CANDLES = 3000
#: candle sizes tried, smallest first, when a range holds more bars than MAX_CANDLES
AGGREGATES = ("1m", "2m", "5m", "10m", "15m", "30m", "1h", "2h", "4h", "1d", "1w", "1mo")
MAX_GAP_SHAPES = 400


class ConfirmationRequired(DataMgrError):
    """A destructive operation was asked for without its confirmation; nothing was changed."""

    exit_code = 1


# ---------------------------------------------------------------------- ranges
def _bound(value: str | dt.date | dt.datetime, *, end: bool, tz: str, name: str) -> dt.datetime:
    """One bound as an aware UTC datetime: a date is the whole day in ``tz`` (end inclusive)."""
    zone = ZoneInfo(tz)
    if isinstance(value, dt.datetime):
        x = value if value.tzinfo else value.replace(tzinfo=zone)
        return x.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        d = value
    else:
        s = str(value).strip()
        try:
            if len(s) == 10:
                d = dt.date.fromisoformat(s)
            else:
                x = dt.datetime.fromisoformat(s)
                return (x if x.tzinfo else x.replace(tzinfo=zone)).astimezone(dt.UTC)
        except ValueError as err:
            raise InputError(f"{name}={s!r} is not a date or time; expected YYYY-MM-DD or YYYY-MM-DDTHH:MM",
                             field=name) from err
    t = dt.datetime.combine(d + dt.timedelta(days=1) if end else d, dt.time(), zone)
    return (t - dt.timedelta(microseconds=1) if end else t).astimezone(dt.UTC)


def parse_range(start: str | dt.date | dt.datetime, end: str | dt.date | dt.datetime,
                tz: str = "America/New_York") -> tuple[dt.datetime, dt.datetime]:
    """``(start, end)`` as an inclusive UTC range; dates are whole days in ``tz``.

    Raises
    ------
    InputError
        A bound that is not a date/time (``field`` = ``start`` or ``end``), or ``end`` before ``start``.
    """
    lo = _bound(start, end=False, tz=tz, name="start")
    hi = _bound(end, end=True, tz=tz, name="end")
    if hi < lo:
        raise InputError(f"end={end!s} is before start={start!s}", field="end")
    return lo, hi


def _check_tf(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        raise InputError(f"timeframe={timeframe!r}: expected one of {', '.join(TIMEFRAMES)}", field="timeframe")
    return timeframe


def range_bars(settings: Settings, ticker: str, timeframe: str, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
    """The stored bars of ``ticker``/``timeframe`` with open times in ``[start, end]`` (UTC, inclusive)."""
    return Store(settings).read_range(ticker, _check_tf(timeframe), start, end + dt.timedelta(microseconds=1))


# ---------------------------------------------------------------------- export
#: days of bars on each side of a chart window that the quiet-minute model learns from
GAP_MODEL_DAYS = 120


@dataclass(frozen=True)
class ExportResult:
    ticker: str
    timeframe: str
    format: str
    rows: int
    start: str | None
    end: str | None
    path: str | None
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def export_bytes(settings: Settings, ticker: str, timeframe: str, start: str | dt.date | dt.datetime,
                 end: str | dt.date | dt.datetime, fmt: str = "csv") -> tuple[bytes, ExportResult]:
    """The bars of a range encoded as CSV (ET ISO times with offset) or Parquet (the store's schema).

    Parameters
    ----------
    fmt : {"csv", "parquet"}
    """
    if fmt not in FORMATS:
        raise InputError(f"fmt={fmt!r}: expected csv or parquet", field="fmt")
    lo, hi = parse_range(start, end, settings.display_tz)
    bars = range_bars(settings, ticker, timeframe, lo, hi)
    buf = io.BytesIO()
    if fmt == "parquet":
        bars.write_parquet(buf, compression="zstd", statistics=True)
    else:
        bars.with_columns(pl.col("datetime").dt.convert_time_zone(settings.display_tz)
                          .dt.strftime("%Y-%m-%dT%H:%M:%S%:z")).write_csv(buf)
    data = buf.getvalue()
    tz = settings.display_tz
    res = ExportResult(ticker, timeframe, fmt, bars.height,
                       to_et_iso(bars["datetime"][0], tz) if bars.height else None,
                       to_et_iso(bars["datetime"][-1], tz) if bars.height else None, None, len(data))
    return data, res


def export_file_name(ticker: str, timeframe: str, start: Any, end: Any, fmt: str) -> str:
    return f"{ticker}_{timeframe}_{start}_{end}.{fmt}".replace(":", "")


def export_range(settings: Settings, ticker: str, timeframe: str, start: str | dt.date | dt.datetime,
                 end: str | dt.date | dt.datetime, fmt: str = "csv", dest: str | Path | None = None, *,
                 overwrite: bool = False, dry_run: bool = False) -> ExportResult:
    """Write the bars of a range to ``dest`` (default ``./<T>_<tf>_<start>_<end>.<fmt>``), atomically.

    Raises
    ------
    InputError
        Bad range or format, ``dest`` inside the data folder, or an existing ``dest`` without ``overwrite``.
    """
    data, res = export_bytes(settings, ticker, timeframe, start, end, fmt)
    out = Path(dest) if dest else Path(export_file_name(ticker, timeframe, start, end, fmt))
    root = Path(settings.data_dir).resolve()
    target = out.resolve()
    if target == root or root in target.parents:
        raise InputError(f"dest={out}: inside the data folder {root}; export somewhere else", field="dest")
    if target.exists() and not overwrite:
        raise InputError(f"dest={out}: already exists (overwrite=True to replace it)", field="dest")
    if not dry_run:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(target, data)
        log.info("exported %d %s %s bars to %s", res.rows, ticker, timeframe, target)
    return ExportResult(**{**res.to_json(), "path": str(target)})


# ---------------------------------------------------------------------- delete
@dataclass
class DeleteResult:
    ticker: str
    timeframe: str
    file: str
    start: str
    end: str
    deleted: int
    rows_before: int
    rows_after: int
    first_deleted: str | None
    last_deleted: str | None
    size_before: int
    size_after: int
    dry_run: bool
    written: bool = False
    backup: str | None = None
    operation_id: str | None = None
    derived_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size_change(self) -> int:
        return self.size_after - self.size_before

    def to_json(self) -> dict[str, Any]:
        return self.__dict__ | {"size_change": self.size_change}


def plan_delete(settings: Settings, ticker: str, start: str | dt.date | dt.datetime,
                end: str | dt.date | dt.datetime, *, timeframe: str = "1m") -> DeleteResult:
    """What :func:`delete_range` would delete, cheaply (footer + the row groups of the range; the
    size after is estimated in proportion to the rows): for a page that renders it on every rerun.
    The CLI's dry run (``delete_range(dry_run=True)``) encodes the result for the exact size."""
    _check_tf(timeframe)
    lo, hi = parse_range(start, end, settings.display_tz)
    store = Store(settings)
    meta = store.read_meta(ticker, timeframe)
    if meta is None:
        raise InputError(f"{layout_name(ticker, timeframe)}: no such file in {settings.data_dir}")
    gone = store.read_range(ticker, timeframe, lo, hi + dt.timedelta(microseconds=1))
    tz = settings.display_tz
    after = meta.rows - gone.height
    return DeleteResult(
        ticker=ticker, timeframe=timeframe, file=Path(meta.path).name, start=to_et_iso(lo, tz),
        end=to_et_iso(hi, tz), deleted=gone.height, rows_before=meta.rows, rows_after=after,
        first_deleted=to_et_iso(gone["datetime"][0], tz) if gone.height else None,
        last_deleted=to_et_iso(gone["datetime"][-1], tz) if gone.height else None,
        size_before=meta.size_bytes, size_after=round(meta.size_bytes * after / meta.rows) if meta.rows else 0,
        dry_run=True, notes=["size after estimated in proportion to the rows"])


def delete_range(settings: Settings, ticker: str, start: str | dt.date | dt.datetime,
                 end: str | dt.date | dt.datetime, *, timeframe: str = "1m", confirm: bool = False,
                 dry_run: bool = False, no_derived: bool = False, progress: Progress = None) -> DeleteResult:
    """Delete the bars of ``[start, end]`` from a master (1m) or downloaded (1d/1w) file.

    The write goes through :meth:`Store.write`: lock, verified backup of the current file,
    atomic write with read-back, journal line (op ``delete-range``). A 1m deletion regenerates
    the derived data (unless ``no_derived``).

    Parameters
    ----------
    confirm : bool
        Must be True to delete (CLI ``--yes``; the page asks for the file name to be typed).
    dry_run : bool
        Plan only: counts and the file size change, nothing written.

    Raises
    ------
    ConfirmationRequired
        ``confirm`` is False and this is not a dry run: nothing was changed.
    InputError
        Bad range, or a timeframe that is rebuilt rather than written (5m..4h).
    """
    _check_tf(timeframe)
    if timeframe in INTRADAY_DERIVED:
        raise InputError(f"timeframe={timeframe!r} is rebuilt from the 1m master by regeneration; delete the "
                         "range from the 1m master instead", field="timeframe")
    lo, hi = parse_range(start, end, settings.display_tz)
    store = Store(settings)
    path = store.path(ticker, timeframe)
    if not path.is_file():
        raise InputError(f"{path.name}: no such file in {settings.data_dir}", file=str(path))
    report(progress, 0, 3, f"reading {path.name}")
    bars = store.read(ticker, timeframe)
    inside = pl.col("datetime").is_between(lo, hi, closed="both")
    gone = bars.filter(inside)
    kept = bars.filter(~inside)
    tz = settings.display_tz
    size_before = path.stat().st_size
    res = DeleteResult(
        ticker=ticker, timeframe=timeframe, file=path.name, start=to_et_iso(lo, tz), end=to_et_iso(hi, tz),
        deleted=gone.height, rows_before=bars.height, rows_after=kept.height,
        first_deleted=to_et_iso(gone["datetime"][0], tz) if gone.height else None,
        last_deleted=to_et_iso(gone["datetime"][-1], tz) if gone.height else None,
        size_before=size_before, size_after=parquet_size(kept) if gone.height else size_before,
        dry_run=dry_run)
    if dry_run or gone.height == 0:
        if gone.height == 0:
            res.notes.append("no bars in this range: nothing to delete")
        return res
    if not confirm:
        raise ConfirmationRequired(
            f"deleting {gone.height:,} bar(s) of {path.name} ({res.first_deleted} .. {res.last_deleted}) needs "
            "confirm=True; nothing was changed", summary=f"Not deleted: {gone.height:,} bar(s) need confirmation.")
    report(progress, 1, 3, f"backing up and writing {path.name}")
    wr = store.write(ticker, timeframe, kept, operation="delete-range", backup=True,
                     details={"deleted": gone.height, "from": res.start, "to": res.end,
                              "first_deleted": res.first_deleted, "last_deleted": res.last_deleted})
    res.written, res.backup, res.operation_id = wr.written, wr.backup.path if wr.backup else None, wr.op_id
    res.size_after = path.stat().st_size
    if timeframe == "1m" and not no_derived:
        report(progress, 2, 3, "regenerating derived data")
        try:
            rep = regenerate(settings, ticker)
            if not rep.ok:
                res.derived_error = f"step {rep.failed_step} failed: {rep.error}"
        except DataMgrError as err:
            res.derived_error = str(err)
    report(progress, 3, 3, "done")
    return res


# ---------------------------------------------------------------------- chart
@dataclass
class ChartData:
    """The bars of a range for a chart: at most ``max_candles``, with source, generation and gaps."""

    ticker: str
    timeframe: str
    candle: str                       # the candle size drawn (== timeframe unless aggregated)
    bars: pl.DataFrame                # datetime (UTC), open, high, low, close, volume, source
    generation: int | None
    stored_rows: int                  # bars of the range in the file (before aggregation)
    start: dt.date
    end: dt.date
    gaps: list[dict[str, Any]] = field(default_factory=list)  # start, end (UTC), missing, cls
    intraday: bool = True
    lo: dt.datetime | None = None     # the window read: [lo, hi) UTC (the sessions of start..end)
    hi: dt.datetime | None = None

    @property
    def last(self) -> dt.datetime | None:
        """The inclusive end of the window (for export / delete of exactly what is drawn)."""
        return None if self.hi is None else self.hi - dt.timedelta(microseconds=1)

    @property
    def aggregated(self) -> bool:
        return self.candle != self.timeframe


def _aggregate(bars: pl.DataFrame, every: str) -> pl.DataFrame:
    """OHLCV candles of ``every``; ``source`` lists the sources inside each candle (``ninjatrader+yahoo``)."""
    single = bars["source"].n_unique() == 1
    src = pl.col("source").first() if single else pl.col("source").unique(maintain_order=True).str.join("+")
    return bars.sort("datetime").group_by_dynamic("datetime", every=every).agg(
        pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
        pl.col("volume").sum(), src)


def _minutes(every: str) -> float:
    n = int(every.rstrip("mhdwo"))
    unit = every[len(str(n)):]
    return n * {"m": 1, "h": 60, "d": 1440, "w": 10080, "mo": 43200}[unit]


def chart_data(settings: Settings, ticker: str, timeframe: str, start: dt.date, end: dt.date, *,
               max_candles: int = MAX_CANDLES, gaps: bool = True) -> ChartData:
    """Bars of the trading days ``start..end`` of any stored file, aggregated on the fly to the
    smallest candle size that keeps at most ``max_candles``, with the 1m master's gaps (classes
    ``hole``/``recurring``/``edge``) over the same days.
    """
    _check_tf(timeframe)
    store = Store(settings)
    meta = store.read_meta(ticker, timeframe)
    cal = calendar_for(settings, ticker)
    intraday = timeframe not in ("1d", "1w")
    lo = dt.datetime.combine(start, dt.time(), dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), dt.UTC)
    if intraday:
        seg = cal.segments(start, end)
        if seg.height:
            lo, hi = seg["start"].min(), seg["end"].max()
    bars = store.read_range(ticker, timeframe, lo, hi).select(
        "datetime", "open", "high", "low", "close", "volume", pl.col("source").cast(pl.String))
    stored = bars.height
    candle = timeframe
    if bars.height > max_candles:
        base = _minutes(timeframe if timeframe != "1w" else "1w")
        for every in AGGREGATES:
            if _minutes(every) < base:
                continue
            # partial candles at session edges add ~10 %: aggregate only where it will fit
            if bars.height * base / _minutes(every) <= 0.9 * max_candles or every == AGGREGATES[-1]:
                agg = _aggregate(bars, every)
                if agg.height <= max_candles or every == AGGREGATES[-1]:
                    bars, candle = agg, every
                    break
    out = ChartData(ticker, timeframe, candle, bars, meta.generation if meta else None, stored, start, end,
                    intraday=intraday, lo=lo, hi=hi)
    if gaps and intraday and store.path(ticker, "1m").is_file():
        # the quiet model learns from a wide margin around the window (a few days know too little)
        margin = dt.timedelta(days=GAP_MODEL_DAYS)
        master = store.read_range(ticker, "1m", lo - margin, hi + margin)
        if master.height:
            cont = continuity(master, cal, start=start, end=end)
            if cont.gaps:
                cont = classify_like(cont, continuity(master, cal))
            found = sorted(cont.gaps, key=lambda g: -g.missing)[:MAX_GAP_SHAPES]
            out.gaps = [{"start": g.start, "end": g.end, "missing": g.missing, "cls": g.cls} for g in found]
    return out


@dataclass(frozen=True)
class FileSpan:
    """One bar file of a ticker, for the Chart page's pickers (footer only)."""

    timeframe: str
    rows: int
    first_day: dt.date | None
    last_day: dt.date | None
    generation: int | None


def ticker_files(settings: Settings, ticker: str) -> list[FileSpan]:
    """The bar files of ``ticker`` in timeframe order, with their ET date span (footers only)."""
    store = Store(settings)
    out = []
    tz = ZoneInfo(settings.display_tz)
    for tf in TIMEFRAMES:
        meta = store.read_meta(ticker, tf)
        if meta is None:
            continue
        daily = tf in ("1d", "1w")

        def day(t: dt.datetime | None, daily: bool = daily) -> dt.date | None:
            if t is None:
                return None
            return t.astimezone(dt.UTC).date() if daily else t.astimezone(tz).date()

        out.append(FileSpan(tf, meta.rows, day(meta.start), day(meta.end), meta.generation))
    return out
