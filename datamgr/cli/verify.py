"""``python -m datamgr verify FILE TICKER [--tz Z] [--stamp close|open] [--interval 1m] [--remember]``.

Writes no bars (``--remember`` writes the confirmed zone into datamgr.toml after a SUCCESS). Exit 0 on ``SUCCESS: Data is aligned.``, 1 on ``FAIL: ...``, 2 on bad input.
"""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit
from datamgr.core.config import Settings


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("verify", help="check an export's alignment (writes nothing)")
    p.add_argument("file", help="NinjaTrader export (.txt/.csv) or TradingView chart export (.csv)")
    p.add_argument("ticker", help="instrument, e.g. ES1")
    add_time_options(p)
    add_remember_option(p)
    p.set_defaults(func=run)
    return p


def add_time_options(p: argparse.ArgumentParser) -> None:
    """``--tz``, ``--stamp``, ``--interval`` (shared with ``import``)."""
    p.add_argument("--tz", default=None,
                   help="zone of the export (default: the instrument's configured or remembered import_tz)")
    p.add_argument("--stamp", choices=("close", "open"), default=None,
                   help="NinjaTrader stamps bars at their close (default: the instrument's import_stamp, "
                        "close); 'open' skips the shift")
    p.add_argument("--interval", default=None, help="bar interval, e.g. 1m (default: inferred)")


def add_remember_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--remember", action="store_true",
                   help="after a SUCCESS, store the zone and stamp for TICKER in datamgr.toml (used when --tz "
                        "is not given)")


def remember_if_asked(args, settings: Settings, draft, rep, payload: dict, lines: list[str]) -> None:
    """``--remember``: store the verified zone (never silently; never on FAIL or for self-zoned files).

    ``draft``: the :class:`~datamgr.ops.import_export.ImportDraft` that was verified."""
    if not getattr(args, "remember", False):
        return
    if not rep.ok:
        lines.append("  --remember: not remembered (the verdict is FAIL)")
        payload["remembered"] = None
    elif draft.parsed.zone_known or draft.parsed.is_daily:
        lines.append("  --remember: nothing to remember (the file's times carry their zone, or daily bars)")
        payload["remembered"] = None
    else:
        from datamgr.ops.remember import remember_zone  # heavy (polars via the store): on --remember only

        r = remember_zone(settings, args.ticker, rep.tz, rep.stamp)
        payload["remembered"] = r.to_json()
        lines.append(f"  {r.message()}")


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
    from datamgr.ops.import_export import ImportDraft, read_input  # heavy: polars + calendar, on run only

    data, name = read_input(args.file)
    draft = ImportDraft(settings, data, name)
    rep = draft.verify(args.ticker, args.tz, args.stamp, args.interval)
    payload, lines = rep.to_json(), [render(rep)]
    remember_if_asked(args, settings, draft, rep, payload, lines)
    emit(args, payload, "\n".join(lines))
    return 0 if rep.ok else 1
