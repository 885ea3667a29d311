"""Process identity: is a pid alive, and when did it start (Linux ``/proc``; elsewhere "alive" only).

Shared by the write lock's owner record (:mod:`datamgr.store.lock_owner`) and the live feed's pid
file (:mod:`datamgr.live.files`): a pid alone is not an identity (pids are reused), so both record
the process start time and compare it before they trust a pid.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


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
    except OverflowError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    if stat.is_file():
        try:
            state = stat.read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        return state not in ("Z", "X")
    return True


def proc_start(pid: int) -> int | None:
    """Start time of process ``pid`` in clock ticks since boot (Linux), or None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def command_line(pid: int, limit: int = 200) -> str | None:
    """The command line of ``pid`` (arguments joined by spaces, cut at ``limit``), or None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = " ".join(a.decode("utf-8", "replace") for a in raw.split(b"\0") if a)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def holders_of(path: Path) -> list[int]:
    """Pids (other than this one) with ``path`` open, found through ``/proc/<pid>/fd`` (Linux;
    processes of other users are not visible). Empty where ``/proc`` does not exist."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    try:
        target = os.stat(path)
    except OSError:
        return []
    out = []
    for d in proc.iterdir():
        if not d.name.isdigit() or int(d.name) == os.getpid():
            continue
        try:
            fds = list((d / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(fd)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
                out.append(int(d.name))
                break
    return sorted(out)
