"""Export import orchestration (NinjaTrader, TradingView): verify -> plan -> commit (SPEC 6).

``import``: parse once (:class:`~datamgr.ingest.draft.ImportDraft`, outside the lock: only reads
the input) -> **lock** -> read master -> verify (zone, overlap) -> refuse on FAIL unless ``force``
-> merge plan (source precedence) and its guard -> stop here for ``dry_run`` -> :func:`commit`:
refuse a guarded plan that is not confirmed (``confirm`` = the count of bars that change) ->
``Store.write`` (validate, verified backup, atomic write, read-back, journal) -> regenerate
derived data (unless ``no_derived``). A plan made outside the lock (the page) is re-planned in
:func:`commit` when the master changed since.

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

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from datamgr.core.config import Settings
from datamgr.core.errors import CheckFailed, ConfirmationRequired, DataMgrError, InputError
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import to_et_iso
from datamgr.derived.regenerate import regenerate, regenerate_if_stale
from datamgr.ingest.draft import Guard, ImportDraft, ImportPlan, guess_ticker, parse_replace
from datamgr.ingest.input_file import read_input_file
from datamgr.ingest.ninjatrader.verify import VerifyReport
from datamgr.ops.remember import Remembered, remember_zone
from datamgr.store.merge import MergePlan
from datamgr.store.roll import Roll, record_contracts
from datamgr.store.store import Store, WriteResult

__all__ = ["ImportDraft", "ImportPlan", "ImportResult", "commit", "describe_export", "guess_ticker",
           "import_export", "overlap_frame", "parse_replace", "read_input", "verify_export"]

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
    guard: Guard | None = None
    source: str = "ninjatrader"
    remembered: Remembered | None = None
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
            "source": self.source,
            "confirm": self.guard.to_json() if self.guard else {"required": False, "count": 0, "reasons": []},
            "remembered": self.remembered.to_json() if self.remembered else None,
            "roll": self.roll.to_json() if self.roll else None, "contract": v.contract,
            "zone_decision": v.zone_decision, "zone_reason": v.zone_reason,
            "price_refused": v.price_refused, "price_check": v.price.to_json(),
        }


def read_input(path: str | Path) -> tuple[bytes, str]:
    """Bytes and display name of an export given on the command line."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; expected a NinjaTrader export file", file=str(p))
    return read_input_file(p), p.name  # a file over 1 GiB or ending in NUL bytes is refused unread


def verify_export(settings: Settings, ticker: str, data: bytes, name: str, *, tz: str | None = None,
                  stamp: str | None = None, interval: str | None = None,
                  draft: ImportDraft | None = None) -> VerifyReport:
    """Verify an export against the calendar and the master; writes nothing.

    Parameters
    ----------
    settings : Settings
    ticker : str
    data : bytes
        File content; ``name`` is for messages only.
    tz : str, optional
        Zone of the export (default: the instrument's configured or remembered ``import_tz``).
    stamp : {"close", "open"}, optional
        Default: the instrument's ``import_stamp`` (``close``).
    interval : str, optional
        ``1m``; inferred when None.
    draft : ImportDraft, optional
        An already parsed draft of ``data`` (then ``data`` is not parsed again).
    """
    draft = draft or ImportDraft(settings, data, name)
    return draft.verify(ticker, tz, stamp, interval)


def import_export(settings: Settings, ticker: str, data: bytes, name: str, *, tz: str | None = None,
                  stamp: str | None = None, interval: str | None = None, replace: str | bool | None = None,
                  dry_run: bool = False, no_derived: bool = False, strict: bool = False,
                  force: bool = False, yes: bool = False, remember: bool = False,
                  progress: Progress = None, draft: ImportDraft | None = None) -> ImportResult:
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
        Import even when verification fails (the zone verdict only; never the guard).
    yes : bool
        Confirm a guarded plan (see :class:`~datamgr.ingest.draft.Guard`).
    remember : bool
        After a SUCCESS verdict (not on a dry run, not for files that carry their zone), remember
        the zone and stamp for ``ticker`` (:func:`remember_zone`).
    progress : callable, optional
        ``progress(done, total, message)``.
    draft : ImportDraft, optional
        An already parsed draft of ``data``.

    Raises
    ------
    ParseError, InputError
        Bad input (exit 2); nothing written.
    CheckFailed
        Verification failed and ``force`` is off (exit 1); nothing written.
    ConfirmationRequired
        A guarded plan without ``yes`` (exit 1); nothing written.
    LockedError
        Another writer holds the lock (exit 3).
    """
    report(progress, 0, _STEPS, f"parsing {name}")
    draft = draft or ImportDraft(settings, data, name)
    store = Store(settings)
    with store.lock(f"import {name}"):
        draft.forget_master()  # read the master under the lock
        report(progress, 1, _STEPS, "reading the master")
        draft.master(ticker)
        report(progress, 2, _STEPS, "verifying alignment")
        rep = draft.verify(ticker, tz, stamp, interval)
        _refuse(name, rep, force)
        if strict and rep.rejects:
            listed = "; ".join(f"line {r.line}: {r.reason}" for r in rep.rejects[:10])
            msg = f"{name}: --strict: {len(rep.rejects)} row(s) rejected ({listed}); nothing was imported."
            raise InputError(msg, file=name, line=rep.rejects[0].line)
        report(progress, 3, _STEPS, "planning the merge")
        plan = draft.plan(ticker, tz, stamp, interval, replace=replace)
        if dry_run:
            res = _result(plan, dry_run=True)
            report(progress, _STEPS, _STEPS, "plan ready")
        else:
            res = commit(plan, force=force, confirm=plan.guard.count if yes else None, no_derived=no_derived,
                         progress=progress)
    if remember:
        zoned = draft.parsed.zone_known or draft.parsed.is_daily
        if dry_run or not rep.ok or zoned:
            why = "dry run" if dry_run else ("the verdict is FAIL" if not rep.ok else "the file carries its zone")
            res.notes.append(f"zone not remembered ({why})")
        else:
            res.remembered = remember_zone(settings, ticker, rep.tz, rep.stamp)
    return res


def _refuse(name: str, rep: VerifyReport, force: bool) -> None:
    """A FAIL verdict refuses unless ``force``; ``force`` overrides the zone verdict only, never price sanity."""
    if rep.ok or (force and not rep.price_refused):
        return
    msg = rep.message
    if force and rep.price_refused:
        msg = (f"FAIL: price sanity: {rep.price.message}. Nothing was imported: --force overrides the "
               f"zone verdict only, never price sanity.")
    raise CheckFailed(f"{name}: {msg}" + ("" if "Nothing was imported" in msg else " Nothing was imported."))


def _result(plan: ImportPlan, dry_run: bool) -> ImportResult:
    res = ImportResult(plan.verify, plan.merge, dry_run, plan.timeframe, guard=plan.guard, source=plan.source,
                       roll=plan.roll)
    if plan.roll is not None:
        res.notes.append(plan.roll.describe())
    elif plan.verify.overlap.contract_offset is not None:
        res.notes.append("the file is another contract month that never out-trades the master's in the "
                         "overlap: the master keeps its contract")
    if not plan.verify.ok:
        res.notes.append("planned despite a FAIL verdict" if dry_run else "imported despite a FAIL verdict (override)")
    if not plan.merge.changed:
        res.notes.append("nothing to change: every bar is already in the master")
    if dry_run and plan.guard.required:
        res.notes.append(f"needs confirmation: {'; '.join(plan.guard.reasons)} ({plan.guard.count:,} bars change)")
    return res


def commit(plan: ImportPlan, *, force: bool = False, confirm: int | None = None, no_derived: bool = False,
           progress: Progress = None) -> ImportResult:
    """Write a plan made by :meth:`ImportDraft.plan` (SPEC 6 step 3).

    Under the lock, the master is compared with the one the plan was made from; when it changed,
    the plan is made again (and its guard checked again) before anything is written.

    Parameters
    ----------
    plan : ImportPlan
    force : bool
        Write even though the verdict is FAIL (the zone verdict only).
    confirm : int, optional
        The number of bars that change, confirming a guarded plan (``plan.guard.count``).
    no_derived : bool
        Skip derived-data regeneration.

    Raises
    ------
    CheckFailed
        FAIL verdict without ``force``.
    ConfirmationRequired
        A guarded plan whose count was not confirmed; nothing written.
    """
    draft = plan.draft
    settings = draft.settings if draft else None
    if settings is None:
        raise InputError("plan=: a plan made by ImportDraft.plan is expected", field="plan")
    store = Store(settings)
    name, ticker, tf = plan.name, plan.ticker, plan.timeframe
    with store.lock(f"import {name}"):
        meta = store.read_meta(ticker, tf)
        if (meta.content_sha256 if meta else None) != plan.master_sha256:
            log.info("%s changed since the plan was made: planning again", store.path(ticker, tf).name)
            draft.forget_master()
            plan = draft.plan(ticker, plan.tz, plan.stamp, plan.interval, replace=plan.replace)
        _refuse(name, plan.verify, force)
        g = plan.guard
        if g.required and confirm != g.count:
            what = (f"{name}: this plan changes {g.count:,} existing bar(s) of {store.path(ticker, tf).name}: "
                    f"{'; '.join(g.reasons)}.")
            raise ConfirmationRequired(what, count=g.count, reasons=list(g.reasons))
        res = _result(plan, dry_run=False)
        if plan.merge.changed:
            report(progress, 4, _STEPS, f"writing {store.path(ticker, tf).name}")
            contracts = record_contracts(plan.master_contracts, contract=plan.verify.contract,
                                         result=plan.merge.result, incoming=plan.incoming, roll=plan.roll)
            res.write = store.write(ticker, tf, plan.merge.result, operation="import", details=plan.details(),
                                    contracts=contracts)
            draft.forget_master()
        else:
            report(progress, 4, _STEPS, "nothing to import")
    if not no_derived:  # the new master's days, and whatever a killed regenerate left stale
        report(progress, 5, _STEPS, "regenerating derived data")
        res.derived, res.derived_error = _regenerate(settings, ticker, progress,
                                                     always=res.written and tf == "1m")
    report(progress, _STEPS, _STEPS, "import done")
    log.info("import %s into %s %s: %d new, %d replaced, written=%s", name, ticker, tf, plan.merge.new,
             plan.merge.replaced, res.written)
    return res


def _regenerate(settings: Settings, ticker: str, progress: Progress, *, always: bool) -> tuple[Any, str | None]:
    """Bring the derived outputs up to the master (``always``: it was just written; otherwise
    only when some output is stale); a failure is reported, never undoes the import."""
    try:
        rep = regenerate(settings, ticker, progress=progress) if always else \
            regenerate_if_stale(settings, ticker, progress=progress)
    except DataMgrError as err:
        log.warning("derived regeneration failed after import: %s", err)
        return None, str(err)
    if rep is None:
        return None, None
    if not rep.ok:  # a step failed; the other outputs are as they were
        return rep, f"step {rep.failed_step} failed: {rep.error}"
    return rep, None


# ----------------------------------------------------------------------------- one-shot helpers
def describe_export(settings: Settings, data: bytes, name: str, *, tz: str,
                    stamp: str = "close") -> dict[str, Any]:
    """Format, rows and range (ET) of an export placed in ``tz`` (one-shot :meth:`ImportDraft.describe`)."""
    return ImportDraft(settings, data, name).describe(tz=tz, stamp=stamp)


def overlap_frame(settings: Settings, ticker: str, data: bytes, name: str, *, tz: str, stamp: str = "close",
                  interval: str | None = None, max_points: int = 3000) -> pl.DataFrame:
    """Existing vs incoming closes over the export's range (one-shot :meth:`ImportDraft.overlap`)."""
    return ImportDraft(settings, data, name).overlap(ticker, tz, stamp, interval, max_points)
