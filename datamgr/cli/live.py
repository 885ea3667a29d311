"""``live {start,stop,status}``: the live feed process (SPEC 10).

``live start`` detaches a feed process and returns once it runs (exit 3 if one already runs);
``live start --foreground`` IS the feed process (what the controller spawns).
"""

from __future__ import annotations

import argparse

from datamgr.cli.output import emit
from datamgr.core.config import Settings

DEFAULT_SYMBOLS = {"replay": "ES1", "yahoo": "ES=F", "smartapi": "NIFTY,BANKNIFTY"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="live price feed (start / stop / status)")
    lsub = p.add_subparsers(dest="live_command", metavar="ACTION", required=True)
    start = lsub.add_parser("start", help="start the feed process (detached)")
    start.add_argument("--source", choices=["replay", "yahoo", "smartapi"], default="replay")
    start.add_argument("--symbols", help="comma-separated (replay default ES1, yahoo ES=F, smartapi NIFTY,BANKNIFTY or EXCH:TOKEN)")
    start.add_argument("--interval", type=float, default=2.0, help="seconds between feed-file writes")
    start.add_argument("--speed", type=float, default=60.0, help="replay speed factor (60: one 1m bar per second)")
    start.add_argument("--url", help="WebSocket URL (default env DATAMGR_YAHOO_WS_URL / DATAMGR_SMARTAPI_WS_URL or the provider's)")
    start.add_argument("--backoff-base", type=float, default=1.0, help="first reconnect delay, seconds")
    start.add_argument("--backoff-max", type=float, default=30.0, help="longest reconnect delay, seconds")
    start.add_argument("--foreground", action="store_true", help="run the feed in this process")
    start.add_argument("--token", default="", help=argparse.SUPPRESS)
    start.add_argument("--no-log-file", action="store_true", help=argparse.SUPPRESS)
    start.set_defaults(func=run_start)
    stop = lsub.add_parser("stop", help="stop the running feed")
    stop.set_defaults(func=run_stop)
    status = lsub.add_parser("status", help="is a feed running, how old is its data")
    status.set_defaults(func=run_status)


def _symbols(args: argparse.Namespace) -> list[str]:
    raw = args.symbols or DEFAULT_SYMBOLS.get(args.source, "")
    return [s.strip() for s in raw.split(",") if s.strip()]


def run_start(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.data_module.live_feed import LiveDataFeed as DataModuleFeed  # heavy: polars, on run only
    from datamgr.live.feed import FeedOptions, run_feed  # heavy: polars, only when this command runs

    if args.foreground:
        opts = FeedOptions(source=args.source, symbols=tuple(_symbols(args)), interval=args.interval,
                           speed=args.speed, url=args.url, backoff_base=args.backoff_base,
                           backoff_max=args.backoff_max, token=args.token, log_file=not args.no_log_file)
        return run_feed(settings, opts)
    # the data module's feed: for SmartAPI it logs in by client code + PIN + TOTP when no JWT is set
    feed = DataModuleFeed(settings, args.source, _symbols(args), interval=args.interval, speed=args.speed,
                          url=args.url, backoff_base=args.backoff_base, backoff_max=args.backoff_max)
    started = feed.start_feed()
    st = feed.status()
    text = (f"live feed started: pid {st.pid}, {st.source} {','.join(st.symbols)}" if started
            else f"a live feed is already running (pid {st.pid}); stop it first")
    emit(args, {"started": started, **st.to_json()}, text)
    return 0 if started else 3


def run_stop(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.live.controller import LiveDataFeed  # heavy: polars, only when this command runs

    feed = LiveDataFeed(settings)
    pid = feed.running_pid()
    stopped = feed.stop_feed()
    emit(args, {"stopped": stopped, "pid": pid}, f"live feed stopped (pid {pid})" if stopped else "no live feed running")
    return 0


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    from datamgr.live.controller import LiveDataFeed  # heavy: polars, only when this command runs

    feed = LiveDataFeed(settings)
    st = feed.status()
    quotes = (feed.get_feed_data() or {}).get("data", [])
    lines = [f"feed: {'running, pid ' + str(st.pid) if st.running else 'stopped'}"
             + (f" ({st.source} {','.join(st.symbols)}, {st.state})" if st.running else "")]
    if st.pid_file_problem:
        lines.append(f"warning: {st.pid_file_problem}")
    if st.last_error:
        lines.append(f"last error: {st.last_error}")
    if st.data_timestamp:
        lines.append(f"data: {st.data_timestamp} ({st.data_age_seconds:.1f} s old, {'fresh' if st.fresh else 'STALE'})")
        lines += [f"  {q['trading_symbol']}: {q['last_traded_price']}  ({q['exchange_timestamp']})" for q in quotes]
    emit(args, {**st.to_json(), "data": quotes}, "\n".join(lines))
    return 0
