"""``demo``: write demo 1m bars (source=demo) so every page has something real to show."""

from __future__ import annotations

import argparse
import datetime as dt

from datamgr.cli.output import emit, progress_printer
from datamgr.core.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="write demo data (a few months of synthetic 1m bars, source=demo)")
    p.add_argument("ticker", nargs="?", default="ES1")
    p.add_argument("--months", type=int, default=3)
    p.add_argument("--end", type=dt.date.fromisoformat, default=None, help="last trading day (YYYY-MM-DD)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--refresh", action="store_true", help="regenerate an existing demo master")
    p.add_argument("--dry-run", action="store_true", help="say what would be written, write nothing")
    p.add_argument("--no-derived", action="store_true", help="do not regenerate derived data")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.ops.demo import write_demo  # heavy: polars + calendar, on run only

    res = write_demo(settings, args.ticker, months=args.months, end=args.end, seed=args.seed,
                     refresh=args.refresh, dry_run=args.dry_run, derived=not args.no_derived, progress=progress_printer(args))
    emit(args, res.to_json(), res.message)
    return 0
