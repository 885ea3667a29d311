"""The live folder's files: the feed file, the pid file and the heartbeat (SPEC 10).

``live/`` holds::

    live_feed_data.json   {"timestamp", "timezone", "timestamp_utc", "source", "data": [{"trading_symbol",
                          "last_traded_price", "open", "high", "low", "close", "volume",
                          "exchange_timestamp", "exchange_time_iso"}]}
                          rewritten atomically every interval while the source is connected
    feed.pid              {"pid", "token", "source", "symbols", "started", "interval"}
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
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datamgr.core.config import Settings
from datamgr.store.atomic import atomic_write_bytes

FEED_FILE = "live_feed_data.json"
PID_FILE = "feed.pid"
HEARTBEAT_FILE = "heartbeat.json"
LOG_FILE = "feed.log"
LOCK_FILE = ".feed.lock"
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


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    if pid <= 0:
        return False
    if sys.platform.startswith("win"):  # pragma: no cover - Windows
        import ctypes  # Windows only

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.is_file():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state not in ("Z", "X")
    return True


def is_our_feed(pid: int, token: str) -> bool:
    """Whether ``pid`` is alive and is the feed that wrote the pid file carrying ``token``.

    On Linux the process's command line must carry the token (a reused pid is not ours); where
    ``/proc`` does not exist the check falls back to "alive".
    """
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():
        try:
            return token.encode() in cmdline.read_bytes()
        except OSError:
            return False
    return True
