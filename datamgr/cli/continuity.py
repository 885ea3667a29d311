"""``continuity TICKER [--year Y] [--from D] [--to D] [--gap N]``: calendar-true gaps (SPEC 5).

Exit 1 when an unacknowledged ``hole`` remains or the requested range/year holds no bars ("no bars
in 2008"); quiet, recurring and edge gaps and stray bars are information (exit 0).
"""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, table
from datamgr.core.config import Settings
from datamgr.core.timefmt import to_et_text


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("continuity", help="gaps against the exchange calendar (ET)")
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ticker", help="e.g. ES1")
    p.add_argument("--year", type=int, help="only trading days of this year")
    p.add_argument("--from", dest="start", metavar="D", help="first trading day YYYY-MM-DD")
    p.add_argument("--to", dest="end", metavar="D", help="last trading day YYYY-MM-DD")
    p.add_argument("--gap", type=int, default=1, metavar="N",
                   help="report only gaps of at least N missing expected minutes")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.health.report import check_continuity  # heavy: polars + calendar, on run only

    res = check_continuity(settings, args.ticker, year=args.year, start=args.start, end=args.end,
                           min_gap=args.gap)
    gaps = res.reported
    pct = 100 * (res.coverage_ratio or 0.0) if res.expected else 100.0
    counts = ", ".join(f"{n} {k}" for k, n in sorted(res.class_counts().items())) or "none"
    head = (f"{args.ticker} {res.first_day} .. {res.last_day}: {res.present:,} of {res.expected:,} "
            f"expected 1m bars ({pct:.2f} %), {res.outside_session:,} outside the sessions, "
            f"{len(gaps)} gap(s) of >= {args.gap} min ({counts})")
    tz = settings.display_tz_for(args.ticker)
    rows = [[to_et_text(g.start, tz), to_et_text(g.end, tz), f"{g.missing:,}",
             g.cls + (" (ack)" if g.acknowledged else ""),
             "" if g.p_no_trade is None else f"{g.p_no_trade:.3g}",
             g.clock or "", str(g.sessions) if g.cls == "recurring" else ""] for g in gaps]
    lines = [head] + [f"FAIL: {f}" for f in res.findings]
    if rows:
        lines.append(table(rows, ["start", "end", "missing", "class", "p_no_trade", "clock", "sessions"]))
    if res.holes:
        lines.append(f"FAIL: {len(res.holes)} hole(s)")
    emit(args, res.to_json(tz=tz), "\n".join(lines))
    return 0 if res.ok else 1
