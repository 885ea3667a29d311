"""``export TICKER TIMEFRAME --from D --to D --format csv|parquet [--out PATH]``: a date range of
any bar file to CSV (ET times with offset) or Parquet (the store's schema). Writes nothing in
the data folder."""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, flagged, fmt_size
from datamgr.core.config import Settings
from datamgr.core.errors import InputError
from datamgr.core.timefmt import fmt_time

FORMATS = ("csv", "parquet")  # = datamgr.ops.ranges.FORMATS (checked by tests/cli/test_cli_imports.py)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a date range of a bar file to CSV or Parquet")
    p.add_argument("ticker")
    p.add_argument("timeframe", help="1m, 5m, 15m, 1h, 4h, 1d or 1w")
    p.add_argument("--from", dest="start", required=True, help="first day (ET date YYYY-MM-DD or ISO time)")
    p.add_argument("--to", dest="end", required=True, help="last day, inclusive (ET date or ISO time)")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="csv")
    p.add_argument("--out", help="output file (default ./TICKER_TF_FROM_TO.FORMAT); never inside the data folder")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--dry-run", action="store_true", help="count the bars and the size, write nothing")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.ops.ranges import export_range  # heavy: polars, only when this command runs

    try:
        res = export_range(settings, args.ticker, args.timeframe, args.start, args.end, args.fmt, args.out,
                           overwrite=args.overwrite, dry_run=args.dry_run)
    except InputError as err:
        raise flagged(err) from None
    verb = "would write" if args.dry_run else "wrote"
    text = (f"{verb} {res.rows:,} {res.ticker} {res.timeframe} bars ({fmt_time(res.start)} .. {fmt_time(res.end)}) to {res.path} "
            f"({fmt_size(res.size_bytes)})" if res.rows else
            f"no {res.ticker} {res.timeframe} bars between {args.start} and {args.end}; {verb} an empty file {res.path}")
    emit(args, res.to_json() | {"dry_run": args.dry_run}, text)
    return 0
