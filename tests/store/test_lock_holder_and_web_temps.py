"""Issue 11 (Low): the exit-3 message names the live lock holder, and temp files a killed web
chunk write left under ``web/`` are removed by the next writer under the lock."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from datamgr.core.errors import LockedError
from datamgr.core.procs import pid_alive
from datamgr.store.atomic import TMP_MARK
from datamgr.store.store import Store
from tests.conftest import folder_hash

REPO = Path(__file__).resolve().parents[2]
WORKERS = REPO / "tests" / "workers"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
posix_only = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc (Linux) and flock")


def worker(name: str, *args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKERS / name), *map(str, args)], cwd=REPO, env=ENV, text=True, **kw)


def wait_until(cond, limit: float = 30.0) -> None:
    end = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


@posix_only
def test_a_locked_folder_names_the_live_holder_and_calls_a_dead_owner_record_stale(settings, week_bars):
    first = worker("hold_lock.py", settings.data_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert first.stdout.readline().strip() == "locked"
    first.stdin.close()
    first.wait(10)  # a datamgr writer came and went: its owner record stays behind
    assert not pid_alive(first.pid)
    raw = worker("hold_lock_raw.py", settings.data_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert raw.stdout.readline().strip() == "locked"  # the real holder wrote no record
    impatient = Store(dataclasses.replace(settings, lock_timeout=0.3))
    before = folder_hash(settings.data_dir)
    try:
        with pytest.raises(LockedError) as err:
            impatient.write("ES1", "1m", week_bars, operation="test")
    finally:
        raw.stdin.close()
        raw.wait(10)
    msg = str(err.value)
    assert err.value.exit_code == 3
    assert f"pid {raw.pid}: " in msg and "hold_lock_raw.py" in msg  # the live holder and its command
    assert f"owner record (pid {first.pid}: holding for a test) is stale" in msg
    assert folder_hash(settings.data_dir) == before


def test_a_live_owner_record_is_named_as_the_holder(settings, week_bars):
    p = worker("hold_lock.py", settings.data_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as err:
            Store(dataclasses.replace(settings, lock_timeout=0.3)).write("ES1", "1m", week_bars, operation="test")
    finally:
        p.stdin.close()
        p.wait(10)
    assert f"locked by another writer (pid {p.pid}: holding for a test)" in str(err.value)
    assert "stale" not in str(err.value)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_temp_files_of_a_killed_web_chunk_write_are_removed_by_the_next_writer(store, settings, week_bars):
    folder = settings.data_dir / "web" / "ES1" / "1m"
    p = worker("write_web_chunk.py", settings.data_dir)

    def temps() -> list[Path]:
        return [q for q in folder.iterdir() if TMP_MARK in q.name] if folder.is_dir() else []

    wait_until(lambda: any(q.stat().st_size > 0 for q in temps()))
    p.send_signal(signal.SIGKILL)  # mid-write: the temp file has bytes, the chunk was never replaced
    p.wait()
    torn = temps()
    assert torn and not (folder / "2025-01.json").exists()
    store.write("ES1", "1m", week_bars, operation="import")
    assert not [q for q in settings.data_dir.rglob("*") if TMP_MARK in q.name]


@posix_only
def test_an_owner_record_of_a_process_that_released_the_lock_is_called_stale(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="import")  # this process held the lock, then let go
    raw = worker("hold_lock_raw.py", settings.data_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert raw.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as err:
            Store(dataclasses.replace(settings, lock_timeout=0.3)).write("ES1", "1m", week_bars.head(10),
                                                                        operation="test")
    finally:
        raw.stdin.close()
        raw.wait(10)
    msg = str(err.value)
    assert msg.split("(", 1)[1].startswith(f"pid {raw.pid}: ") and "hold_lock_raw.py" in msg
    assert f"owner record (pid {os.getpid()}: " in msg and "no longer holds the lock" in msg
