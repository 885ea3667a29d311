"""``regenerate TICKER [--steps ..] [--full] [--dry-run]``: rebuild derived data (SPEC 8, 13)."""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, progress_printer, table
from datamgr.core.config import Settings
from datamgr.core.errors import DataMgrError
from datamgr.derived.stale import STEPS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("regenerate", help="rebuild upsampled bars, HOD/LOD, profiler, level touches, web chunks")
    p.add_argument("ticker")
    p.add_argument("--steps", nargs="+", choices=STEPS, metavar="STEP",
                   help=f"run only these steps (of: {', '.join(STEPS)})")
    p.add_argument("--full", action="store_true", help="recompute every trading day (default: only changed days)")
    p.add_argument("--dry-run", action="store_true", help="list the stale outputs, write nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.derived.regenerate import regenerate, stale_outputs  # heavy: polars + calendar, on run only

    if args.dry_run:
        stale = stale_outputs(settings, args.ticker)
        payload = {"ticker": args.ticker, "dry_run": True, "outputs": [],
                   "stale_before": [s.to_json() for s in stale]}
        text = "\n".join(f"stale: {s.path}: {s.message}" for s in stale) or f"{args.ticker}: derived data is fresh"
        emit(args, payload, text + "\n(dry run: nothing written)")
        return 0
    rep = regenerate(settings, args.ticker, steps=args.steps, progress=progress_printer(args), full=args.full)
    payload = {**rep.to_json(), "dry_run": False}
    rows = [[s.step, s.mode, f"{s.days:,}", f"{s.seconds:.2f} s", str(len(s.outputs)), s.error or "ok"]
            for s in rep.steps]
    text = table(rows, ["step", "mode", "days", "time", "outputs", "result"]) if rows else \
        f"{args.ticker}: no 1m master, nothing to derive"
    if rep.stale_before:
        text += "\nstale before: " + "; ".join(s.message for s in rep.stale_before)
    text += f"\ntotal {rep.seconds:.2f} s"
    emit(args, payload, text)
    if not rep.ok:
        err = rep.exception
        return err.exit_code if isinstance(err, DataMgrError) else 1
    return 0
