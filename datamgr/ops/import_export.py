"""NinjaTrader import orchestration: verify -> plan -> import (SPEC 6).

``import``: parse (outside the lock: only reads the input) -> **lock** -> read master -> verify
(zone, overlap) -> refuse on FAIL unless ``force`` -> merge plan (source precedence) -> stop
here for ``dry_run`` or when nothing changes -> ``Store.write`` (validate, verified backup,
atomic write, read-back, journal) -> regenerate derived data (unless ``no_derived``).

Decisions where the spec is silent:

* Minute/tick exports go to ``<TICKER>_1m.parquet``; daily exports to ``<TICKER>_1d.parquet``
  (``datetime`` = trading date 00:00 UTC, zone detection not applicable).
* A FAIL verdict refuses the import (:class:`CheckFailed`, exit 1) unless ``force=True``
  (``--force`` / the page's explicit override).
* Rows that parse but break invariants are left out and listed; ``strict=True`` refuses the
  whole file instead (:class:`InputError`, exit 2).
* Importing the same file twice: the second plan has no new or replaced bars, so nothing is
  written (no backup, no new generation, no derived regeneration).
* A derived-data failure after a successful master write does not undo the import; it is
  reported in ``derived_error``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import Settings
from datamgr.core.errors import CheckFailed, DataMgrError, InputError
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import to_et_iso
from datamgr.derived.regenerate import regenerate
from datamgr.ingest.ninjatrader.parse import ParsedExport, parse_export
from datamgr.ingest.ninjatrader.place import to_bars
from datamgr.ingest.ninjatrader.verify import VerifyReport, verify_parsed
from datamgr.store.merge import MergePlan, plan_merge
from datamgr.store.roll import Roll, plan_roll, record_contracts
from datamgr.store.store import Store, WriteResult

log = logging.getLogger(__name__)
_STEPS = 6


@dataclass
class ImportResult:
    """Outcome of :func:`import_export` (also the dry-run plan); ``to_json()`` is SPEC 13."""

    verify: VerifyReport
    plan: MergePlan | None
    dry_run: bool
    timeframe: str
    write: WriteResult | None = None
    derived: Any = None
    derived_error: str | None = None
    notes: list[str] = field(default_factory=list)
    roll: Roll | None = None

    @property
    def written(self) -> bool:
        return bool(self.write and self.write.written)

    def to_json(self) -> dict:
        v, p = self.verify, self.plan
        return {
            "verdict": v.verdict, "message": v.message, "format": v.format, "tz": v.tz, "stamp": v.stamp,
            "interval": f"{v.interval_minutes}m", "timeframe": self.timeframe,
            "rows_read": v.rows_read, "rows_parsed": v.rows_parsed + len(v.rejects),
            "rejected": len(v.rejects), "rejects": [r.to_json() for r in v.rejects[:50]],
            "new": p.new if p else 0, "identical": p.identical if p else 0,
            "conflicts": p.conflicts if p else 0, "replaced": p.replaced if p else 0,
            "kept": p.kept if p else 0, "removed": p.removed if p else 0,
            "outside_session": v.outside_session,
            "result_rows": p.result_rows if p else None,
            "start": to_et_iso(p.start) if p else None, "end": to_et_iso(p.end) if p else None,
            "backup": self.write.backup.path if (self.write and self.write.backup) else None,
            "written": self.written, "generation": self.write.generation if self.write else None,
            "dry_run": self.dry_run,
            "conflict_rows": p.to_json()["conflict_rows"] if p else [],
            "derived": self.derived.to_json() if hasattr(self.derived, "to_json") else None,
            "derived_error": self.derived_error, "notes": self.notes + v.notes,
            "roll": self.roll.to_json() if self.roll else None, "contract": v.contract,
            "zone_decision": v.zone_decision, "zone_reason": v.zone_reason,
            "price_refused": v.price_refused, "price_check": v.price.to_json(),
        }


def read_input(path: str | Path) -> tuple[bytes, str]:
    """Bytes and display name of an export given on the command line."""
    p = Path(path)
    try:
        return p.read_bytes(), p.name
    except FileNotFoundError as err:
        raise InputError(f"{p}: file not found", file=str(p)) from err
    except IsADirectoryError as err:
        raise InputError(f"{p}: is a folder; expected a NinjaTrader export file", file=str(p)) from err
    except OSError as err:
        raise InputError(f"{p}: cannot be read: {err}", file=str(p)) from err


def _timeframe(parsed: ParsedExport) -> str:
    return "1d" if parsed.is_daily else "1m"


def _verify(settings: Settings, ticker: str, parsed: ParsedExport, master: pl.DataFrame, tz: str | None,
            stamp: str, interval: str | None):
    inst = settings.instrument(ticker)
    cal = get_calendar(inst.calendar)
    return verify_parsed(parsed, cal, tz=tz or inst.import_tz, stamp=stamp, interval=interval,
                         master=master, tick=inst.tick_size, zone_origin=zone_origin(settings, ticker, tz))


def zone_origin(settings: Settings, ticker: str, tz: str | None) -> str:
    """Where the zone of an import comes from: ``given`` (``tz``), ``remembered`` (the instrument's
    ``import_tz`` set in datamgr.toml, i.e. differing from the built-in default) or ``default``.

    Hook for the remembered zone (issue 8 item 4): a zone stored by ``--remember`` counts as remembered.
    """
    if tz:
        return "given"
    builtin = Settings().instrument(ticker).import_tz
    return "remembered" if settings.instrument(ticker).import_tz != builtin else "default"


def contract_roll(settings: Settings, ticker: str, rep: VerifyReport, master: pl.DataFrame, bars: pl.DataFrame,
                  master_contracts: list[dict] | None = None):
    """When the file is another contract month overlapping the master: the incoming bars to merge,
    the range they replace and the :class:`~datamgr.store.roll.Roll` (else ``(bars, None, None)``)."""
    off = rep.overlap.contract_offset
    if off is None or master.height == 0 or bars.height == 0:
        return bars, None, None
    inst = settings.instrument(ticker)
    known = [r.get("contract") for r in (master_contracts or []) if r.get("contract")]
    return plan_roll(master, bars, get_calendar(inst.calendar), offset=off, rule=inst.roll,
                     file_contract=rep.contract, master_contract=known[-1] if known else None)


def verify_export(settings: Settings, ticker: str, data: bytes, name: str, *, tz: str | None = None,
                  stamp: str = "close", interval: str | None = None) -> VerifyReport:
    """Verify an export against the calendar and the master; writes nothing.

    Parameters
    ----------
    settings : Settings
    ticker : str
    data : bytes
        File content; ``name`` is for messages only.
    tz : str, optional
        Zone of the export (default: the instrument's ``import_tz``).
    stamp : {"close", "open"}
    interval : str, optional
        ``1m``; inferred when None.
    """
    parsed = parse_export(data, name)
    master = Store(settings).read(ticker, _timeframe(parsed))
    rep, _ = _verify(settings, ticker, parsed, master, tz, stamp, interval)
    return rep


def parse_replace(value: str | bool | None, bars: pl.DataFrame) -> tuple[dt.datetime, dt.datetime] | None:
    """``--replace`` value -> inclusive UTC range. ``True``/``"file"``: the file's own range;
    ``"FROM..TO"``: ET dates (whole days) or ISO datetimes (naive = ET)."""
    if value is None or value is False:
        return None
    if value is True or value == "file":
        if bars.height == 0:
            return None
        return bars["datetime"].min(), bars["datetime"].max()
    if ".." not in str(value):
        raise InputError(f"--replace {value!r} not understood; expected FROM..TO (ET dates)", field="replace")
    a, b = (s.strip() for s in str(value).split("..", 1))
    et = ZoneInfo("America/New_York")

    def when(s: str, end: bool) -> dt.datetime:
        try:
            if len(s) == 10:
                d = dt.date.fromisoformat(s)
                t = dt.datetime.combine(d + dt.timedelta(days=1) if end else d, dt.time(), et)
                return (t - dt.timedelta(microseconds=1) if end else t).astimezone(dt.UTC)
            x = dt.datetime.fromisoformat(s)
            return (x if x.tzinfo else x.replace(tzinfo=et)).astimezone(dt.UTC)
        except ValueError as err:
            raise InputError(f"--replace {value!r}: {s!r} is not a date; expected YYYY-MM-DD",
                             field="replace") from err

    lo, hi = when(a, False), when(b, True)
    if hi < lo:
        raise InputError(f"--replace {value!r}: end before start", field="replace")
    return lo, hi


def import_export(settings: Settings, ticker: str, data: bytes, name: str, *, tz: str | None = None,
                  stamp: str = "close", interval: str | None = None, replace: str | bool | None = None,
                  dry_run: bool = False, no_derived: bool = False, strict: bool = False,
                  force: bool = False, progress: Progress = None) -> ImportResult:
    """Verify, plan and (unless ``dry_run``) merge an export into the master.

    Parameters
    ----------
    settings : Settings
    ticker : str
    data, name : bytes, str
        The export's content and its display name (never opened as a path).
    tz, stamp, interval
        As for :func:`verify_export`.
    replace : bool or str, optional
        Force incoming bars over existing ones in a range (see :func:`parse_replace`).
    dry_run : bool
        Plan only; write nothing.
    no_derived : bool
        Skip derived-data regeneration.
    strict : bool
        Refuse the file if any row is rejected.
    force : bool
        Import even when verification fails.
    progress : callable, optional
        ``progress(done, total, message)``.

    Raises
    ------
    ParseError, InputError
        Bad input (exit 2); nothing written.
    CheckFailed
        Verification failed and ``force`` is off (exit 1); nothing written.
    LockedError
        Another writer holds the lock (exit 3).
    """
    report(progress, 0, _STEPS, f"parsing {name}")
    parsed = parse_export(data, name)
    tf = _timeframe(parsed)
    store = Store(settings)
    with store.lock(f"import {name}"):
        report(progress, 1, _STEPS, "reading the master")
        master = store.read(ticker, tf)
        report(progress, 2, _STEPS, "verifying alignment")
        rep, placed = _verify(settings, ticker, parsed, master, tz, stamp, interval)
        if not rep.ok and (not force or rep.price_refused):
            msg = rep.message
            if force and rep.price_refused:  # the zone is overridden; price sanity never is
                msg = (f"FAIL: price sanity: {rep.price.message}. Nothing was imported: --force overrides the "
                       f"zone verdict only, never price sanity.")
            raise CheckFailed(f"{name}: {msg}" + ("" if "Nothing was imported" in msg else " Nothing was imported."))
        if strict and rep.rejects:
            listed = "; ".join(f"line {r.line}: {r.reason}" for r in rep.rejects[:10])
            msg = f"{name}: --strict: {len(rep.rejects)} row(s) rejected ({listed}); nothing was imported."
            raise InputError(msg, file=name, line=rep.rejects[0].line)
        report(progress, 3, _STEPS, "planning the merge")
        meta = store.read_meta(ticker, tf)
        incoming, roll_rng, roll = contract_roll(settings, ticker, rep, master, placed.bars,
                                                 meta.contracts if meta else None)
        rng = parse_replace(replace, incoming) if replace is not None else roll_rng
        plan = plan_merge(master, incoming, precedence=settings.merge_precedence, replace_range=rng)
        res = ImportResult(rep, plan, dry_run, tf, roll=roll)
        if roll is not None:
            res.notes.append(roll.describe())
        elif rep.overlap.contract_offset is not None:
            res.notes.append("the file is another contract month that never out-trades the master's in the "
                             "overlap: the master keeps its contract")
        if not rep.ok:
            res.notes.append("imported despite a FAIL verdict (override)")
        if dry_run or not plan.changed:
            if not plan.changed:
                res.notes.append("nothing to change: every bar is already in the master")
            report(progress, _STEPS, _STEPS, "plan ready" if dry_run else "nothing to import")
            return res
        report(progress, 4, _STEPS, f"writing {settings.bar_path(ticker, tf).name}")
        details = {"file": name, "format": parsed.format, "tz": rep.tz, "stamp": rep.stamp,
                   "added": plan.new, "replaced": plan.replaced, "identical": plan.identical,
                   "conflicts": plan.conflicts, "kept": plan.kept, "removed": plan.removed,
                   "rejected": len(rep.rejects), "forced": not rep.ok, "contract": rep.contract,
                   "roll": roll.to_json() if roll else None}
        contracts = record_contracts(meta.contracts if meta else None, contract=rep.contract, result=plan.result,
                                     incoming=incoming, roll=roll)
        res.write = store.write(ticker, tf, plan.result, operation="import", details=details, contracts=contracts)
    if res.written and not no_derived and tf == "1m":
        report(progress, 5, _STEPS, "regenerating derived data")
        res.derived, res.derived_error = _regenerate(settings, ticker, progress)
    report(progress, _STEPS, _STEPS, "import done")
    log.info("import %s into %s %s: %d new, %d replaced, written=%s", name, ticker, tf, plan.new,
             plan.replaced, res.written)
    return res


def _regenerate(settings: Settings, ticker: str, progress: Progress) -> tuple[Any, str | None]:
    """Bring the derived outputs up to the new master; a failure is reported, never undoes the import."""
    try:
        rep = regenerate(settings, ticker, progress=progress)
    except DataMgrError as err:
        log.warning("derived regeneration failed after import: %s", err)
        return None, str(err)
    if not rep.ok:  # a step failed; the other outputs are as they were
        return rep, f"step {rep.failed_step} failed: {rep.error}"
    return rep, None


# ----------------------------------------------------------------------------- page helpers
def guess_ticker(name: str, settings: Settings) -> str | None:
    """Instrument suggested by an export's display name (``MES 09-25.Last.txt`` -> ``MES1``).

    Display-only: the name is never used as a path and the user confirms the ticker.
    """
    m = re.match(r"\s*([A-Za-z]{1,6})", Path(str(name)).name)
    if not m:
        return None
    root = m.group(1).upper()
    for cand in (f"{root}1", root):
        if cand in settings.instruments:
            return cand
    return None


def describe_export(settings: Settings, data: bytes, name: str, *, tz: str,
                    stamp: str = "close") -> dict[str, Any]:
    """Format, rows and range (ET) of an export placed in ``tz``; what the import page lists."""
    parsed = parse_export(data, name)
    placed = to_bars(parsed, tz, stamp=stamp)
    b = placed.bars
    return {"name": name, "format": parsed.format, "rows": parsed.rows_read, "bars": b.height,
            "rejected": len(placed.rejects), "interval": f"{placed.interval_minutes}m",
            "start": to_et_iso(b["datetime"].min()) if b.height else None,
            "end": to_et_iso(b["datetime"].max()) if b.height else None,
            "instrument": guess_ticker(name, settings)}


def overlap_frame(settings: Settings, ticker: str, data: bytes, name: str, *, tz: str, stamp: str = "close",
                  interval: str | None = None, max_points: int = 3000) -> pl.DataFrame:
    """Existing vs incoming closes over the export's range (for the overlap chart).

    Columns: ``datetime`` (ET), ``existing`` and ``incoming`` (Float64, null where absent);
    thinned to at most ``max_points`` rows.
    """
    parsed = parse_export(data, name)
    bars = to_bars(parsed, tz, stamp=stamp, interval=interval).bars
    if bars.height == 0:
        return pl.DataFrame(schema={"datetime": pl.Datetime("us", "America/New_York"),
                                    "existing": pl.Float64, "incoming": pl.Float64})
    lo, hi = bars["datetime"].min(), bars["datetime"].max()
    master = Store(settings).read(ticker, _timeframe(parsed)).filter(pl.col("datetime").is_between(lo, hi))
    j = master.select("datetime", pl.col("close").alias("existing")).join(
        bars.select("datetime", pl.col("close").alias("incoming")), on="datetime", how="full", coalesce=True,
    ).sort("datetime")
    step = max(1, j.height // max_points)
    return j.gather_every(step).with_columns(pl.col("datetime").dt.convert_time_zone("America/New_York"))
