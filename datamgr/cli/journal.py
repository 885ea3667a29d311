"""``journal``: every write operation, newest first."""

from __future__ import annotations

import argparse
import datetime as dt

from datamgr.cli.output import emit, table
from datamgr.core.config import Settings
from datamgr.core.timefmt import to_et_iso, to_et_text
from datamgr.store import journal


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("journal", help="the log of write operations")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    entries = journal.read(settings, args.limit)
    rows = [[to_et_text(dt.datetime.fromisoformat(e["time"])) if "time" in e else "?", e.get("op", "?"),
             e.get("file", "?"), str(e.get("rows_before", "")), str(e.get("rows_after", "")),
             e.get("outcome", ""), e.get("backup") or ""] for e in entries]
    # SPEC 13: JSON times are ISO 8601 in ET with their offset (the journal stores UTC).
    payload = [{**e, "time": to_et_iso(e["time"], settings.display_tz)} if e.get("time") else e for e in entries]
    emit(args, {"entries": payload},
         table(rows, ["time", "op", "file", "rows before", "rows after", "outcome", "backup"]) if rows
         else "journal is empty")
    return 0
