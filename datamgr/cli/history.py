"""``history {fetch,update,intraday,backfill,files,check}``: SmartAPI candle history (the data module).

``python -m datamgr.data_module --historical / --update / --test`` map onto these commands.
Credentials come from the environment only (``DATAMGR_SMARTAPI_API_KEY``, ``_CLIENT_CODE``,
``_PIN``, ``_TOTP_SECRET``; URL ``DATAMGR_SMARTAPI_URL``). Exit 0 done, 2 bad input or a source
error (nothing written), 3 locked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os

from datamgr.cli.output import emit
from datamgr.core.config import Settings
from datamgr.ingest.smartapi_names import ENV, INTERVAL_MINUTES, URL_ENV


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="Angel One SmartAPI candle history (fetch / update / intraday / backfill)")
    hsub = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    choices = list(INTERVAL_MINUTES)  # the intervals of data_module.INTERVALS
    f = hsub.add_parser("fetch", help="fetch DAYS days of candles and store them")
    f.add_argument("symbol")
    f.add_argument("token")
    f.add_argument("interval", nargs="?", default="FIVE_MINUTE", choices=choices)
    f.add_argument("days", nargs="?", type=int, default=5)
    f.add_argument("--exchange", default="NSE")
    f.set_defaults(func=run_fetch)
    u = hsub.add_parser("update", help="fetch the candles after the last stored one")
    u.add_argument("symbol")
    u.add_argument("token")
    u.add_argument("interval", nargs="?", default="FIVE_MINUTE", choices=choices)
    u.add_argument("--exchange", default="NSE")
    u.set_defaults(func=run_update)
    i = hsub.add_parser("intraday", help="1m update with late-start backfill, then resample every timeframe")
    i.add_argument("symbol")
    i.add_argument("token")
    i.add_argument("--exchange", default="NSE")
    i.add_argument("--no-backfill", action="store_true", help="do not backfill from the session open")
    i.set_defaults(func=run_intraday)
    b = hsub.add_parser("backfill", help="fetch 1m candles START..END (instrument time, inclusive) and resample")
    b.add_argument("symbol")
    b.add_argument("token")
    b.add_argument("start", help="YYYY-MM-DDTHH:MM")
    b.add_argument("end", help="YYYY-MM-DDTHH:MM")
    b.add_argument("--exchange", default="NSE")
    b.set_defaults(func=run_backfill)
    ls = hsub.add_parser("files", help="list the stored interval files")
    ls.set_defaults(func=run_files)
    c = hsub.add_parser("check", help="self-test: instruments, calendar, credentials present (names only)")
    c.set_defaults(func=run_check)


def _summary(df, symbol: str, interval: str) -> dict:
    if df is None or df.empty:
        return {"symbol": symbol, "interval": interval, "rows": 0, "start": None, "end": None}
    return {"symbol": symbol, "interval": interval, "rows": len(df), "start": df["timestamp"].min().isoformat(),
            "end": df["timestamp"].max().isoformat()}


def _text(j: dict, verb: str) -> str:
    if not j["rows"]:
        return f"{verb} {j['symbol']} {j['interval']}: no candles"
    return f"{verb} {j['symbol']} {j['interval']}: {j['rows']} candles, {j['start']} .. {j['end']}"


def run_fetch(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars, only when this command runs

    mgr = HistoricalDataManager(settings=settings)
    df = mgr.fetch_and_save_historical_data(args.symbol, args.token, exchange=args.exchange, interval=args.interval,
                                            days=args.days)
    j = _summary(df, args.symbol, args.interval) | {"file": str(mgr.parquet_path(args.symbol, args.interval)),
                                                    "csv": str(mgr.csv_path(args.symbol, args.interval))}
    emit(args, j, _text(j, "fetched"))
    return 0


def run_update(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars, only when this command runs

    mgr = HistoricalDataManager(settings=settings)
    df = mgr.update_historical_data(args.symbol, args.token, exchange=args.exchange, interval=args.interval)
    j = _summary(df, args.symbol, args.interval)
    emit(args, j, _text(j, "updated"))
    return 0


def run_intraday(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars, only when this command runs

    mgr = HistoricalDataManager(settings=settings)
    df = mgr.update_intraday_data(args.symbol, args.token, auto_backfill=not args.no_backfill, exchange=args.exchange)
    j = _summary(df, args.symbol, "ONE_MINUTE")
    emit(args, j, _text(j, "intraday"))
    return 0


def run_backfill(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars, only when this command runs

    mgr = HistoricalDataManager(settings=settings)
    start, end = dt.datetime.fromisoformat(args.start), dt.datetime.fromisoformat(args.end)
    df = mgr.backfill_intraday_data(args.symbol, args.token, start, end, exchange=args.exchange)
    j = _summary(df, args.symbol, "ONE_MINUTE")
    emit(args, j, _text(j, "backfilled"))
    return 0


def run_files(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars, only when this command runs

    files = HistoricalDataManager(settings=settings).get_available_data_files()
    lines = [f"{f['symbol']:<10} {f['interval']:<15} {f['rows']:>8} rows  {f['filepath']}" for f in files]
    emit(args, {"files": files}, "\n".join(lines) or "no interval files")
    return 0


def run_check(args, settings: Settings) -> int:
    from datamgr.data_module import HistoricalDataManager  # heavy: polars, only when this command runs

    mgr = HistoricalDataManager(settings=settings)
    inst = {t: {"exchange": i.exchange, "token": i.token, "calendar": i.calendar,
                "display_tz": settings.display_tz_for(t)} for t, i in settings.instruments.items() if i.token}
    missing = [v for v in ENV.values() if not os.environ.get(v)]
    j = {"data_dir": str(settings.data_dir), "instruments": inst, "market_open": mgr.processor.MARKET_OPEN,
         "market_close": mgr.processor.MARKET_CLOSE, "credentials_missing": missing,
         "smartapi_url": os.environ.get(URL_ENV) or "https://apiconnect.angelone.in",
         "files": len(mgr.get_available_data_files())}
    lines = [f"data folder: {j['data_dir']}",
             *(f"  {t}: {v['exchange']}:{v['token']} on {v['calendar']} ({v['display_tz']})" for t, v in inst.items()),
             f"market hours (NSE): {j['market_open']}-{j['market_close']} IST",
             "credentials: " + ("all set" if not missing else f"missing {', '.join(missing)}"),
             f"interval files: {j['files']}"]
    emit(args, j, "\n".join(lines))
    return 0
