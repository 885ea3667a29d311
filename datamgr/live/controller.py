"""``LiveDataFeed``: start, stop and read the live feed process from the app, the CLI or a script.

The controller never runs the feed in its own process: it spawns ``python -m datamgr live start
--foreground`` detached (own session), so the app survives any crash of the feed and vice versa.
Identity: every start gets a long random token that goes into the child's command line and its
pid file with the child's start time; the controller signals a pid only when that process is
alive, started at that time and (where ``/proc`` exists) carries the exact token as an argument,
so a stale pid file whose pid was reused by another program is just removed. A corrupt pid file
is reported (``FeedStatus.pid_file_problem``) and removed, never a traceback.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.errors import SourceError
from datamgr.core.timefmt import now_utc, to_et_iso
from datamgr.live import files
from datamgr.live.feed import check_timing
from datamgr.live.quotes.factory import make_source

POLL = 0.05
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedStatus:
    """What ``live status`` shows: is a feed running, what it streams, how old its data is."""

    running: bool
    pid: int | None
    source: str | None
    symbols: list[str]
    started_at: str | None
    state: str | None
    last_error: str | None
    data_timestamp: str | None
    data_age_seconds: float | None
    fresh: bool
    stale_pid_removed: bool = False
    pid_file_problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class LiveDataFeed:
    """Controller of the live feed of one data folder.

    Parameters
    ----------
    settings : Settings
        The data folder (``<data>/live`` holds the feed's files).
    source : str
        ``replay`` or ``yahoo``.
    symbols : list of str
        Symbols to stream (replay: tickers with a 1m master, or their Yahoo symbols).
    interval : float
        Seconds between feed-file writes (SPEC: 2).
    speed, url, backoff_base, backoff_max
        Passed to the feed process (see :class:`datamgr.live.feed.FeedOptions`).
    """

    def __init__(self, settings: Settings, source: str = "replay", symbols: list[str] | tuple[str, ...] = ("ES1",),
                 interval: float = 2.0, speed: float = 60.0, url: str | None = None,
                 backoff_base: float = 1.0, backoff_max: float = 30.0) -> None:
        self.settings = settings
        self.source, self.symbols = source, list(symbols)
        self.interval, self.speed, self.url = interval, speed, url
        self.backoff_base, self.backoff_max = backoff_base, backoff_max
        self._proc: subprocess.Popen | None = None
        self.pid_file_problem: str | None = None

    # ------------------------------------------------------------------ process
    def _pid_info(self) -> dict[str, Any] | None:
        info, problem = files.read_pid_file(files.live_path(self.settings, files.PID_FILE))
        if problem:
            self.pid_file_problem = problem
        return info

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def running_pid(self) -> int | None:
        """The pid of the running feed, or ``None``. A stale pid file is removed on the way."""
        self._reap()
        path = files.live_path(self.settings, files.PID_FILE)
        info, problem = files.read_pid_file(path)
        if problem:  # reported (status) and replaced by the next start
            self.pid_file_problem = f"{problem}; removed"
            path.unlink(missing_ok=True)
            return None
        if not info:
            return None
        pid = info["pid"]
        if files.is_our_feed(pid, info["token"], info.get("proc_start"), bool(info.get("token_in_argv", True))):
            return pid
        path.unlink(missing_ok=True)
        return None

    def is_running(self) -> bool:
        return self.running_pid() is not None

    def start_feed(self, timeout: float = 15.0) -> bool:
        """Start the feed process unless one is running. Returns ``True`` if this call started it.

        Waits (at most ``timeout`` s) until the child has written its pid file.

        Raises
        ------
        ConfigError
            Unknown source, no symbols, no 1m master to replay (checked before spawning).
        SourceError
            The child exited during start-up (its log tail is in the message).
        """
        if self.is_running():
            return False
        check_timing(self.interval, self.speed, self.backoff_base, self.backoff_max)
        make_source(self.settings, self.source, self.symbols, speed=self.speed, url=self.url, env=self._env()).check()
        self.settings.live_dir.mkdir(parents=True, exist_ok=True)
        token = files.new_token()
        log_path = files.live_path(self.settings, files.LOG_FILE)
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(self._command(token), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=log, env=self._env(), **_detached())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            info = self._pid_info()
            # Token, not pid: on Windows a venv's python.exe is a launcher whose child has another pid.
            if info and info.get("token") == token:
                return True
            if self._proc.poll() is not None:
                code, self._proc = self._proc.returncode, None
                if code == 3 and self._wait_running(5.0):  # another controller won the race: one feed runs
                    return False
                msg = f"live feed exited during start-up (code {code}): {_tail(log_path)}"
                raise SourceError(msg)
            time.sleep(POLL)
        self._kill(self._proc.pid)
        raise SourceError(f"live feed did not start within {timeout:.0f} s: {_tail(log_path)}")

    def stop_feed(self, timeout: float = 10.0) -> bool:
        """Stop the running feed (SIGTERM, then SIGKILL after ``timeout``). ``True`` if one was stopped.

        Only a process that is verifiably our feed is signalled; the pid file is gone afterwards.
        """
        pid = self.running_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not self._wait_gone(pid, timeout):
            self._kill(pid)
        files.live_path(self.settings, files.PID_FILE).unlink(missing_ok=True)
        return True

    def restart_feed(self, timeout: float = 15.0) -> bool:
        """Stop the running feed (if any) and start a new one with this controller's options."""
        self.stop_feed()
        return self.start_feed(timeout)

    def _wait_running(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)
        return True

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._reap()
            if not files.pid_alive(pid):
                return True
            time.sleep(POLL)
        return False

    def _kill(self, pid: int) -> None:
        try:
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
        except ProcessLookupError:
            pass
        self._wait_gone(pid, 5.0)

    def _command(self, token: str) -> list[str]:
        cmd = [sys.executable, "-m", "datamgr", "--data-dir", str(Path(self.settings.data_dir).resolve())]
        if self.settings.config_path:
            cmd += ["--config", str(Path(self.settings.config_path).resolve())]
        cmd += ["live", "start", "--foreground", "--no-log-file", "--source", self.source,
                "--symbols", ",".join(self.symbols), "--interval", str(self.interval), "--speed", str(self.speed),
                "--backoff-base", str(self.backoff_base), "--backoff-max", str(self.backoff_max), "--token", token]
        return cmd + (["--url", self.url] if self.url else [])

    def _env(self) -> dict[str, str]:
        root = str(Path(__file__).resolve().parents[2])
        path = os.environ.get("PYTHONPATH")
        return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}

    @property
    def feed_process(self) -> subprocess.Popen | None:
        """The feed process this controller started (``None`` after a restart of the caller)."""
        self._reap()
        return self._proc

    # ------------------------------------------------------------------ data
    def get_feed_data(self) -> dict[str, Any] | None:
        """The current feed file (parsed), or ``None`` when it is missing or invalid."""
        obj = files.read_json(files.live_path(self.settings, files.FEED_FILE))
        return obj if obj is not None and not files.validate_feed_payload(obj) else None

    def validate_feed_file(self) -> bool:
        """Whether the feed file exists and is well formed (its problems: :meth:`feed_problems`).

        Its age is :meth:`is_data_fresh`'s business: the last prices of a stopped feed stay valid.
        """
        problems = self.feed_problems()
        for p in problems:
            log.warning("live feed file: %s", p)
        return not problems

    def feed_problems(self) -> list[str]:
        """Every problem of the feed file (missing, not JSON, missing fields); empty when valid."""
        path = files.live_path(self.settings, files.FEED_FILE)
        if not path.is_file():
            return [f"{path}: does not exist (no feed has delivered data yet)"]
        obj = files.read_json(path)
        if obj is None:
            return [f"{path}: not a JSON object"]
        return files.validate_feed_payload(obj, str(path))

    def data_age_seconds(self) -> float | None:
        """Seconds since the feed last wrote data, or ``None`` without data."""
        data = self.get_feed_data()
        if data is None:
            return None
        return max(0.0, (now_utc() - files.feed_time(data)).total_seconds())

    def is_data_fresh(self, max_age_seconds: float = 5.0) -> bool:
        """Whether the feed wrote data within ``max_age_seconds``."""
        age = self.data_age_seconds()
        return age is not None and age <= max_age_seconds

    def get_live_price(self, symbol: str | None = None) -> float | None:
        """Last traded price of ``symbol`` (default: the first instrument of the feed file), or ``None``.

        Check :meth:`is_data_fresh` for its age.
        """
        quotes = (self.get_feed_data() or {}).get("data", [])
        for q in quotes:
            if symbol is None or q.get("trading_symbol") == symbol:
                return q.get("last_traded_price")
        return None

    def wait_for_data(self, timeout: float = 30.0) -> bool:
        """Wait until the running feed has written data (written after it started). Bounded by ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            data, info = self.get_feed_data(), self._pid_info()
            if data and data["data"]:
                started = files.parse_time(str((info or {}).get("started")))
                if started is None or files.feed_time(data) >= started:
                    return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(POLL)

    def status(self, max_age_seconds: float | None = None) -> FeedStatus:
        """The feed's state for the page and ``live status``. Fresh means younger than 3 intervals + 1 s."""
        had_pid_file = files.live_path(self.settings, files.PID_FILE).is_file()
        self.pid_file_problem = None
        pid = self.running_pid()
        info = self._pid_info() or {}
        hb = files.read_json(files.live_path(self.settings, files.HEARTBEAT_FILE)) or {}
        data = self.get_feed_data()
        age = self.data_age_seconds()
        interval = info.get("interval")
        interval = float(interval) if isinstance(interval, (int, float)) and interval > 0 else self.interval
        limit = max_age_seconds if max_age_seconds is not None else 3 * interval + 1
        return FeedStatus(running=pid is not None, pid=pid, source=info.get("source"),
                          symbols=[str(x) for x in info.get("symbols") or [] if isinstance(x, str)]
                          if isinstance(info.get("symbols"), list) else [], started_at=info.get("started"),
                          state=(hb.get("state") if pid is not None else "stopped"),
                          last_error=hb.get("last_error") or None,
                          data_timestamp=to_et_iso(files.feed_time(data), data.get("timezone") or self.settings.display_tz)
                          if data else None,
                          data_age_seconds=round(age, 3) if age is not None else None,
                          fresh=age is not None and age <= limit and pid is not None,
                          stale_pid_removed=had_pid_file and pid is None,
                          pid_file_problem=self.pid_file_problem)


def _detached() -> dict[str, Any]:
    if sys.platform.startswith("win"):  # pragma: no cover - Windows
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "DETACHED_PROCESS", 0)
        return {"creationflags": flags}
    return {"start_new_session": True}


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


__all__ = ["FeedStatus", "LiveDataFeed"]
