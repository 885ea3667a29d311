"""``python -m datamgr update TICKER [--from-file F] [--interval 1m|1d|1wk] [--dry-run] [--no-derived]``
and ``python -m datamgr update --all``.

Fetches from Yahoo Finance (or reads a saved yfinance CSV/Parquet with ``--from-file``),
validates, quarantines rejected bars and merges the rest (SPEC 7). Exit 0 done (or nothing to
do), 1 validation rejected every bar, 2 bad input or a source error, 3 locked.

``--all`` updates every configured instrument whose source allows it: ``source = "smartapi"``
instruments with a token (NIFTY, BANKNIFTY) get the data module's intraday update (late-start
backfill, every timeframe resampled), Yahoo instruments that already have a 1m master get a Yahoo
update; one failure does not stop the others (exit 2 if any failed). Meant for an hourly
scheduler (README: cron / Windows Task Scheduler); the app's auto-update switch is separate.
"""

from __future__ import annotations

import argparse
import sys

from datamgr.cli.output import dry_run_size, emit, fmt_size_change, progress_printer
from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, DataMgrError


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("update", help="validated Yahoo Finance update with quarantine (SPEC 7)")
    p.add_argument("ticker", nargs="?", help="instrument, e.g. ES1")
    p.add_argument("--all", action="store_true", help="every configured instrument whose source allows it")
    p.add_argument("--from-file", metavar="F", help="a saved yfinance frame (.csv / .parquet) instead of fetching")
    p.add_argument("--interval", choices=["1m", "1d", "1wk"], default="1m", help="bar interval (default 1m)")
    p.add_argument("--tz", help="--from-file: zone of times written without a UTC offset (else refused)")
    p.add_argument("--dry-run", action="store_true", help="validate and plan, write nothing")
    p.add_argument("--no-derived", action="store_true", help="do not regenerate derived data")
    p.set_defaults(func=run)
    return p


def render(j: dict) -> str:
    head = "DRY RUN — nothing written" if j["dry_run"] else (
        "merged" if j["written"] else "master unchanged")
    lines = [f"update {j['ticker']} {j['timeframe']} from {j['origin']}: {head}",
             f"  fetched {j['fetched']}, accepted {j['accepted']}, quarantined {j['quarantined']}"
             + (f" ({', '.join(f'{k} {v}' for k, v in j['reasons'].items())})" if j["reasons"] else ""),
             f"  new {j['new']}, identical {j['identical']}, conflicts {j['conflicts']} "
             f"(replaced {j['replaced']}, kept {j['kept']})",
             f"  result {j['result_rows']} rows, {j['start']} .. {j['end']} (ET)"]
    for r in j["rejected"][:20]:
        lines.append(f"  quarantined {r['datetime']}: {r['reason']}")
    if j["quarantine_file"]:
        lines.append(f"  quarantine file {j['quarantine_file']}")
    if j["backup"]:
        lines.append(f"  backup {j['backup']}")
    lines += [f"  note: {n}" for n in j["notes"]]
    if j["derived_error"]:
        lines.append(f"  derived data: {j['derived_error']}")
    return "\n".join(lines)


def run_all(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars + SmartAPI client, on run only
    from datamgr.ops.update import update  # heavy: polars + the calendar, on run only

    results, failed = [], 0
    for ticker, ins in settings.instruments.items():
        if ins.source == "smartapi" and ins.token:
            kind = "smartapi"
        elif ins.source == "yahoo" and ins.yahoo_symbol and settings.bar_path(ticker, "1m").is_file():
            kind = "yahoo"
        else:
            continue
        try:
            if kind == "smartapi":
                df = HistoricalDataManager(settings=settings).update_intraday_data(ticker, ins.token, exchange=ins.exchange)
                results.append({"ticker": ticker, "source": kind, "ok": True, "rows": 0 if df is None else len(df)})
            else:
                res = update(settings, ticker, no_derived=args.no_derived, dry_run=args.dry_run)
                results.append({"ticker": ticker, "source": kind, "ok": not res.all_rejected, **res.to_json()})
                failed += res.all_rejected
        except DataMgrError as err:
            failed += 1
            results.append({"ticker": ticker, "source": kind, "ok": False, "error": str(err)})
    lines = [f"{r['ticker']}: {r['source']} " + ("ok" if r["ok"] else f"FAILED: {r.get('error') or 'every bar rejected'}")
             for r in results]
    emit(args, {"results": results, "failed": failed}, "\n".join(lines) or "no instrument to update")
    return 2 if failed else 0


def run(args, settings: Settings) -> int:
    from datamgr.ingest.yahoo import read_saved_path  # heavy: polars, only when this command runs
    from datamgr.ops.update import auto_update_message, update  # heavy: polars + the calendar

    if args.all:
        if args.ticker or args.from_file:
            raise ConfigError("update --all takes no TICKER and no --from-file")
        return run_all(args, settings)
    if not args.ticker:
        raise ConfigError("update: give a TICKER or --all")
    msg = auto_update_message(settings)
    if msg:
        sys.stderr.write(f"note: {msg}\n")
    settings.instrument(args.ticker)
    bars = read_saved_path(args.from_file, args.interval, args.tz) if args.from_file else None
    res = update(settings, args.ticker, interval=args.interval, bars=bars,
                 origin=f"file {args.from_file}" if args.from_file else None, dry_run=args.dry_run,
                 no_derived=args.no_derived, progress=progress_printer(args))
    j = res.to_json()
    text = render(j)
    size = dry_run_size(settings, res.ticker, res.timeframe, res.plan) if res.dry_run else None
    if size:  # dry runs print the file size change
        j |= size
        text += f"\n  file size {fmt_size_change(size['size_before'], size['size_after'])}"
    emit(args, j, text)
    return 1 if res.all_rejected else 0
