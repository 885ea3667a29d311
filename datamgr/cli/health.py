"""``health TICKER [--gap N]``: every check of the 1m file; exit 1 when problems are found.

Problems: unacknowledged holes of at least N minutes, integrity errors (invariants, off-tick
prices), staleness beyond the instrument's ``stale_after_sessions``, an unreadable file. Stray
bars, quiet/recurring/edge gaps, spikes, zero-volume runs are notes (one line per kind).
"""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, progress_printer
from datamgr.core.config import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("health", help="all health checks of a ticker's 1m file (exit 1 on problems)")
    p.add_argument("ticker", help="e.g. ES1")
    p.add_argument("--gap", type=int, default=1, metavar="N",
                   help="ignore gaps shorter than N missing expected minutes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.health.report import check_health  # heavy: polars + calendar, on run only

    rep = check_health(settings, args.ticker, min_gap=args.gap, progress=progress_printer(args))
    c = rep.continuity
    lines = [f"{rep.ticker} ({rep.file}, {rep.rows:,} rows, calendar {rep.calendar})",
             f"freshness: {rep.staleness.verdict}",
             f"coverage: {100 * (c.coverage_ratio or 0):.2f} % ({c.present:,} of {c.expected:,} expected "
             f"bars), {c.outside_session:,} outside the sessions"]
    lines += [f"PROBLEM  {p}" for p in rep.problems[:50]]
    if len(rep.problems) > 50:
        lines.append(f"... and {len(rep.problems) - 50} more problems (see --json)")
    lines += [f"note     {w}" for w in rep.warnings]
    lines.append("OK" if rep.ok else f"FAIL: {len(rep.problems)} problem(s)")
    emit(args, rep.to_json(), "\n".join(lines))
    return 0 if rep.ok else 1
