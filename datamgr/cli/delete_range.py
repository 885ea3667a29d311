"""``delete-range TICKER --from D --to D [--timeframe 1m] [--yes] [--dry-run]``: delete the bars of a
range from a master (backed up, journaled). Without ``--yes`` it prints what would be deleted
and exits 1 with nothing changed."""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, flagged, fmt_size_change
from datamgr.core.config import Settings
from datamgr.core.errors import InputError
from datamgr.core.timefmt import fmt_time

DELETABLE = ("1m", "1d", "1w")  # = datamgr.ops.ranges.DELETABLE (checked by tests/cli/test_cli_imports.py)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("delete-range", help="delete a date range from a master file (backed up, journaled)")
    p.add_argument("ticker")
    p.add_argument("--from", dest="start", required=True, help="first day (ET date YYYY-MM-DD or ISO time)")
    p.add_argument("--to", dest="end", required=True, help="last day, inclusive (ET date or ISO time)")
    p.add_argument("--timeframe", default="1m", choices=DELETABLE, help="file to delete from (default 1m)")
    p.add_argument("--yes", action="store_true", help="really delete (otherwise: show the plan, exit 1)")
    p.add_argument("--dry-run", action="store_true", help="show the plan and the file size change, write nothing")
    p.add_argument("--no-derived", action="store_true", help="do not regenerate the derived data afterwards")
    p.set_defaults(func=run)


def _text(r) -> str:
    span = f"{fmt_time(r.first_deleted)} .. {fmt_time(r.last_deleted)}" if r.deleted else "no bars"
    return (f"{r.file}: {r.deleted:,} bar(s) to delete between {fmt_time(r.start)} and {fmt_time(r.end)} "
            f"({span}); rows {r.rows_before:,} -> "
            f"{r.rows_after:,}; size {fmt_size_change(r.size_before, r.size_after)}")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.ops.ranges import delete_range  # heavy: polars, only when this command runs

    try:
        plan = delete_range(settings, args.ticker, args.start, args.end, timeframe=args.timeframe, dry_run=True)
    except InputError as err:
        raise flagged(err) from None
    if args.dry_run or plan.deleted == 0:
        emit(args, plan.to_json(), _text(plan) + ("\n(dry run: nothing written)" if args.dry_run else
                                                  "\nnothing to delete"))
        return 0
    if not args.yes:
        emit(args, plan.to_json() | {"confirmed": False},
             _text(plan) + "\nNothing deleted: re-run with --yes to delete (the file is backed up first).")
        return 1
    res = delete_range(settings, args.ticker, args.start, args.end, timeframe=args.timeframe, confirm=True,
                       no_derived=args.no_derived)
    extra = f"\ndeleted; previous content backed up to {res.backup}" + (
        f"\nderived data: {res.derived_error}" if res.derived_error else "")
    emit(args, res.to_json() | {"confirmed": True}, _text(res) + extra)
    return 0
