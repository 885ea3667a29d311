"""The replay feed runs as a subprocess; the controller starts, reads, stops and restarts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from datamgr.core.errors import ConfigError
from datamgr.live import files
from datamgr.live.feed import backoff_delay
from tests.conftest import REPO, folder_hash


def _market_files(settings):
    return {k: v for k, v in folder_hash(settings.data_dir).items() if not k.startswith("live")}


def test_replay_feed_subprocess_writes_feed_files_the_controller_reads(master, feeds):
    settings, bars = master
    feed = feeds(settings)
    assert feed.start_feed() is True
    assert feed.wait_for_data(timeout=10)
    assert feed.validate_feed_file() is True
    data = feed.get_feed_data()
    assert [q["trading_symbol"] for q in data["data"]] == ["ES1"]
    price = feed.get_live_price("ES1")
    assert price in set(bars["close"].to_list())
    assert feed.get_live_price("NQ1") is None
    quote = data["data"][0]
    assert quote["low"] <= quote["last_traded_price"] <= quote["high"]
    assert files.parse_time(quote["exchange_time_iso"]).utcoffset() is not None
    info = files.read_json(files.live_path(settings, files.PID_FILE))
    assert info["pid"] == feed.running_pid() and info["pid"] != os.getpid()
    heartbeat = files.read_json(files.live_path(settings, files.HEARTBEAT_FILE))
    assert heartbeat["state"] == "connected" and heartbeat["pid"] == info["pid"]
    st = feed.status()
    assert st.running and st.fresh and st.source == "replay" and st.symbols == ["ES1"]


def test_the_feed_file_always_parses_while_the_feed_rewrites_it(master, feeds):
    settings, _ = master
    feed = feeds(settings, interval=0.01, speed=6000.0)
    feed.start_feed()
    assert feed.wait_for_data(timeout=10)
    path = files.live_path(settings, files.FEED_FILE)
    stamps, reads = set(), 0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        obj = json.loads(path.read_bytes())  # a torn file would raise here
        assert files.validate_feed_payload(obj) == []
        stamps.add(obj["timestamp"])
        reads += 1
    assert reads > 200
    assert len(stamps) > 20  # it really was rewritten many times during the loop


def test_data_is_fresh_while_the_feed_runs_and_stale_after_it_stops(master, feeds):
    settings, _ = master
    feed = feeds(settings)
    feed.start_feed()
    assert feed.wait_for_data(timeout=10)
    assert feed.is_data_fresh(max_age_seconds=5)
    assert feed.stop_feed() is True
    assert not files.live_path(settings, files.PID_FILE).exists()
    time.sleep(0.3)
    assert not feed.is_data_fresh(max_age_seconds=0.2)
    assert feed.is_data_fresh(max_age_seconds=60)  # the last prices stay readable
    st = feed.status()
    assert not st.running and not st.fresh and st.state == "stopped"
    heartbeat = files.read_json(files.live_path(settings, files.HEARTBEAT_FILE))
    assert heartbeat["state"] == "stopped"
    assert feed.stop_feed() is False


def test_restart_runs_a_new_feed_process_that_writes_new_data(master, feeds):
    settings, _ = master
    feed = feeds(settings)
    feed.start_feed()
    assert feed.wait_for_data(timeout=10)
    first_pid, first_stamp = feed.running_pid(), feed.get_feed_data()["timestamp_utc"]
    assert feed.restart_feed() is True
    assert feed.wait_for_data(timeout=10)
    assert feed.running_pid() not in (None, first_pid)
    assert files.feed_time(feed.get_feed_data()) > files.feed_time({"timestamp_utc": first_stamp})
    assert not files.pid_alive(first_pid)


def test_a_second_start_never_runs_a_second_feed(master, feeds):
    settings, _ = master
    feed, other = feeds(settings), feeds(settings)
    assert feed.start_feed() is True
    assert other.start_feed() is False
    assert other.running_pid() == feed.running_pid()
    # Even a feed process started by hand refuses to run next to it (the feed holds live/.feed.lock).
    proc = subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(settings.data_dir), "live", "start",
                           "--foreground", "--interval", "0.1"], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert "another live feed is running" in proc.stderr
    assert files.read_json(files.live_path(settings, files.PID_FILE))["pid"] == feed.running_pid()


def test_a_stale_pid_file_is_removed_and_a_new_feed_starts(master, feeds):
    settings, _ = master
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    settings.live_dir.mkdir()
    files.write_json(files.live_path(settings, files.PID_FILE), {"pid": dead.pid, "token": "old"})
    feed = feeds(settings)
    assert feed.status().stale_pid_removed is True
    assert not files.live_path(settings, files.PID_FILE).exists()
    assert feed.start_feed() is True
    assert feed.wait_for_data(timeout=10)


def test_a_pid_file_naming_someone_elses_process_is_never_signalled(master, feeds):
    settings, _ = master
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        settings.live_dir.mkdir()
        files.write_json(files.live_path(settings, files.PID_FILE), {"pid": bystander.pid, "token": "f00d"})
        feed = feeds(settings)
        assert feed.stop_feed() is False
        assert bystander.poll() is None  # still alive: it was not ours to stop
        assert not files.live_path(settings, files.PID_FILE).exists()
    finally:
        bystander.kill()
        bystander.wait()


def test_a_killed_feed_is_reported_stopped_and_leaves_the_data_folder_untouched(master, feeds):
    settings, _ = master
    before = _market_files(settings)
    feed = feeds(settings)
    feed.start_feed()
    assert feed.wait_for_data(timeout=10)
    pid = feed.running_pid()
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while feed.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    st = feed.status()
    assert not st.running and not st.fresh
    assert not files.live_path(settings, files.PID_FILE).exists()  # the stale pid file was cleared
    assert feed.validate_feed_file() is True  # the last complete file, never a torn one
    assert _market_files(settings) == before
    assert feed.start_feed() is True  # the lock died with the process
    assert feed.wait_for_data(timeout=10)


def test_replaying_a_ticker_without_a_master_is_refused_before_anything_starts(settings, feeds):
    feed = feeds(settings, symbols=["NQ1"])
    with pytest.raises(ConfigError, match=r"no 1m master for 'NQ1'.*NQ1_1m.parquet"):
        feed.start_feed()
    assert not settings.live_dir.exists()
    assert feed.feed_problems()[0].endswith("does not exist (no feed has delivered data yet)")


def test_replay_accepts_the_yahoo_symbol_of_a_stored_master(master, feeds):
    settings, _ = master
    feed = feeds(settings, symbols=["ES=F"])
    feed.start_feed()
    assert feed.wait_for_data(timeout=10)
    assert isinstance(feed.get_live_price("ES=F"), float)


def test_reconnect_delays_double_up_to_the_cap():
    assert [backoff_delay(a, 0.5, 4.0) for a in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


def test_a_broken_feed_file_is_reported_field_by_field_and_never_served(settings, feeds):
    feed = feeds(settings)
    settings.live_dir.mkdir()
    path = files.live_path(settings, files.FEED_FILE)
    quote = {"trading_symbol": "ES1", "last_traded_price": "6000", "open": 1.0, "high": 1.0, "low": 1.0,
             "close": 1.0, "exchange_timestamp": None}
    files.write_json(path, {"timestamp": "yesterday", "data": [quote]})
    problems = feed.feed_problems()
    assert problems == [f"{path}: field 'timestamp' is missing or not an ISO 8601 time "
                        "(with an offset, or with a 'timezone' field)",
                        f"{path}: data[0] lacks field(s) volume"]
    assert feed.get_feed_data() is None and feed.get_live_price("ES1") is None and not feed.is_data_fresh(60)
    files.write_json(path, {"timestamp": "2025-11-21T10:00:00-05:00", "data": [{**quote, "volume": 1}]})
    assert feed.feed_problems() == [f"{path}: data[0].last_traded_price is not a number: '6000'"]
    path.write_bytes(b"{not json")
    assert feed.feed_problems() == [f"{path}: not a JSON object"]


def test_two_controllers_starting_at_the_same_moment_run_exactly_one_feed(master, feeds):
    import threading

    settings, _ = master
    a, b = feeds(settings), feeds(settings)
    results: dict[str, bool] = {}
    go = threading.Barrier(2)

    def start(name, feed):
        go.wait()
        results[name] = feed.start_feed()

    threads = [threading.Thread(target=start, args=(n, f)) for n, f in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results.values()) == [False, True]
    pids = {p for p in (a._proc.pid if a._proc else None, b._proc.pid if b._proc else None) if p}
    alive = [p for p in pids if files.pid_alive(p)]
    assert alive == [a.running_pid()]  # whatever the timing: one feed process lives


def test_the_first_quotes_are_published_without_waiting_for_the_next_tick(master, feeds):
    settings, _ = master
    feed = feeds(settings, interval=30.0)
    feed.start_feed()
    assert feed.wait_for_data(timeout=5)  # far less than one 30 s interval
