"""The live folder's files: the feed file, the pid file and the heartbeat (SPEC 10).

``live/`` holds::

    live_feed_data.json   {"timestamp", "timezone", "timestamp_utc", "source", "data": [{"trading_symbol",
                          "last_traded_price", "open", "high", "low", "close", "volume",
                          "exchange_timestamp", "exchange_time_iso"}]}
                          rewritten atomically every interval while the source is connected
    feed.pid              {"pid", "token", "token_in_argv", "proc_start", "source", "symbols",
                          "started", "interval"}
    heartbeat.json        {"time", "pid", "state", "attempt", "last_error", "quotes"} every interval
    feed.log              the feed process's log
    .feed.lock            held by the running feed for its whole life (never two feeds at once)

The feed file keeps the second requirements document's keys and time style: ``timestamp`` is the
wall-clock time of the write in the feed's display zone (``timezone``: IST for NSE instruments,
ET otherwise) as ``2024-01-01T09:15:30.123456``, ``exchange_timestamp`` the quote's exchange time
as ``01-Jan-2024 09:15:30`` in the instrument's zone; the extra keys ``timestamp_utc`` and
``exchange_time_iso`` carry the same instants unambiguously (ISO 8601 with offset). The pid file
and the heartbeat use ISO 8601 with offset. Readers never see a torn file: every JSON file is
written with :func:`datamgr.store.atomic.atomic_write_bytes`.

Process identity (:func:`is_our_feed`): a pid is the feed only when the process is alive, its
start time (``/proc/<pid>/stat`` field 22) equals the one the feed recorded, and -- when the feed
was started with ``--token`` (always, by the controller) -- its command line carries that exact
token as an argument. Tokens are random and at least :data:`MIN_TOKEN` characters long. A
``feed.pid`` that does not have this shape is corrupt: :func:`read_pid_file` reports it.
Where ``/proc`` does not exist (Windows, macOS) only "alive" can be checked.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datamgr.core.config import Settings
from datamgr.core.procs import pid_alive, proc_start  # noqa: F401 - re-exported (feed identity)
from datamgr.store.atomic import atomic_write_bytes

FEED_FILE = "live_feed_data.json"
PID_FILE = "feed.pid"
HEARTBEAT_FILE = "heartbeat.json"
LOG_FILE = "feed.log"
LOCK_FILE = ".feed.lock"
MIN_TOKEN = 16
MAX_PID = 2**22  # Linux's pid_max ceiling; larger "pids" are corrupt
QUOTE_FIELDS = ("trading_symbol", "last_traded_price", "open", "high", "low", "close", "volume",
                "exchange_timestamp")


def live_path(settings: Settings, name: str) -> Path:
    """``<data>/live/<name>``."""
    return settings.live_dir / name


def write_json(path: Path, obj: Any) -> None:
    """Write one small JSON file atomically."""
    atomic_write_bytes(path, json.dumps(obj, default=str, indent=1).encode("utf-8"))


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``; ``None`` when the file is missing, unreadable or not an object."""
    try:
        obj = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def validate_feed_payload(obj: Any, where: str = FEED_FILE) -> list[str]:
    """Every problem of a feed file's content (empty list: valid).

    Parameters
    ----------
    obj : Any
        The parsed JSON.
    where : str
        File name used in the messages.
    """
    if not isinstance(obj, dict):
        return [f"{where}: top level is not a JSON object"]
    problems = []
    ts = obj.get("timestamp")
    if not isinstance(ts, str) or feed_time(obj) is None:
        problems.append(f"{where}: field 'timestamp' is missing or not an ISO 8601 time "
                        "(with an offset, or with a 'timezone' field)")
    data = obj.get("data")
    if not isinstance(data, list):
        return [*problems, f"{where}: field 'data' is missing or not a list"]
    for i, q in enumerate(data):
        if not isinstance(q, dict):
            problems.append(f"{where}: data[{i}] is not an object")
            continue
        missing = [f for f in QUOTE_FIELDS if f not in q]
        if missing:
            problems.append(f"{where}: data[{i}] lacks field(s) {', '.join(missing)}")
            continue
        for f in ("last_traded_price", "open", "high", "low", "close"):
            if q[f] is not None and not isinstance(q[f], (int, float)):
                problems.append(f"{where}: data[{i}].{f} is not a number: {q[f]!r}")
    return problems


def doc_stamp(t: dt.datetime, tz: str) -> str:
    """``2024-01-01T09:15:30.123456``: the document's ``timestamp`` style (wall clock in ``tz``)."""
    return t.astimezone(ZoneInfo(tz)).replace(tzinfo=None).isoformat(timespec="microseconds")


def exchange_stamp(t: dt.datetime, tz: str) -> str:
    """``01-Jan-2024 09:15:30``: the document's ``exchange_timestamp`` style (wall clock in ``tz``)."""
    return t.astimezone(ZoneInfo(tz)).strftime("%d-%b-%Y %H:%M:%S")


def feed_time(obj: dict[str, Any]) -> dt.datetime | None:
    """The aware time of a feed file's write: ``timestamp_utc``, else ``timestamp`` (with its offset,
    or in ``timezone``); ``None`` when neither reads."""
    t = parse_time(str(obj.get("timestamp_utc") or ""))
    if t is not None:
        return t
    text = obj.get("timestamp")
    try:
        t = dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    if t.tzinfo is not None:
        return t
    try:
        return t.replace(tzinfo=ZoneInfo(str(obj.get("timezone"))))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_time(text: str) -> dt.datetime | None:
    """An aware datetime from ISO text, or ``None``."""
    try:
        t = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo is not None else None


def new_token() -> str:
    """A fresh feed token: 32 random hex characters (never starting with ``-``, which the command
    line of the feed process would read as an option: a URL-safe token does so 1 time in 32)."""
    return secrets.token_hex(16)


def read_pid_file(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The pid file's content and, when it is corrupt, what is wrong with it.

    Returns ``(info, None)`` for a valid file, ``(None, None)`` when there is none, and
    ``(None, problem)`` for one that is not JSON, not an object, or has a pid / token / start
    time of the wrong type or size. Never raises.
    """
    if not os.path.lexists(path):
        return None, None
    try:
        obj = json.loads(path.read_bytes())
    except (OSError, ValueError) as err:
        return None, f"{path.name} is not readable JSON ({type(err).__name__})"
    if not isinstance(obj, dict):
        return None, f"{path.name} is not a JSON object"
    pid, token, start = obj.get("pid"), obj.get("token"), obj.get("proc_start")
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < MAX_PID:
        return None, f"{path.name}: pid {str(pid)[:40]!r} is not a process id"
    if not isinstance(token, str) or len(token) < MIN_TOKEN:
        return None, f"{path.name}: token is missing or shorter than {MIN_TOKEN} characters"
    if start is not None and (not isinstance(start, int) or isinstance(start, bool) or start < 0):
        return None, f"{path.name}: proc_start {str(start)[:40]!r} is not a start time"
    return obj, None


def is_our_feed(pid: int, token: str, start: int | None = None, token_in_argv: bool = True) -> bool:
    """Whether ``pid`` is alive and is the feed that wrote the pid file carrying ``token``.

    Parameters
    ----------
    pid, token : int, str
        From the pid file; a token shorter than :data:`MIN_TOKEN` never matches.
    start : int, optional
        The process start time the feed recorded (:func:`proc_start`); must match where known.
    token_in_argv : bool
        The feed was started with ``--token``: one argument of its command line must equal the
        token exactly (a substring does not count).
    """
    if not isinstance(pid, int) or not 0 < pid < MAX_PID or not isinstance(token, str) or len(token) < MIN_TOKEN:
        return False
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists():
        return True  # no /proc (Windows, macOS): alive is all that can be checked
    now_start = proc_start(pid)
    if start is None or now_start != start:
        return False
    if token_in_argv:
        try:
            return token.encode() in cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
    return True
