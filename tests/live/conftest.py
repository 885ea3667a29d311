"""Live-feed fixtures: a data folder with a 1m master, controllers whose processes are always stopped."""

from __future__ import annotations

import os
import signal

import pytest

from datamgr.live import files
from datamgr.live.controller import LiveDataFeed
from datamgr.store.store import Store


@pytest.fixture
def master(settings, week_bars):
    """``settings`` whose folder holds ES1_1m.parquet (one week of demo bars); returns (settings, bars)."""
    Store(settings).write("ES1", "1m", week_bars, operation="test")
    return settings, week_bars


@pytest.fixture
def feeds():
    """``feeds(settings, **options)`` -> a LiveDataFeed; every feed it made is stopped afterwards."""
    made: list[LiveDataFeed] = []

    def make(settings, **kw) -> LiveDataFeed:
        kw.setdefault("interval", 0.1)
        kw.setdefault("speed", 600.0)
        f = LiveDataFeed(settings, **kw)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop_feed(timeout=5)
        info, _ = files.read_pid_file(files.live_path(f.settings, files.PID_FILE))
        if info and files.is_our_feed(info["pid"], info["token"], info.get("proc_start"),
                                      bool(info.get("token_in_argv", True))):  # never leave a process behind
            os.kill(info["pid"], signal.SIGKILL)
        if f._proc is not None:
            f._proc.kill()
            f._proc.wait(5)
