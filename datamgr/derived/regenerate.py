"""Regenerate derived data (SPEC 8): the orchestrator called after every import and on demand.

``regenerate(settings, ticker)`` runs the steps ``upsample, hod_lod, profiler, levels, web`` in
order under the store's write lock, with progress and per-step timings. It stops at the first
failing step; outputs written by earlier steps stay (each output is written atomically and is
complete on its own), later ones are untouched.

Incremental by default: the master's per-trading-day fingerprints are compared with those of
the master the outputs were built from (:mod:`datamgr.derived.lineage`), and only the changed
days (plus the next trading day, whose "previous day" levels and "previous session" flags
depend on them) and the web chunks that contain them are recomputed. An output that was not
built from that exact master, or with other settings, or that is missing, is rebuilt in full.
An incremental run produces the same bytes as a full one (apart from ``built_at``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError
from datamgr.core.progress import Progress, report
from datamgr.derived import lineage as lin
from datamgr.derived.steps import Ctx, OutputResult, run_step
from datamgr.store.store import Store

log = logging.getLogger(__name__)
STEPS = lin.STEPS


@dataclass
class StepResult:
    """What one step did: ``mode`` full / incremental / unchanged (built from this very master
    already: nothing written), days recomputed, outputs, timing."""

    step: str
    mode: str = "full"
    seconds: float = 0.0
    days: int = 0
    outputs: list[OutputResult] = field(default_factory=list)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "mode": self.mode, "seconds": round(self.seconds, 3), "days": self.days,
                "outputs": [o.to_json() for o in self.outputs], "error": self.error}


@dataclass
class RegenerateReport:
    """Result of :func:`regenerate` (``to_json`` is the CLI's ``--json`` payload, SPEC 13)."""

    ticker: str
    steps: list[StepResult] = field(default_factory=list)
    stale_before: list[lin.StaleOutput] = field(default_factory=list)
    seconds: float = 0.0
    master: dict[str, Any] | None = None
    outside_session: int = 0
    changed_days: int = 0
    prepare_seconds: float = 0.0
    failed_step: str | None = None
    error: str | None = None
    exception: BaseException | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.failed_step is None

    @property
    def outputs(self) -> list[OutputResult]:
        return [o for s in self.steps for o in s.outputs]

    def to_json(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker, "ok": self.ok,
            "outputs": [o.to_json() for o in self.outputs],
            "stale_before": [s.to_json() for s in self.stale_before],
            "steps": [s.to_json() for s in self.steps],
            "seconds": round(self.seconds, 3), "master": self.master,
            "outside_session": self.outside_session, "changed_days": self.changed_days,
            "prepare_seconds": round(self.prepare_seconds, 3),
            "failed_step": self.failed_step, "error": self.error,
        }


def stale_outputs(settings: Settings, ticker: str, store: Store | None = None) -> list[lin.StaleOutput]:
    """Derived outputs of ``ticker`` that are missing or older than the master (see lineage)."""
    return lin.stale_outputs(settings, ticker, store)


def regenerate_if_stale(settings: Settings, ticker: str, progress: Progress = None,
                        store: Store | None = None) -> RegenerateReport | None:
    """Regenerate ``ticker`` when any derived output is stale, else do nothing (None).

    What import, update and demo call when they did not change the 1m master themselves: outputs
    left behind by a killed ``regenerate`` (some already follow the master, some do not), by an
    import with ``no_derived``, or by a daily file that changed, are brought up to the master by
    the next operation, not only the days that operation touched (staleness: footers and JSON
    heads only, see :func:`datamgr.derived.stale.stale_outputs`).
    """
    stale = lin.stale_outputs(settings, ticker, store)
    if not stale:
        return None
    log.info("regenerate %s: %d derived output(s) stale (%s)", ticker, len(stale), stale[0].message)
    return regenerate(settings, ticker, progress=progress, store=store)


def regenerate(settings: Settings, ticker: str, steps: list[str] | tuple[str, ...] | None = None,
               progress: Progress = None, store: Store | None = None, *, full: bool = False) -> RegenerateReport:
    """Rebuild the derived data of ``ticker`` from its 1m master.

    Parameters
    ----------
    settings : Settings
    ticker : str
    steps : sequence of str, optional
        Subset of ``upsample, hod_lod, profiler, levels, web`` (run in that order); all if None.
    progress : callable, optional
        ``progress(done, total, message)``.
    store : Store, optional
    full : bool
        Recompute everything instead of only the changed trading days.

    Returns
    -------
    RegenerateReport
        ``ok`` is False when a step failed (``failed_step``, ``error``, ``exception``); outputs of
        the steps before it were written, the others left as they were.

    Raises
    ------
    ConfigError
        Unknown step name.
    LockedError
        Another writer holds the data folder.
    StoreError
        The 1m master cannot be read (nothing is written then).
    """
    chosen = list(STEPS) if not steps else [s for s in STEPS if s in set(steps)]
    unknown = sorted(set(steps or ()) - set(STEPS))
    if unknown:
        raise ConfigError(f"unknown step(s) {unknown}; expected some of {', '.join(STEPS)}")
    store = store or Store(settings)
    t0 = time.perf_counter()
    rep = RegenerateReport(ticker)
    total = len(chosen) + 1
    report(progress, 0, total, "checking what is stale")
    rep.stale_before = lin.stale_outputs(settings, ticker, store)
    with store.lock(f"regenerate {ticker}"):
        report(progress, 0, total, f"reading {ticker} 1m master")
        p0 = time.perf_counter()
        ctx = Ctx.open(settings, ticker, store, full=full)
        rep.prepare_seconds = time.perf_counter() - p0
        rep.master = ctx.master
        if ctx.bars.height == 0:
            rep.seconds = time.perf_counter() - t0
            report(progress, total, total, "no 1m master: nothing to derive")
            return rep
        rep.changed_days = len(ctx.changed) if ctx.changed is not None else ctx.fp.height
        report(progress, 1, total, f"{rep.changed_days} changed trading day(s)" if ctx.changed is not None
               else f"full rebuild of {rep.changed_days} trading day(s)")
        try:
            for i, step in enumerate(chosen):
                report(progress, 1 + i, total, f"{lin.LABELS[step]}: running")
                ctx.note = lambda msg, i=i, step=step: report(progress, 1 + i, total, f"{lin.LABELS[step]}: {msg}")
                res = StepResult(step)
                s0 = time.perf_counter()
                try:
                    run_step(ctx, step, res)
                except Exception as err:  # noqa: BLE001 - reported, later steps not run
                    res.error = f"{type(err).__name__}: {err}"
                    res.seconds = time.perf_counter() - s0
                    rep.steps.append(res)
                    rep.failed_step, rep.error, rep.exception = step, res.error, err
                    log.error("regenerate %s: step %s failed: %s", ticker, step, res.error)
                    break
                res.seconds = time.perf_counter() - s0
                rep.steps.append(res)
                report(progress, 2 + i, total, f"{lin.LABELS[step]}: {res.mode}, {res.seconds:.2f} s")
        finally:
            lin.save_state(settings, ticker, ctx.master, ctx.fp, ctx.digests, ctx.heads())
        rep.outside_session = ctx.outside
    rep.seconds = time.perf_counter() - t0
    log.info("regenerate %s: %d step(s) in %.2f s%s", ticker, len(rep.steps), rep.seconds,
             "" if rep.ok else f", failed at {rep.failed_step}")
    report(progress, total, total, "done" if rep.ok else f"failed at {rep.failed_step}")
    return rep

