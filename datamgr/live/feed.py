"""The live feed process (SPEC 10): ``python -m datamgr live start --foreground ...``.

It runs as its own process so that a crash, a hung socket or a kill -9 never touches the app or
the data folder. Life cycle::

    take live/.feed.lock (held for life: a second feed exits with LockedError, code 3)
    -> write live/feed.pid -> source thread: connect, stream quotes, on failure wait
       min(backoff_base * 2**(attempt-1), backoff_max) and reconnect
    -> main thread, every ``interval`` seconds: write live/heartbeat.json; while connected and
       holding quotes, rewrite live/live_feed_data.json atomically
    -> SIGTERM / SIGINT: close the source, heartbeat state "stopped", remove feed.pid, exit 0

The feed file is written only while the source is connected, so its ``timestamp`` is the age of
live data: a feed that is reconnecting lets the file go stale instead of re-stamping old prices.
The feed only reads the bar store (replay); it never writes market data.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import filelock

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError, LockedError
from datamgr.core.timefmt import now_utc, to_et_iso
from datamgr.live import files
from datamgr.live.quotes.factory import make_source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedOptions:
    """How a feed runs. ``interval`` is the file-write period (SPEC: 2 s)."""

    source: str = "replay"
    symbols: tuple[str, ...] = ("ES1",)
    interval: float = 2.0
    speed: float = 60.0
    url: str | None = None
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    token: str = ""
    log_file: bool = True


def check_timing(interval: float, speed: float, backoff_base: float, backoff_max: float) -> None:
    """Raise :class:`ConfigError` naming the option that is out of range."""
    for name, value, low in (("--interval", interval, 0.01), ("--speed", speed, 0.001),
                             ("--backoff-base", backoff_base, 0.001), ("--backoff-max", backoff_max, backoff_base)):
        if not value >= low:
            raise ConfigError(f"live feed: {name} must be at least {low:g} seconds/factor, got {value:g}")


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds to wait before reconnect ``attempt`` (1, 2, ...): ``min(base * 2**(attempt-1), cap)``."""
    return min(base * 2 ** max(attempt - 1, 0), cap)


class _State:
    """Quotes and connection state shared by the source thread and the writer loop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.quotes: dict[str, dict[str, Any]] = {}
        self.connected = False
        self.state = "connecting"
        self.attempt = 0
        self.connects = 0
        self.last_error = ""

    def on_quote(self, q: dict[str, Any]) -> None:
        with self.lock:
            self.quotes[q["trading_symbol"]] = q

    def on_connected(self) -> None:
        with self.lock:
            self.connected, self.state, self.attempt = True, "connected", 0
            self.connects += 1
        log.info("source connected (connection %d)", self.connects)


def _source_loop(source: Any, st: _State, stop: threading.Event, opts: FeedOptions) -> None:
    while not stop.is_set():
        try:
            source.stream(st.on_quote, stop, st.on_connected)
        except Exception as err:  # any failure of one connection: log, back off, reconnect
            with st.lock:
                st.connected, st.state = False, "reconnecting"
                st.attempt += 1
                st.last_error = str(err)
                attempt = st.attempt
            delay = backoff_delay(attempt, opts.backoff_base, opts.backoff_max)
            log.warning("source failed (%s); reconnect attempt %d in %.2f s", err, attempt, delay)
            stop.wait(delay)
        else:
            with st.lock:
                st.connected = False


def feed_zone(settings: Settings, symbols: tuple[str, ...] | list[str]) -> str:
    """The display zone of a feed: its first symbol's instrument zone (IST for NIFTY), else the folder's."""
    for s in symbols:
        if s in settings.instruments:
            return settings.display_tz_for(s)
    return settings.display_tz


def _write_tick(settings: Settings, st: _State, opts: FeedOptions) -> bool:
    """Write the heartbeat, and the feed file while connected with quotes (then return True)."""
    t = now_utc()
    now = to_et_iso(t, settings.display_tz)
    zone = feed_zone(settings, opts.symbols)
    with st.lock:
        quotes = [st.quotes[s] for s in opts.symbols if s in st.quotes]
        connected, hb = st.connected, {"time": now, "pid": os.getpid(), "state": st.state,
                                       "attempt": st.attempt, "connects": st.connects,
                                       "last_error": st.last_error, "quotes": len(st.quotes)}
    # Heartbeat first: a reader that sees new data also sees this tick's state.
    files.write_json(files.live_path(settings, files.HEARTBEAT_FILE), hb)
    if connected and quotes:
        files.write_json(files.live_path(settings, files.FEED_FILE),
                         {"timestamp": files.doc_stamp(t, zone), "timezone": zone,
                          "timestamp_utc": t.isoformat(), "source": opts.source, "data": quotes})
        return True
    return False


def run_feed(settings: Settings, opts: FeedOptions, stop: threading.Event | None = None) -> int:
    """Run the feed until SIGTERM/SIGINT (or ``stop``). Returns the exit code (0).

    Raises
    ------
    LockedError
        Another feed is running on this data folder.
    ConfigError
        Unknown source, no symbols, or (replay) no 1m master for a symbol.
    """
    stop = stop or threading.Event()
    check_timing(opts.interval, opts.speed, opts.backoff_base, opts.backoff_max)
    if opts.token and len(opts.token) < files.MIN_TOKEN:
        raise ConfigError(f"live feed: --token must be at least {files.MIN_TOKEN} random characters")
    source = make_source(settings, opts.source, list(opts.symbols), speed=opts.speed, url=opts.url)
    source.check()
    settings.live_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(files.live_path(settings, files.LOCK_FILE)))
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout as err:
        info, _ = files.read_pid_file(files.live_path(settings, files.PID_FILE))
        pid = (info or {}).get("pid", "?")
        raise LockedError(f"{settings.live_dir}: another live feed is running (pid {pid})") from err
    # The controller sends stderr to feed.log itself (--no-log-file): no line is logged twice.
    handler: logging.Handler = (logging.FileHandler(files.live_path(settings, files.LOG_FILE), encoding="utf-8")
                                if opts.log_file else logging.NullHandler())
    stamped = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handler.setFormatter(stamped)
    if not opts.log_file:  # stderr is feed.log: give its lines times too (this process is only the feed)
        for h in logging.getLogger().handlers:
            h.setFormatter(stamped)
    logging.getLogger("datamgr").addHandler(handler)
    pid_path = files.live_path(settings, files.PID_FILE)
    try:
        _install_signals(stop)
        # A token is always long and random: one given on the command line (--token, what the
        # controller does) must be; without one the feed makes its own (then start time + pid
        # are its identity, as the token is not in its command line).
        token = opts.token or files.new_token()
        files.write_json(pid_path, {"pid": os.getpid(), "token": token, "token_in_argv": bool(opts.token),
                                    "proc_start": files.proc_start(os.getpid()), "source": opts.source,
                                    "symbols": list(opts.symbols), "interval": opts.interval,
                                    "started": to_et_iso(now_utc(), settings.display_tz)})
        log.info("live feed started: pid %d, source %s, symbols %s, every %.2f s", os.getpid(),
                 opts.source, ",".join(opts.symbols), opts.interval)
        st = _State()
        worker = threading.Thread(target=_source_loop, args=(source, st, stop, opts), daemon=True,
                                  name="live-source")
        worker.start()
        next_tick, wrote_any = time.monotonic(), False
        while not stop.is_set():
            wrote_any = _write_tick(settings, st, opts) or wrote_any
            next_tick += opts.interval
            while not stop.is_set() and (remaining := next_tick - time.monotonic()) > 0:
                if not wrote_any and st.connected and st.quotes:  # publish the first quotes at once
                    next_tick = time.monotonic()
                    break
                stop.wait(min(remaining, 0.05))
        source.close()
        worker.join(timeout=5)
        st.state, st.connected = "stopped", False
        _write_tick(settings, st, opts)
        log.info("live feed stopped: pid %d", os.getpid())
        return 0
    finally:
        own, _ = files.read_pid_file(pid_path)
        if own and own.get("pid") == os.getpid():
            pid_path.unlink(missing_ok=True)
        logging.getLogger("datamgr").removeHandler(handler)
        handler.close()
        lock.release()


def _install_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
