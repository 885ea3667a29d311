"""Injected failures, crashes and concurrent writers leave the data folder as it was.

Faults are real: a file-size limit (RLIMIT_FSIZE) makes pyarrow's write fail with EFBIG inside a
subprocess; ``os.fsync`` / ``os.replace`` are replaced by failing versions (stdlib fault injection,
our code runs unmodified); a byte flipped on disk between write and read-back; writers SIGKILLed
at random moments; two processes racing read-modify-writes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from datamgr.core.errors import BackupError, LockedError, ReadBackError, StoreError
from datamgr.ops.demo import make_demo_bars
from datamgr.store import journal
from datamgr.store.backup import list_backups
from datamgr.store.store import Store, content_sha256, read_parquet_once, table_to_bars
from tests.conftest import folder_hash

REPO = Path(__file__).resolve().parents[2]
WORKERS = REPO / "tests" / "workers"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}


def worker(name: str, *args, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(WORKERS / name), *map(str, args)], cwd=REPO, env=ENV,
                            text=True, **kw)


def tmp_files(settings) -> list[str]:
    dirs = [settings.data_dir, settings.backups_dir]
    return [p.name for d in dirs if d.is_dir() for p in d.iterdir() if ".tmp-" in p.name]


def journal_len(settings) -> int:
    """Lines of the journal (an intent line and a completion line per write)."""
    p = settings.journal_path
    return len(p.read_text().splitlines()) if p.is_file() else 0


def journal_ops(settings) -> int:
    """Completed operations in the journal (one per write)."""
    return len(journal.read(settings))


def assert_untouched(settings, before: dict[str, str], master: bytes, journal_lines: int) -> None:
    """Every file outside backups/ is byte-identical, no temp file anywhere, no journal line.

    A verified backup made before the failure may remain in backups/: it must be a copy of the
    (unchanged) master.
    """
    after = folder_hash(settings.data_dir)
    outside = {k: v for k, v in after.items() if not k.startswith("backups/")}
    assert outside == {k: v for k, v in before.items() if not k.startswith("backups/")}
    assert settings.bar_path("ES1", "1m").read_bytes() == master
    assert tmp_files(settings) == []
    assert journal_len(settings) == journal_lines
    for k in set(after) - set(before):
        if k.endswith(".parquet"):
            assert (settings.data_dir / k).read_bytes() == master


@pytest.fixture
def seeded(store, settings, week_bars):
    """A master holding one week of bars; returns (store, settings, new content, state before)."""
    store.write("ES1", "1m", week_bars, operation="test")
    new = week_bars.with_columns([pl.col(c) + 0.25 for c in ("open", "high", "low", "close")])
    master = settings.bar_path("ES1", "1m").read_bytes()
    return new, folder_hash(settings.data_dir), master, journal_len(settings)


def _fd_name(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return ""


def _is_master_tmp(name: str, settings) -> bool:
    p = Path(name)
    return p.parent == settings.data_dir.resolve() and p.name.startswith(".ES1_1m.parquet.tmp-")


# ---------------------------------------------------------------------------- injected failures

def test_a_disk_full_writer_error_leaves_the_master_untouched(settings, tmp_path):
    small = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 3), seed=1)
    Store(settings).write("ES1", "1m", small, operation="test")
    big = make_demo_bars(dt.date(2024, 1, 1), dt.date(2024, 12, 31), seed=2)
    src = tmp_path / "big.parquet"
    big.write_parquet(src)
    before, master, lines = folder_hash(settings.data_dir), settings.bar_path("ES1", "1m").read_bytes(), journal_len(settings)
    assert len(master) < 1_000_000  # the backup copy fits under the limit, the new file does not
    p = worker("write_bars.py", settings.data_dir, src, 1_000_000, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 2, err
    assert err.startswith("StoreError") and "File too large" in err
    assert_untouched(settings, before, master, lines)


def test_fsync_failing_on_the_temp_file_leaves_everything_as_it_was(store, settings, seeded, monkeypatch):
    new, before, master, lines = seeded
    real_fsync = os.fsync

    def failing_fsync(fd):
        if _is_master_tmp(_fd_name(fd), settings):
            raise OSError(errno.EIO, "injected fsync failure")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(StoreError, match="injected fsync failure"):
        store.write("ES1", "1m", new, operation="test")
    assert_untouched(settings, before, master, lines)


def test_os_replace_failing_leaves_everything_as_it_was(store, settings, seeded, monkeypatch):
    new, before, master, lines = seeded
    real_replace = os.replace
    target = settings.bar_path("ES1", "1m")

    def failing_replace(src, dst, **kw):
        if Path(dst) == target:
            raise OSError(errno.EIO, "injected replace failure")
        return real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StoreError, match="injected replace failure"):
        store.write("ES1", "1m", new, operation="test")
    assert_untouched(settings, before, master, lines)


def test_a_temp_file_corrupted_before_read_back_is_never_installed(store, settings, seeded, monkeypatch):
    new, before, master, lines = seeded
    real_fsync = os.fsync
    hit = []

    def corrupting_fsync(fd):
        # The disk "flips a byte" of the fresh temp file just before it is read back.
        name = _fd_name(fd)
        if _is_master_tmp(name, settings):
            real_fsync(fd)
            with open(name, "r+b") as f:  # the writer's handle is write-only: a second handle
                size = os.fstat(f.fileno()).st_size
                f.seek(size // 3)
                b = f.read(1)
                f.seek(size // 3)
                f.write(bytes([b[0] ^ 0xFF]))
            hit.append(size)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", corrupting_fsync)
    with pytest.raises(ReadBackError, match="does not read back|differs"):
        store.write("ES1", "1m", new, operation="test")
    assert hit
    assert_untouched(settings, before, master, lines)


def test_a_backups_path_that_is_a_file_stops_the_write(store, settings, seeded):
    new, _, master, lines = seeded
    settings.backups_dir.write_text("in the way")
    before = folder_hash(settings.data_dir)
    with pytest.raises(BackupError):
        store.write("ES1", "1m", new, operation="test")
    assert folder_hash(settings.data_dir) == before
    assert_untouched(settings, before, master, lines)


def test_a_read_only_backups_folder_stops_the_write(store, settings, seeded):
    """Root ignores directory permissions, so as root (CI) the read-only backups folder is a
    symlink to sysfs, which refuses new files even to root; otherwise a 0500 folder."""
    new, _, master, lines = seeded
    as_root = os.geteuid() == 0
    if as_root:
        if not Path("/sys/kernel").is_dir():  # platform condition: root without Linux sysfs
            pytest.skip("running as root without /sys (Linux sysfs): no folder that root cannot write")
        settings.backups_dir.symlink_to("/sys/kernel", target_is_directory=True)
    else:
        settings.backups_dir.mkdir(exist_ok=True)
        settings.backups_dir.chmod(0o500)
    try:
        before = folder_hash(settings.data_dir)
        with pytest.raises(BackupError):
            store.write("ES1", "1m", new, operation="test")
        assert folder_hash(settings.data_dir) == before
    finally:
        if as_root:
            settings.backups_dir.unlink()
        else:
            settings.backups_dir.chmod(0o700)
    assert_untouched(settings, before, master, lines)


def test_a_manifest_that_cannot_be_appended_stops_the_write(store, settings, seeded):
    new, before, master, lines = seeded
    settings.backups_dir.mkdir(exist_ok=True)
    (settings.backups_dir / "manifest.jsonl").mkdir()  # appending to it fails for real
    before = folder_hash(settings.data_dir)
    with pytest.raises(BackupError):
        store.write("ES1", "1m", new, operation="test")
    assert_untouched(settings, before, master, lines)


# ---------------------------------------------------------------------------- crash loop

@pytest.mark.slow
def test_a_writer_killed_at_random_moments_always_leaves_a_or_b(settings, tmp_path):
    """>= 50 SIGKILLs at random moments of alternating A/B writes: the master is always A or B."""
    a = make_demo_bars(dt.date(2024, 1, 1), dt.date(2024, 10, 31), seed=11)
    b = a.with_columns([pl.col(c) + 0.25 for c in ("open", "high", "low", "close")])
    fa, fb = tmp_path / "a.parquet", tmp_path / "b.parquet"
    a.write_parquet(fa)
    b.write_parquet(fb)
    hashes = {content_sha256(a): "A", content_sha256(b): "B"}
    Store(settings).write("ES1", "1m", a, operation="test")
    master = settings.bar_path("ES1", "1m")
    rng = random.Random(20251122)
    seen, torn_moments, reconciled, deadline = [], 0, 0, time.monotonic() + 900
    i = 0
    # At least 50 kills, and more (up to 150) until at least 5 have landed mid-write: on a loaded
    # machine the writer's start-up eats more of the random delay.
    while i < 50 or (torn_moments < 5 and i < 150):
        i += 1
        p = worker("crash_writer.py", settings.data_dir, fa, fb, stdout=subprocess.PIPE)
        ready = p.stdout.readline().split()
        assert ready == ["ready", "0"], f"iteration {i}: writer saw orphans after the lock's clean-up: {ready}"
        time.sleep(rng.uniform(0.0, 0.7))
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        p.stdout.close()
        torn_moments += bool(tmp_files(settings))
        table = read_parquet_once(master)  # full decode, page checksums verified
        seen.append(hashes[content_sha256(table_to_bars(table))])  # KeyError = neither A nor B
        # The journal and the manifest: the next start repairs both. No intent stays open, its
        # outcome names what the file really holds, every copy in backups/ is in the manifest.
        Store(settings).recover()
        assert journal.pending(settings) == []
        last = journal.read(settings)[0]
        if last["outcome"].startswith("reconciled"):
            reconciled += 1
            applied = last["outcome"] == "reconciled: applied"
            assert hashes[last["sha256_after" if applied else "sha256_before"]] == seen[-1]
        listed = {Path(r.path).name for r in list_backups(settings)}
        assert {f.name for f in settings.backups_dir.glob("ES1_1m.*.parquet")} <= listed
        for f in settings.backups_dir.glob("ES1_1m.*.parquet"):  # keep the disk small
            f.unlink()
        (settings.backups_dir / "manifest.jsonl").unlink(missing_ok=True)
        assert time.monotonic() < deadline, f"crash loop took too long ({i} kills, {torn_moments} mid-write)"
    assert torn_moments >= 5, "too few kills landed in the middle of a write to prove anything"
    assert set(seen) == {"A", "B"}
    print(f"{i} kills, {torn_moments} mid-write, {reconciled} journal intents reconciled")
    # The next writer to run cleans every orphan up.
    Store(settings).write("ES1", "1m", a, operation="test")
    assert tmp_files(settings) == []
    assert hashes[content_sha256(Store(settings).read("ES1", "1m"))] == "A"


# ---------------------------------------------------------------------------- concurrency

def test_two_concurrent_read_modify_writers_lose_no_update(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    n = 12
    procs = [worker("rmw_writer.py", settings.data_dir, w, n, stdout=subprocess.PIPE) for w in (0, 1)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0 and out.strip() == "done"
    final = store.read("ES1", "1m")
    assert final.height == week_bars.height + 2 * n
    counts = dict(final.group_by("source").len().iter_rows())
    assert counts["w0"] == counts["w1"] == n
    assert journal_ops(settings) == 1 + 2 * n


@pytest.fixture
def lock_holder(settings):
    p = worker("hold_lock.py", settings.data_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout.readline().strip() == "locked"
    yield p
    p.stdin.close()
    p.wait(10)


def test_a_writer_that_cannot_get_the_lock_fails_with_locked_error(settings, week_bars, lock_holder):
    impatient = Store(dataclasses.replace(settings, lock_timeout=0.5))
    before = folder_hash(settings.data_dir)
    with pytest.raises(LockedError, match="locked by another writer") as err:
        impatient.write("ES1", "1m", week_bars, operation="test")
    assert err.value.exit_code == 3
    assert "holding for a test" in str(err.value)  # names who holds it
    assert folder_hash(settings.data_dir) == before


def test_the_demo_command_exits_3_while_another_process_holds_the_lock(settings, tmp_path, lock_holder):
    cfg = tmp_path / "datamgr.toml"
    cfg.write_text("lock_timeout = 0.5\n")
    before = folder_hash(settings.data_dir)
    r = subprocess.run([sys.executable, "-m", "datamgr", "--config", str(cfg), "--data-dir", str(settings.data_dir),
                        "demo", "--end", "2025-11-20", "--months", "1"],
                       cwd=REPO, env=ENV, capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "locked" in r.stderr and r.stdout == ""
    assert folder_hash(settings.data_dir) == before


def _append_in_thread(store: Store, worker: int, n: int, errors: list) -> None:
    base = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    try:
        for i in range(n):
            bar = pl.DataFrame({"datetime": [base + dt.timedelta(minutes=2 * i + worker)], "open": [1.0],
                                "high": [1.0], "low": [1.0], "close": [1.0], "volume": [1], "source": [f"t{worker}"]})
            with store.lock(f"thread {worker}"):
                cur = store.read("ES1", "1m")
                store.write("ES1", "1m", pl.concat([cur, bar.cast(cur.schema)]).sort("datetime"),
                            operation="append", backup=False)
    except BaseException as err:  # noqa: BLE001 - reported to the test
        errors.append(err)


def test_two_threads_of_one_process_doing_read_modify_writes_lose_no_update(store, settings, week_bars):
    """The app runs writes in background threads: the lock must exclude threads, not only processes."""
    import threading

    store.write("ES1", "1m", week_bars, operation="test")
    n, errors = 10, []
    threads = [threading.Thread(target=_append_in_thread, args=(Store(settings), w, n, errors)) for w in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    final = store.read("ES1", "1m")
    assert final.height == week_bars.height + 2 * n
    assert dict(final.group_by("source").len().iter_rows())["t1"] == n


def test_a_thread_that_cannot_get_the_lock_fails_with_locked_error(store, settings, week_bars):
    import threading

    impatient = Store(dataclasses.replace(settings, lock_timeout=0.3))
    errors: list = []

    def attempt() -> None:
        try:
            impatient.write("ES1", "1m", week_bars, operation="test")
        except BaseException as err:  # noqa: BLE001 - reported to the test
            errors.append(err)

    with store.lock("main thread"):
        t = threading.Thread(target=attempt)
        t.start()
        t.join(30)
    assert len(errors) == 1 and isinstance(errors[0], LockedError)
    assert not settings.bar_path("ES1", "1m").exists()
    # Reentrant for the thread that holds it: a write inside the lock goes through.
    with store.lock("outer"):
        assert store.write("ES1", "1m", week_bars, operation="test").written


def test_a_failing_folder_fsync_after_the_replace_reports_success_with_a_warning(
        store, settings, seeded, monkeypatch, caplog):
    """Once the verified file is in place the write has happened: it is journaled, not reported failed."""
    new, _, _, lines = seeded
    real_fsync = os.fsync

    def failing_dir_fsync(fd):
        if Path(_fd_name(fd)) == settings.data_dir.resolve():
            raise OSError(errno.EIO, "injected directory fsync failure")
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_dir_fsync)
    res = store.write("ES1", "1m", new, operation="test")
    assert res.written and store.read("ES1", "1m").equals(new)
    assert journal_len(settings) == lines + 2  # intent + completion
    assert "folder fsync failed" in caplog.text
