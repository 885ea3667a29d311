"""``status``: the inventory of the data folder (footers only)."""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit, fmt_size, table
from datamgr.core.config import Settings
from datamgr.core.timefmt import to_et_text
from datamgr.ops.folder_scan import scan


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="inventory of the data folder (range, rows, size, flags)")
    p.set_defaults(func=run)


def _coverage(settings: Settings, ticker: str):
    """Health's coverage figure of a master whose figure is not remembered yet."""
    from datamgr.health.report import master_coverage  # heavy: reads the master, only on a cold coverage cache

    return master_coverage(settings, ticker)


def run(args: argparse.Namespace, settings: Settings) -> int:
    files = scan(settings, coverage=_coverage)
    def tz(f) -> str:
        return settings.display_tz_for(f.ticker) if f.ticker else settings.display_tz

    payload = {"data_dir": str(settings.data_dir), "files": [f.to_json(tz(f)) for f in files]}
    rows = [[f.name, f.category, to_et_text(f.start, tz(f)), to_et_text(f.end, tz(f)), to_et_text(f.last_updated, tz(f)),
             fmt_size(f.size_bytes), f"{f.rows:,}" if f.rows is not None else "—",
             f"{f.coverage:.2%}" if f.coverage is not None else "—", "; ".join(f.flags)] for f in files]
    text = (table(rows, ["file", "category", "start", "end", "updated", "size", "rows", "coverage", "flags"])
            if files else f"{settings.data_dir}: no files yet (try: python -m datamgr demo)")
    emit(args, payload, text)
    return 0
