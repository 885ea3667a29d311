"""Write-ahead journal, full disks after the replace, torn JSONL lines, orphan backups (issue 11.4).

Full disks are real: the writer runs in a subprocess under RLIMIT_FSIZE, with the journal or the
manifest padded so that exactly the line under test crosses the limit (a real short write, the
way ENOSPC tears a line). Kills are real: a worker ``os._exit``s at a chosen step of the write.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from datamgr.cli.main import main
from datamgr.ops.demo import make_demo_bars
from datamgr.store import journal
from datamgr.store.backup import list_backups
from datamgr.store.store import Store, content_sha256
from tests.conftest import REPO, folder_hash

WORKERS = REPO / "tests" / "workers"
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
LIMIT = 600_000


def run_worker(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, env=ENV, capture_output=True, text=True,
                          timeout=120)


def lines_parse(path: Path) -> bool:
    for ln in path.read_text().splitlines():
        json.loads(ln)
    return True


@pytest.fixture
def two_contents(tmp_path):
    a = make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 4), seed=5)
    b = a.with_columns([pl.col(c) + 0.25 for c in ("open", "high", "low", "close")])
    fb = tmp_path / "b.parquet"
    b.write_parquet(fb)
    return a, b, fb


def pad_to(path: Path, size: int) -> None:
    """Append one valid JSON line so that ``path`` is exactly ``size`` bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cur = path.stat().st_size if path.is_file() else 0
    base = json.dumps({"id": "padding", "op": "padding", "file": "-", "outcome": "ok", "pad": ""})
    fill = size - cur - len(base) - 1
    assert fill > 0
    line = json.dumps({"id": "padding", "op": "padding", "file": "-", "outcome": "ok", "pad": "x" * fill})
    with open(path, "a") as f:
        f.write(line + "\n")
    assert path.stat().st_size == size


def line_lengths(settings, a, b, tmp_path) -> tuple[int, int]:
    """Byte lengths of the intent and completion lines the same write produces (measured on a copy)."""
    from datamgr.core.config import Settings

    d = tmp_path / "probe"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    Store(s).write("ES1", "1m", a, operation="test")
    n0 = s.journal_path.stat().st_size
    Store(s).write("ES1", "1m", b, operation="test")
    new = s.journal_path.read_bytes()[n0:].splitlines(keepends=True)
    assert json.loads(new[0])["outcome"] == "intent" and json.loads(new[1])["outcome"] == "ok"
    return len(new[0]), len(new[1])


def test_the_intent_line_is_durable_before_the_replace_and_the_completion_follows(store, settings, week_bars,
                                                                                 monkeypatch):
    store.write("ES1", "1m", week_bars, operation="test")
    seen = []
    real = os.replace

    def spy(src, dst):
        if Path(dst).name == "ES1_1m.parquet":
            seen.append(json.loads(settings.journal_path.read_text().splitlines()[-1]))
        return real(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    res = store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + 1), operation="test")
    assert seen and seen[0]["outcome"] == "intent" and seen[0]["id"] == res.op_id
    last = json.loads(settings.journal_path.read_text().splitlines()[-1])
    assert last["id"] == res.op_id and last["outcome"] == "ok"
    assert journal.pending(settings) == []


@pytest.mark.parametrize("moment,outcome", [("before-replace", "reconciled: not applied"),
                                            ("after-replace", "reconciled: applied")])
def test_a_writer_killed_between_intent_and_completion_is_reconciled_by_the_next_command(
        settings, two_contents, moment, outcome, capsys):
    a, b, fb = two_contents
    Store(settings).write("ES1", "1m", a, operation="test")
    p = run_worker(WORKERS / "die_mid_write.py", settings.data_dir, fb, moment)
    assert p.returncode == 9, p.stderr
    pending = journal.pending(settings)
    assert len(pending) == 1
    assert main(["--data-dir", str(settings.data_dir), "status"]) == 0  # any command
    assert journal.pending(settings) == []
    entry = journal.read(settings)[0]
    assert entry["id"] == pending[0]["id"] and entry["outcome"] == outcome
    want = b if moment == "after-replace" else a
    assert content_sha256(Store(settings).read("ES1", "1m")) == content_sha256(want)


def test_a_full_disk_on_the_journal_after_the_replace_reports_success_and_leaves_no_torn_line(
        settings, two_contents, tmp_path):
    a, b, fb = two_contents
    intent_len, done_len = line_lengths(settings, a, b, tmp_path)
    Store(settings).write("ES1", "1m", a, operation="test")
    pad_to(settings.journal_path, LIMIT - intent_len - done_len // 2)  # intent fits, completion is torn
    p = run_worker(WORKERS / "write_bars.py", settings.data_dir, fb, LIMIT)
    assert p.returncode == 0, p.stderr  # the master changed: success (with a warning), never exit 2
    assert "journal completion line failed" in p.stderr
    assert content_sha256(Store(settings).read("ES1", "1m")) == content_sha256(b)
    assert lines_parse(settings.journal_path)  # cut back: no torn line
    assert len(journal.pending(settings)) == 1
    assert main(["--data-dir", str(settings.data_dir), "status"]) == 0
    assert journal.read(settings)[0]["outcome"] == "reconciled: applied"


def test_a_full_disk_on_the_intent_line_changes_nothing(settings, two_contents, tmp_path):
    a, b, fb = two_contents
    intent_len, _ = line_lengths(settings, a, b, tmp_path)
    Store(settings).write("ES1", "1m", a, operation="test")
    pad_to(settings.journal_path, LIMIT - intent_len // 2)
    master, jbytes = settings.bar_path("ES1", "1m").read_bytes(), settings.journal_path.read_bytes()
    p = run_worker(WORKERS / "write_bars.py", settings.data_dir, fb, LIMIT)
    assert p.returncode == 2, p.stderr
    assert settings.bar_path("ES1", "1m").read_bytes() == master
    assert settings.journal_path.read_bytes() == jbytes


def test_a_full_disk_on_the_manifest_stops_the_write_and_leaves_no_torn_line_nor_orphan_copy(
        settings, two_contents):
    a, b, fb = two_contents
    Store(settings).write("ES1", "1m", a, operation="test")
    man = settings.backups_dir / "manifest.jsonl"
    pad_to(man, LIMIT - 100)  # the next manifest line (~300 bytes) is torn by the limit
    before = folder_hash(settings.data_dir)
    p = run_worker(WORKERS / "write_bars.py", settings.data_dir, fb, LIMIT)
    assert p.returncode == 2, p.stderr
    assert folder_hash(settings.data_dir) == before  # master, journal, manifest and backups/ as they were
    assert lines_parse(man)


def test_a_torn_manifest_line_is_skipped_with_a_warning_and_prune_still_works(store, settings, week_bars,
                                                                             caplog, capsys):
    store.write("ES1", "1m", week_bars, operation="test")
    for i in range(3):
        store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + i + 1), operation="test")
    man = settings.backups_dir / "manifest.jsonl"
    with open(man, "ab") as f:
        f.write(b'{"path": "backups/ES1_1m.2025')  # a kill mid-append
    assert len(list_backups(settings)) == 3
    assert "torn or not JSON" in caplog.text
    assert main(["--data-dir", str(settings.data_dir), "backup", "prune", "--yes"]) == 0
    assert main(["--data-dir", str(settings.data_dir), "backup", "list"]) == 0


def test_a_backup_left_out_of_the_manifest_by_a_crash_is_adopted_by_the_next_writer(store, settings, week_bars):
    store.write("ES1", "1m", week_bars, operation="test")
    store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + 1), operation="test")
    rec = list_backups(settings)[0]
    orphan = settings.backups_dir / "ES1_1m.20250101T000000Z.parquet"
    orphan.write_bytes((settings.data_dir / rec.path).read_bytes())  # copied, renamed, then killed
    store.write("ES1", "1m", week_bars.with_columns(pl.col("volume") + 2), operation="test")
    adopted = [r for r in list_backups(settings) if r.path == "backups/" + orphan.name]
    assert len(adopted) == 1 and adopted[0].rows == week_bars.height and adopted[0].source == "ES1_1m.parquet"
    assert adopted[0].reason.startswith("adopted")
