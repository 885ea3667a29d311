"""``python -m datamgr import FILE TICKER [INTERVAL] [--tz Z] [--stamp ..] [--replace [FROM..TO]]
[--dry-run] [--no-derived] [--strict] [--force] [--yes] [--remember]``.

Exit 0 done (or nothing to do), 1 verification failed or a guarded plan without ``--yes``
(nothing written), 2 bad input, 3 locked.
"""

from __future__ import annotations

import argparse

from datamgr.cli.output import dry_run_size, emit, fmt_size_change, progress_printer
from datamgr.cli.verify import add_remember_option, add_time_options
from datamgr.core.config import Settings
from datamgr.core.errors import ConfirmationRequired


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("import", help="merge a NinjaTrader or TradingView export into the master (SPEC 6)")
    p.add_argument("file", help="NinjaTrader export (.txt/.csv) or TradingView chart export (.csv)")
    p.add_argument("ticker", help="instrument, e.g. ES1")
    p.add_argument("interval_pos", nargs="?", default=None, metavar="INTERVAL",
                   help="bar interval of the export, e.g. 1m (default: inferred)")
    add_time_options(p)
    p.add_argument("--replace", nargs="?", const="file", default=None, metavar="FROM..TO",
                   help="incoming bars replace existing ones in the file's range (or FROM..TO, ET dates)")
    p.add_argument("--dry-run", action="store_true", help="print the plan, write nothing")
    p.add_argument("--no-derived", action="store_true", help="do not regenerate derived data")
    p.add_argument("--strict", action="store_true", help="refuse the file if any row is rejected")
    p.add_argument("--force", action="store_true", help="import even if verification fails (the zone verdict only)")
    p.add_argument("--yes", action="store_true",
                   help="confirm a plan that replaces >1%% of the overlapping bars, has a non-zero best shift, or "
                        "removes bars (--replace)")
    add_remember_option(p)
    p.set_defaults(func=run)
    return p


def render(res) -> str:
    j = res.to_json()
    head = "DRY RUN — nothing written" if res.dry_run else (
        "imported" if res.written else "nothing written (no change)")
    lines = [f"{j['message']}  {head}",
             f"  rows read {j['rows_read']}, parsed {j['rows_parsed']}, rejected {j['rejected']}",
             f"  new {j['new']}, identical {j['identical']}, conflicts {j['conflicts']} "
             f"(replaced {j['replaced']}, kept {j['kept']}), removed {j['removed']}, "
             f"outside sessions {j['outside_session']}",
             f"  result {j['result_rows']} rows, {j['start']} .. {j['end']} (ET)"]
    for c in j["conflict_rows"][:20]:
        lines.append(f"  conflict {c['datetime']}: existing {c['source']} O{c['open']} H{c['high']} "
                     f"L{c['low']} C{c['close']} V{c['volume']} vs incoming O{c['open_in']} H{c['high_in']} "
                     f"L{c['low_in']} C{c['close_in']} V{c['volume_in']} -> {c['winner']}")
    for r in j["rejects"][:20]:
        lines.append(f"  rejected line {r['line']}: {r['reason']}: {r['text']!r}")
    if j.get("roll"):
        lines.append(f"  {j['roll']['message']}")
    for n in j.get("notes", []):
        lines.append(f"  note: {n}")
    if j["confirm"]["required"]:
        lines.append(f"  needs --yes: {'; '.join(j['confirm']['reasons'])} ({j['confirm']['count']:,} bars change)")
    if j["remembered"]:
        r = j["remembered"]
        lines.append(f"  remembered {r['tz']} ({r['stamp']} stamps) for {r['ticker']} in {r['config']}")
    if j["backup"]:
        lines.append(f"  backup {j['backup']}")
    if j["derived_error"]:
        lines.append(f"  derived data: {j['derived_error']}")
    return "\n".join(lines)


def run(args, settings: Settings) -> int:
    from datamgr.ops.import_export import import_export, read_input  # heavy: polars + the calendar, only here

    data, name = read_input(args.file)
    progress = progress_printer(args)
    interval = args.interval or args.interval_pos
    try:
        res = import_export(settings, args.ticker, data, name, tz=args.tz, stamp=args.stamp, interval=interval,
                            replace=args.replace, dry_run=args.dry_run, no_derived=args.no_derived,
                            strict=args.strict, force=args.force, yes=args.yes, remember=args.remember,
                            progress=progress)
    except ConfirmationRequired as err:  # the library names confirm=N; the CLI names its flag
        raise ConfirmationRequired(err.what, count=err.count, reasons=err.reasons,
                                   remedy=f"re-run with --yes to confirm ({err.count:,} bars change).") from None
    payload, text = res.to_json(), render(res)
    size = dry_run_size(settings, args.ticker, res.timeframe, res.plan) if res.dry_run else None
    if size:  # dry runs print the file size change
        payload |= size
        text += f"\n  file size {fmt_size_change(size['size_before'], size['size_after'])}"
    emit(args, payload, text)
    return 0
