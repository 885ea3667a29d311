"""Yahoo Finance updates (SPEC 7): window -> fetch -> validate -> plan -> quarantine + merge.

``update`` runs::

    window (last stored bar - overlap .. now, within Yahoo's reach) -> fetch (outside the lock;
    only reads) -> lock -> read the master -> validate (verify) -> merge plan -> stop for
    ``dry_run`` -> quarantine rejected bars -> Store.write accepted bars (source=yahoo; backup,
    atomic write, read-back, journal) -> regenerate derived data for 1m updates

Decisions where the spec is silent:

* Overlap: the fetch starts :data:`OVERLAP_1M` (60 min) before the last stored 1m bar, and
  :data:`OVERLAP_DAYS` days before the last daily/weekly bar, so Yahoo's bars are checked
  against stored ones. An empty 1m master starts at the edge of Yahoo's reach.
* The part of a gap older than Yahoo's reach (~30 days of 1m) is reported as "needs a
  NinjaTrader import" with its range (``needs_import``) and the rest is still fetched.
* Only complete bars are taken: a 1m bar whose minute has not ended, or a daily bar whose
  session has not closed yet, is dropped before validation (it is not final data).
* When validation rejects every fetched bar nothing is written at all (SPEC 13: nothing is
  written unless the exit code is 0): the result says so (``all_rejected``; CLI exit 1) and
  lists the rejected bars with their reasons (``rejected``, ``reasons``) for review.
* A dry run writes nothing at all, not even the quarantine file.
* ``yahoo.auto_update = false`` (the default) suspends only automatic updates: the CLI and the
  page say so and point to the NinjaTrader import; a manual update always runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from datamgr.calendar.sessions import calendar_for
from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, DataMgrError, InputError
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import fmt_time, now_utc, to_et_iso
from datamgr.derived.regenerate import regenerate, regenerate_if_stale
from datamgr.ingest.base import BarSource
from datamgr.ingest.validate import Validation, validate_incoming, write_quarantine
from datamgr.ingest.yahoo import REACH_1M, TIMEFRAME_OF, YahooSource
from datamgr.store.merge import MergePlan, plan_merge
from datamgr.store.store import Store, WriteResult

log = logging.getLogger(__name__)
OVERLAP_1M = dt.timedelta(minutes=60)
OVERLAP_DAYS = dt.timedelta(days=10)
DAILY_START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SUSPENDED = ("Yahoo auto-update is suspended (yahoo.auto_update = false): Yahoo is known to inject bad "
             "candles. Keep the master current with the NinjaTrader import; a manual update (validated, "
             "with quarantine) still runs when you ask for it.")
_STEPS = 6


def auto_update_message(settings: Settings) -> str | None:
    """The suspended notice, or None when ``yahoo.auto_update`` is on."""
    return None if settings.yahoo_auto_update else SUSPENDED


@dataclass
class UpdateResult:
    """Outcome of :func:`update` (also the dry-run plan); ``to_json()`` is the SPEC 13 payload."""

    ticker: str
    timeframe: str
    origin: str
    window: tuple[dt.datetime, dt.datetime] | None
    validation: Validation
    plan: MergePlan | None
    dry_run: bool
    quarantine_file: str | None = None
    write: WriteResult | None = None
    derived_error: str | None = None
    needs_import: tuple[dt.datetime, dt.datetime] | None = None
    notes: list[str] = field(default_factory=list)
    incoming: pl.DataFrame | None = field(default=None, repr=False)  # the candidates, to merge a reviewed plan

    @property
    def written(self) -> bool:
        return bool(self.write and self.write.written)

    @property
    def all_rejected(self) -> bool:
        return self.validation.fetched > 0 and self.validation.accepted.height == 0

    def _when(self, t: dt.datetime | None) -> str | None:
        """ET ISO for 1m; the label date (``YYYY-MM-DD``) for daily and weekly bars."""
        if t is None or self.timeframe == "1m":
            return to_et_iso(t)
        return t.date().isoformat()

    def to_json(self) -> dict[str, Any]:
        v, p = self.validation, self.plan
        needs = None
        if self.needs_import:
            a, b = self.needs_import
            needs = {"start": to_et_iso(a), "end": to_et_iso(b),
                     "message": f"needs a NinjaTrader import: {fmt_time(a)} .. {fmt_time(b)} is beyond Yahoo's reach"}
        return {
            "fetched": v.fetched, "accepted": v.accepted.height, "quarantined": v.rejected.height,
            "new": p.new if p else 0, "identical": p.identical if p else 0, "conflicts": p.conflicts if p else 0,
            "replaced": p.replaced if p else 0, "kept": p.kept if p else 0,
            "result_rows": p.result_rows if p else None, "quarantine_file": self.quarantine_file,
            "ticker": self.ticker, "timeframe": self.timeframe, "origin": self.origin,
            "window": [to_et_iso(w) for w in self.window] if self.window else None,
            "start": self._when(p.start) if p else None, "end": self._when(p.end) if p else None,
            "reasons": v.reasons(), "rejected": v.rejected_json(50, daily=self.timeframe != "1m"), "all_rejected": self.all_rejected,
            "written": self.written, "backup": self.write.backup.path if (self.write and self.write.backup) else None,
            "dry_run": self.dry_run, "needs_import": needs, "derived_error": self.derived_error,
            "notes": self.notes,
        }


def plan_window(settings: Settings, ticker: str, timeframe: str, master_end: dt.datetime | None,
                now: dt.datetime) -> tuple[tuple[dt.datetime, dt.datetime] | None, tuple[dt.datetime, dt.datetime] | None]:
    """The fetch window ``[start, end)`` (UTC) and the range beyond Yahoo's reach, if any."""
    if timeframe != "1m":
        start = (master_end - OVERLAP_DAYS) if master_end else DAILY_START
        return (start, now), None
    reach = (now - REACH_1M).replace(second=0, microsecond=0)
    end = now.replace(second=0, microsecond=0)  # the minute in progress is not complete
    needs = None
    if master_end is None:
        start = reach
    else:
        start = master_end - OVERLAP_1M
        first_missing = master_end + dt.timedelta(minutes=1)
        if start < reach:
            start = reach
            if first_missing < reach:
                cal = calendar_for(settings, ticker)
                exp = cal.expected_minutes(first_missing.date() - dt.timedelta(days=1), reach.date() + dt.timedelta(days=1))
                exp = exp.filter((exp >= first_missing) & (exp < reach))
                if exp.len():
                    needs = (exp.min(), exp.max() + dt.timedelta(minutes=1))
    if start >= end:
        return None, needs
    return (start, end), needs


def update(settings: Settings, ticker: str, *, interval: str = "1m", source: BarSource | None = None,
           session: Any = None, bars: pl.DataFrame | None = None, origin: str | None = None,
           dry_run: bool = False, no_derived: bool = False, now: dt.datetime | None = None,
           progress: Progress = None) -> UpdateResult:
    """Fetch (or take ``bars`` from a saved file), validate, plan and merge a Yahoo update.

    Parameters
    ----------
    settings : Settings
    ticker : str
    interval : {"1m", "1d", "1wk"}
        ``1m`` updates ``<T>_1m.parquet``; ``1d``/``1wk`` update ``<T>_1d``/``<T>_1w``.
    source : BarSource, optional
        Defaults to :class:`~datamgr.ingest.yahoo.YahooSource` with ``session``.
    session : curl_cffi session, optional
        HTTP session for yfinance (tests inject a fake transport).
    bars : DataFrame, optional
        Bars read from a saved yfinance file (``--from-file``): no fetch, same validation and merge.
    origin : str, optional
        What the bars came from, for the journal and messages.
    dry_run : bool
        Validate and plan only; write nothing (not even the quarantine).
    no_derived : bool
        Skip the derived regeneration after a 1m update.
    now : datetime, optional
        The current time (UTC); tests pin it.

    Raises
    ------
    SourceError
        The fetch failed or came back empty; nothing was written.
    InputError, ConfigError
        Bad input (exit 2). ``LockedError`` (exit 3).
    """
    if interval not in TIMEFRAME_OF:
        raise ConfigError(f"--interval {interval!r} not supported; expected 1m, 1d or 1wk")
    tf = TIMEFRAME_OF[interval]
    now = (now or now_utc()).astimezone(dt.UTC)
    store = Store(settings)
    inst = settings.instrument(ticker)
    cal = calendar_for(settings, ticker)
    window = needs = None
    if bars is None:
        meta = store.read_meta(ticker, tf)
        window, needs = plan_window(settings, ticker, tf, meta.end if meta else None, now)
        origin = origin or f"yahoo {inst.yahoo_symbol} {interval}"
        if window is None:
            bars = pl.DataFrame(schema=store.read(ticker, tf).schema)
        else:
            report(progress, 0, _STEPS, f"fetching {inst.yahoo_symbol} {interval} from Yahoo")
            src = source or YahooSource(session=session)
            bars = src.fetch(inst.yahoo_symbol, interval, window[0], window[1], progress=None)
        bars = _complete_only(bars, tf, cal, now)
    origin = origin or "file"
    _check_spacing(bars, interval, origin)
    with store.lock(f"update {ticker}_{tf}"):
        report(progress, 1, _STEPS, "reading the master")
        master = store.read(ticker, tf)
        report(progress, 2, _STEPS, f"validating {bars.height:,} bars")
        val = validate_incoming(bars, timeframe=tf, calendar=cal, tick=inst.tick_size, master=master,
                                precedence=settings.merge_precedence, now=now)
        report(progress, 3, _STEPS, "planning the merge")
        plan = plan_merge(master, val.accepted, precedence=settings.merge_precedence)
        res = UpdateResult(ticker, tf, origin, window, val, plan, dry_run, needs_import=needs, incoming=bars)
        if needs:
            res.notes.append(res.to_json()["needs_import"]["message"])
        if window is None and origin.startswith("yahoo"):
            res.notes.append("the master is current: nothing to fetch")
        if dry_run:
            report(progress, _STEPS, _STEPS, "plan ready (dry run)")
            return res
        if res.all_rejected:
            res.notes.append("validation rejected every bar: nothing was written (see the rejected bars)")
            return res
        q = write_quarantine(settings.quarantine_dir, ticker, tf, val.rejected, now=now_utc())
        res.quarantine_file = str(q) if q else None
        if plan.changed:
            report(progress, 4, _STEPS, f"writing {settings.bar_path(ticker, tf).name}")
            details = {"origin": origin, "added": plan.new, "replaced": plan.replaced, "identical": plan.identical,
                       "conflicts": plan.conflicts, "kept": plan.kept, "quarantined": val.rejected.height,
                       "quarantine_file": Path(q).name if q else None}
            res.write = store.write(ticker, tf, plan.result, operation="update", details=details)
        else:
            res.notes.append("nothing to change: every accepted bar is already in the master")
            report(progress, 4, _STEPS, "nothing to merge")
    if not no_derived:  # the new master's days, and whatever a killed regenerate left stale
        report(progress, 5, _STEPS, "regenerating derived data")
        res.derived_error = _regenerate(settings, ticker, progress, always=res.written and tf == "1m")
    report(progress, _STEPS, _STEPS, "update done")
    log.info("update %s %s from %s: %d fetched, %d accepted, %d quarantined, %d new", ticker, tf, origin,
             val.fetched, val.accepted.height, val.rejected.height, plan.new)
    return res


def _check_spacing(bars: pl.DataFrame, interval: str, origin: str) -> None:
    """Refuse bars whose spacing contradicts ``interval`` (a 1m file given as ``--interval 1d``)."""
    if bars.height < 3:
        return
    gaps = bars["datetime"].sort().diff().drop_nulls()
    gaps = gaps.filter(gaps > dt.timedelta(0))
    if gaps.len() == 0:
        return
    typical = gaps.min()
    daily = interval in ("1d", "1wk")
    if (daily and typical < dt.timedelta(hours=20)) or (not daily and typical >= dt.timedelta(hours=20)):
        msg = (f"{origin}: bars are {typical} apart, which does not fit --interval {interval}; "
               f"give the interval of the file (1m, 1d or 1wk)")
        raise InputError(msg, field="interval")


def _complete_only(bars: pl.DataFrame, tf: str, cal, now: dt.datetime) -> pl.DataFrame:
    """Drop the bar still forming: a 1m bar whose minute has not ended, a daily bar whose session is open."""
    if bars.height == 0:
        return bars
    if tf == "1m":
        return bars.filter(pl.col("datetime") + pl.duration(minutes=1) <= now)
    if tf == "1d":
        sess = cal.sessions(now.date() - dt.timedelta(days=7), now.date() + dt.timedelta(days=7))
        open_days = sess.filter(pl.col("close") > now)["trading_day"]
        return bars.filter(~pl.col("datetime").dt.date().is_in(open_days.implode()))
    return bars


def _regenerate(settings: Settings, ticker: str, progress: Progress, *, always: bool) -> str | None:
    """Regenerate after a 1m write (``always``), else only what is stale (a killed regenerate)."""
    try:
        rep = regenerate(settings, ticker, progress=progress) if always else \
            regenerate_if_stale(settings, ticker, progress=progress)
    except DataMgrError as err:
        log.warning("derived regeneration failed after update: %s", err)
        return str(err)
    return None if rep is None or rep.ok else f"step {rep.failed_step} failed: {rep.error}"
