"""``python -m datamgr verify FILE TICKER [--tz Z] [--stamp close|open] [--interval 1m]``.

Writes nothing. Exit 0 on ``SUCCESS: Data is aligned.``, 1 on ``FAIL: ...``, 2 on bad input.
"""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit
from datamgr.core.config import Settings
from datamgr.ops.import_export import read_input, verify_export


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("verify", help="check a NinjaTrader export's alignment (writes nothing)")
    p.add_argument("file", help="NinjaTrader export (.txt/.csv)")
    p.add_argument("ticker", help="instrument, e.g. ES1")
    add_time_options(p)
    p.set_defaults(func=run)
    return p


def add_time_options(p: argparse.ArgumentParser) -> None:
    """``--tz``, ``--stamp``, ``--interval`` (shared with ``import``)."""
    p.add_argument("--tz", default=None, help="zone of the export (default: the instrument's import_tz)")
    p.add_argument("--stamp", choices=("close", "open"), default="close",
                   help="NinjaTrader stamps bars at their close (default); 'open' skips the shift")
    p.add_argument("--interval", default=None, help="bar interval, e.g. 1m (default: inferred)")


def render(rep) -> str:
    """Human text of a verify report."""
    lines = [rep.message, f"  format {rep.format}, {rep.rows_read} rows read, {rep.rows_parsed} bars, "
             f"{len(rep.rejects)} rejected; zone {rep.tz}, {rep.stamp} stamps, interval "
             f"{rep.interval_minutes}m{' (inferred)' if rep.interval_inferred else ''}"]
    j = rep.to_json()
    if j["start"]:
        lines.append(f"  range {j['start']} .. {j['end']} (ET); {rep.outside_session} bar(s) outside sessions")
    if rep.zone_ranking:
        lines.append(f"  zone {rep.zone_decision} ({rep.zone_origin} zone {rep.tz}): {rep.zone_reason}")
        lines.append("  zone ranking (best first):")
        for z in rep.zone_ranking:
            mr = "" if z.match_rate is None else f", master match {z.match_rate:.1%}"
            sh = "" if z.shape is None else f", shape {z.shape:.3f}"
            lines.append(f"    {z.score:.3f}  {z.tz:<20} {z.stamp:<5} (in session {z.in_session:.1%}, "
                         f"closures empty {z.closures_matched}/{z.closures_tested}, session edges {z.edge_fit:.1%}, "
                         f"gaps on closures {z.gaps_explained}/{z.gaps}, inside sessions {z.gaps_inside}{sh}{mr})")
    ov = rep.overlap
    if ov.bars:
        lines.append(f"  overlap with master: {ov.bars} bars, {ov.match_rate:.1%} within one tick, "
                     f"best shift {ov.best_shift_minutes:+d} min, median volume ratio {ov.volume_ratio}")
        if ov.contract_offset is not None:
            lines.append(f"  another contract month{f' ({ov.contract})' if ov.contract else ''}: shape {ov.shape:.3f}, "
                         f"constant offset {ov.contract_offset:+g} points")
    else:
        lines.append("  overlap with master: none")
    if rep.price_refused:
        lines.append(f"  price sanity REFUSED (no --force): {rep.price.message}")
    for n in rep.notes:
        lines.append(f"  note: {n}")
    for r in rep.rejects[:20]:
        lines.append(f"  rejected line {r.line}: {r.reason}: {r.text!r}")
    return "\n".join(lines)


def run(args, settings: Settings) -> int:
    data, name = read_input(args.file)
    rep = verify_export(settings, args.ticker, data, name, tz=args.tz, stamp=args.stamp,
                        interval=args.interval)
    emit(args, rep.to_json(), render(rep))
    return 0 if rep.ok else 1
