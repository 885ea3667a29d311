"""The write lock's owner record ``.datamgr.lock.owner`` and the "locked by" message (exit 3).

The record is one JSON line written by the lock holder right after it takes the lock::

    {"pid": 4242, "start": 123456, "command": "import ES 03-25.Last.txt", "argv": "python -m datamgr import ..."}

``start`` is the process start time (:func:`datamgr.core.procs.proc_start`), so a pid reused by
another process is not taken for the holder. The record is *stale* when its process is gone, is
another process now, or no longer has the lock file open (Linux ``/proc``): the real holder never
wrote its own record (a tool that is not datamgr, an old datamgr, a failed write on a full disk).
The message then says the record is stale and names the processes that really have the lock file
open, with their command lines. Older records (``pid N: command``) are read
too. Never raises.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from pathlib import Path

from datamgr.core.errors import StoreError
from datamgr.core.procs import command_line, holders_of, pid_alive, proc_start
from datamgr.store.atomic import open_nofollow

log = logging.getLogger(__name__)
_OLD = re.compile(r"^pid (\d+): (.*)$", re.S)


def owner_path(lock_path: Path) -> Path:
    return lock_path.with_name(lock_path.name + ".owner")


def write_owner(lock_path: Path, what: str) -> None:
    """Record this process as the lock holder (never through a symbolic link; failures logged)."""
    owner = owner_path(lock_path)
    rec = {"pid": os.getpid(), "start": proc_start(os.getpid()), "command": what,
           "argv": " ".join(sys.argv)[:300]}
    try:
        fd = open_nofollow(owner, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    except (OSError, StoreError) as err:
        log.warning("%s: not written: %s", owner.name, err)
        return
    try:
        os.write(fd, (json.dumps(rec) + "\n").encode())
    except OSError:
        pass
    finally:
        os.close(fd)


def read_owner(lock_path: Path) -> dict | None:
    """The owner record (``pid``, ``start``, ``command``), or None when absent or unreadable."""
    try:
        text = owner_path(lock_path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    try:
        rec = json.loads(text)
    except ValueError:
        m = _OLD.match(text)
        return {"pid": int(m.group(1)), "start": None, "command": m.group(2)} if m else None
    if not isinstance(rec, dict) or not isinstance(rec.get("pid"), int) or isinstance(rec.get("pid"), bool):
        return None
    return rec


def _same_process(rec: dict) -> bool:
    """The recorded process is alive and (where start times are known) the same process."""
    pid = rec["pid"]
    if pid == os.getpid():
        return True
    if not 0 < pid < 2**22 or not pid_alive(pid):
        return False
    start, now = rec.get("start"), proc_start(pid)
    return start is None or now is None or start == now


def describe_holder(lock_path: Path, *, other_process: bool = True) -> str:
    """Who holds the lock, for the "locked by" message: the live holder by pid and command, or
    the stale record said to be stale plus the processes that have the lock file open.

    ``other_process``: the lock is held by another process (so a record naming this one is stale);
    False when another thread of this process may hold it."""
    rec = read_owner(lock_path)
    holders = holders_of(lock_path)  # other processes with the lock file open (Linux; may be empty)
    me = rec is not None and rec["pid"] == os.getpid()
    alive = rec is not None and _same_process(rec)
    if alive and ((me and not other_process) or (not me and (not holders or rec["pid"] in holders))):
        return f"pid {rec['pid']}: {rec.get('command', '?')}"
    live = "; ".join(f"pid {p}: {command_line(p) or '?'}" for p in holders) or "a process that could not be identified"
    if rec is None:
        return f"{live}; no owner record"
    why = ("is this process, which no longer holds the lock" if me else
           "is still running but no longer holds the lock" if alive else "is no longer running")
    return f"{live}; the owner record (pid {rec['pid']}: {rec.get('command', '?')}) is stale: that process {why}"
