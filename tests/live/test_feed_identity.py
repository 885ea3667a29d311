"""Live-feed process identity (issue 11.2): pid + exact token in argv + process start time.

A pid file whose pid now belongs to another program is never reported as the feed and never
signalled, however it was written (empty token, a token that is a substring of the stranger's
command line, the right token but another start time); a corrupt ``feed.pid`` is reported and
replaced, never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from datamgr.cli.main import main
from datamgr.core.errors import ConfigError
from datamgr.live import files
from datamgr.live.feed import FeedOptions, run_feed


@pytest.fixture
def stranger():
    """Another program: ``python -c ... <arg>``; yields a factory taking its extra argument."""
    procs = []

    def make(arg: str = "") -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", arg])
        procs.append(p)
        return p

    yield make
    for p in procs:
        p.kill()
        p.wait()


def _pid_file(settings, obj) -> None:
    settings.live_dir.mkdir(exist_ok=True)
    path = files.live_path(settings, files.PID_FILE)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))


@pytest.mark.parametrize("case", ["empty token", "one-character token", "token is a substring of an argument",
                                  "exact token but another start time"])
def test_a_stranger_with_the_recorded_pid_is_never_the_feed_nor_signalled(master, feeds, stranger, case):
    settings, _ = master
    token = files.new_token()
    p = stranger(token + "-and-more" if case != "exact token but another start time" else token)
    start = files.proc_start(p.pid)
    info = {"empty token": {"pid": p.pid, "token": ""},
            "one-character token": {"pid": p.pid, "token": "-"},
            "token is a substring of an argument": {"pid": p.pid, "token": token, "proc_start": start,
                                                    "token_in_argv": True},
            "exact token but another start time": {"pid": p.pid, "token": token, "proc_start": (start or 0) + 7,
                                                   "token_in_argv": True}}[case]
    _pid_file(settings, info)
    feed = feeds(settings)
    st = feed.status()
    assert not st.running and st.pid is None
    assert feed.stop_feed() is False
    assert p.poll() is None  # alive: never signalled
    assert not files.live_path(settings, files.PID_FILE).exists()


def test_the_real_feed_is_recognised_by_token_argument_and_start_time(master, feeds):
    settings, _ = master
    feed = feeds(settings)
    assert feed.start_feed() is True
    info, problem = files.read_pid_file(files.live_path(settings, files.PID_FILE))
    assert problem is None and len(info["token"]) >= files.MIN_TOKEN and info["token_in_argv"] is True
    assert info["proc_start"] == files.proc_start(info["pid"])
    assert feed.status().running and feed.stop_feed() is True


def test_a_foreground_feed_without_a_token_writes_a_long_random_one_and_its_start_time(master):
    settings, _ = master
    stop = threading.Event()
    t = threading.Thread(target=run_feed, args=(settings, FeedOptions(symbols=("ES1",), interval=0.05)),
                         kwargs={"stop": stop})
    t.start()
    try:
        path = files.live_path(settings, files.PID_FILE)
        for _ in range(200):
            info, _ = files.read_pid_file(path)
            if info:
                break
            stop.wait(0.05)
        assert info is not None and len(info["token"]) >= files.MIN_TOKEN
        assert info["token_in_argv"] is False and info["proc_start"] == files.proc_start(info["pid"])
    finally:
        stop.set()
        t.join(10)


def test_a_short_token_on_the_command_line_is_refused(master):
    settings, _ = master
    with pytest.raises(ConfigError, match="--token"):
        run_feed(settings, FeedOptions(symbols=("ES1",), token="abc"), stop=threading.Event())


@pytest.mark.parametrize("content", ['{"pid": "abc", "token": "x"}', '{"pid": 123456789012345678901234567890}',
                                     "[1, 2, 3]", "not json at all", '{"pid": true, "token": "aaaaaaaaaaaaaaaaaaaa"}',
                                     '{"pid": 1, "token": "aaaaaaaaaaaaaaaaaaaa", "proc_start": "soon"}'])
def test_a_corrupt_pid_file_is_reported_and_removed_never_a_traceback(master, feeds, content, capsys):
    settings, _ = master
    _pid_file(settings, content)
    st = feeds(settings).status()
    assert not st.running and st.pid_file_problem and "feed.pid" in st.pid_file_problem
    assert not files.live_path(settings, files.PID_FILE).exists()
    _pid_file(settings, content)
    assert main(["--data-dir", str(settings.data_dir), "live", "status"]) == 0
    assert "warning: feed.pid" in capsys.readouterr().out
    _pid_file(settings, content)
    assert main(["--data-dir", str(settings.data_dir), "live", "stop"]) == 0


def test_a_corrupt_pid_file_is_replaced_by_the_next_start(master, feeds):
    settings, _ = master
    _pid_file(settings, '{"pid": "abc"}')
    feed = feeds(settings)
    assert feed.start_feed() is True
    info, problem = files.read_pid_file(files.live_path(settings, files.PID_FILE))
    assert problem is None and info["pid"] == feed.running_pid()


def test_tokens_never_look_like_a_command_line_option():
    tokens = {files.new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    assert all(len(t) == 32 and not t.startswith("-") and t.isalnum() for t in tokens)
