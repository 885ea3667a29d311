"""Remembered zones and guarded plans (issue 8 items 4-5), on the real MES export and windows of it.

Each refusal is checked to change nothing on disk (hash of the data folder and of datamgr.toml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import tomlkit

from datamgr.core.config import Settings
from datamgr.core.errors import CheckFailed, ConfigError, ConfirmationRequired
from datamgr.ingest.draft import ImportDraft
from datamgr.ops.import_export import commit, import_export
from datamgr.ops.remember import remember_zone
from datamgr.store.store import Store
from tests.conftest import folder_hash

ROOT = Path(__file__).resolve().parents[2]
MES = "MES 09-25.Last.txt"


def _lines(real_data_dir: Path) -> list[bytes]:
    return [ln for ln in (real_data_dir / MES).read_bytes().split(b"\r\n") if ln.strip()]


def _window(lines: list[bytes], a: int, b: int) -> bytes:
    return b"\r\n".join(lines[a:b]) + b"\r\n"


def _cli(*args, cwd: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMGR_")}
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=180, env=env)


def _tree_hash(root: Path) -> dict[str, str]:
    return folder_hash(root)


def test_after_verify_remember_the_sop_import_line_without_tz_imports_a_utc_export(real_data_dir, tmp_path):
    work = tmp_path / "desk"
    (work / "data").mkdir(parents=True)
    export = work / MES
    export.write_bytes((real_data_dir / MES).read_bytes())
    n = len(_lines(real_data_dir))
    sop_import = [str(ROOT / "scripts/import_ninjatrader.py"), MES, "MES1", "1m", "--data-dir", "data",
                  "--no-derived"]
    # before: the instrument's default zone (Los Angeles) is wrong for this UTC export
    before = _tree_hash(work)
    first = _cli(*sop_import, cwd=work)
    assert first.returncode == 1 and "fit UTC" in first.stderr
    assert _tree_hash(work) == before
    # one verify with --remember (in another working folder: the file is found next to the data folder)
    v = _cli(str(ROOT / "scripts/verify_import_alignment.py"), str(export), "MES1", "--tz", "UTC", "--remember",
             "--data-dir", str(work / "data"), "--json", cwd=tmp_path)
    assert v.returncode == 0, v.stderr
    vj = json.loads(v.stdout)
    assert vj["verdict"] == "SUCCESS" and vj["remembered"]["tz"] == "UTC" and vj["remembered"]["created"]
    toml = tomlkit.parse((work / "datamgr.toml").read_text())
    assert toml["instruments"]["MES1"]["import_tz"] == "UTC"
    assert toml["instruments"]["MES1"]["import_stamp"] == "close"
    journal = [json.loads(x) for x in (work / "data" / "journal.jsonl").read_text().splitlines()]
    assert journal[-1]["op"] == "remember_zone" and journal[-1]["details"]["previous"]["tz"] == "America/Los_Angeles"
    # the SOP line exactly as written (no --tz) now imports it
    again = _cli(*sop_import, "--json", cwd=work)
    assert again.returncode == 0, again.stderr
    j = json.loads(again.stdout)
    assert j["tz"] == "UTC" and j["new"] == n and j["written"]
    assert Store(Settings.load(data_dir=work / "data", env={})).read_meta("MES1", "1m").rows == n


def test_verify_without_remember_and_a_failed_verify_remember_nothing(real_data_dir, tmp_path):
    (tmp_path / "data").mkdir()
    f = tmp_path / MES
    f.write_bytes(_window(_lines(real_data_dir), 0, 8000))
    plain = _cli("-m", "datamgr", "verify", str(f), "MES1", "--tz", "UTC", "--data-dir", str(tmp_path / "data"),
                 cwd=ROOT)
    assert plain.returncode == 0 and not (tmp_path / "datamgr.toml").exists()
    wrong = _cli("-m", "datamgr", "verify", str(f), "MES1", "--tz", "America/Chicago", "--remember",
                 "--data-dir", str(tmp_path / "data"), cwd=ROOT)
    assert wrong.returncode == 1 and "not remembered" in wrong.stdout
    assert not (tmp_path / "datamgr.toml").exists()


def test_remember_keeps_comments_and_unknown_keys_and_other_instruments(tmp_path):
    cfg = tmp_path / "datamgr.toml"
    text = ('# my desk settings\ndisplay_tz = "America/New_York"  # keep\n\n[instruments.ES1]\n'
            '# the big one\nyahoo_symbol = "ES=F"\nimport_tz = "America/Los_Angeles"\n\n'
            '[instruments.MES1]\ntick_size = 0.25  # micro\n\n[future_section]\nanswer = 42\n')
    cfg.write_text(text)
    (tmp_path / "data").mkdir()
    s = Settings(data_dir=tmp_path / "data", config_path=cfg)  # the file has a key Settings does not know
    r = remember_zone(s, "MES1", "UTC", "close")
    out = cfg.read_text()
    for kept in ("# my desk settings", "# keep", "# the big one", "# micro", "[future_section]", "answer = 42",
                 'import_tz = "America/Los_Angeles"'):
        assert kept in out
    doc = tomlkit.parse(out)
    assert doc["instruments"]["MES1"]["import_tz"] == "UTC" and doc["instruments"]["MES1"]["tick_size"] == 0.25
    assert r.settings.instrument("MES1").import_tz == "UTC" and r.previous == ("America/Los_Angeles", "close")
    # a zone that does not exist is refused and the file is unchanged
    with pytest.raises(ConfigError):
        remember_zone(s, "MES1", "Mars/Olympus", "close")
    assert cfg.read_text() == out


def test_a_wrong_zone_plan_is_refused_without_yes_and_says_how_many_bars_change(real_data_dir, tmp_path):
    lines = _lines(real_data_dir)
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    import_export(s, "MES1", _window(lines, 0, 20_000), "seed.txt", tz="UTC", no_derived=True)
    f = tmp_path / MES
    f.write_bytes(_window(lines, 10_000, 30_000))
    before = folder_hash(d)
    # the verdict is overridden with --force, but the guard is not
    with pytest.raises(ConfirmationRequired) as err:
        import_export(s, "MES1", f.read_bytes(), MES, tz="America/Chicago", force=True, no_derived=True)
    assert "best whole-minute shift" in str(err.value) and err.value.count > 0
    assert folder_hash(d) == before
    cli = _cli("-m", "datamgr", "import", str(f), "MES1", "--tz", "America/Chicago", "--force", "--no-derived",
               "--data-dir", str(d), cwd=ROOT)
    assert cli.returncode == 1 and "--yes" in cli.stderr and f"({err.value.count:,} bars change)" in cli.stderr
    assert "confirm=" not in cli.stderr
    assert folder_hash(d) == before
    # the dry run shows the plan and what needs confirming, writes nothing
    dry = _cli("-m", "datamgr", "import", str(f), "MES1", "--tz", "America/Chicago", "--force", "--dry-run",
               "--json", "--data-dir", str(d), cwd=ROOT)
    assert dry.returncode == 0 and json.loads(dry.stdout)["confirm"]["required"]
    assert folder_hash(d) == before
    ok = _cli("-m", "datamgr", "import", str(f), "MES1", "--tz", "America/Chicago", "--force", "--yes",
              "--no-derived", "--json", "--data-dir", str(d), cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["written"]


def test_a_wide_replace_range_is_refused_without_yes(real_data_dir, tmp_path):
    lines = _lines(real_data_dir)
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    import_export(s, "MES1", _window(lines, 0, 30_000), "seed.txt", tz="UTC", no_derived=True)
    f = tmp_path / "part.txt"
    f.write_bytes(_window(lines, 0, 1_000))
    before = folder_hash(d)
    args = ["-m", "datamgr", "import", str(f), "MES1", "--tz", "UTC", "--replace", "2025-06-01..2025-12-31",
            "--no-derived", "--data-dir", str(d)]
    refused = _cli(*args, cwd=ROOT)
    assert refused.returncode == 1 and "removes 29,000 existing bars" in refused.stderr and "--yes" in refused.stderr
    assert folder_hash(d) == before
    # the same file without a range merges quietly (every bar identical)
    same = import_export(s, "MES1", f.read_bytes(), "part.txt", tz="UTC", no_derived=True)
    assert not same.written and not same.guard.required
    done = _cli(*args, "--yes", "--json", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["removed"] == 29_000
    assert Store(s).read_meta("MES1", "1m").rows == 1_000


def test_upgrading_lower_precedence_bars_is_not_guarded(real_data_dir, tmp_path):
    lines = _lines(real_data_dir)
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    draft = ImportDraft(s, _window(lines, 0, 5_000), "week.txt")
    yahoo = draft.placed("UTC", "close").bars.with_columns(pl.lit("yahoo").alias("source"),
                                                            (pl.col("volume") + 1).alias("volume"))
    Store(s).write("MES1", "1m", yahoo, operation="seed")
    plan = ImportDraft(s, _window(lines, 0, 5_000), "week.txt").plan("MES1", "UTC")
    assert plan.merge.replaced == 5_000 and not plan.guard.required
    assert commit(plan, no_derived=True).written


def test_commit_replans_when_the_master_changed_since_the_plan(real_data_dir, tmp_path):
    lines = _lines(real_data_dir)
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    draft = ImportDraft(s, _window(lines, 0, 3_000), "a.txt")
    plan = draft.plan("MES1", "UTC")
    assert plan.merge.new == 3_000
    import_export(s, "MES1", _window(lines, 2_000, 4_000), "b.txt", tz="UTC", no_derived=True)
    res = commit(plan, no_derived=True)  # planned on an empty master; written against the new one
    out = Store(s).read("MES1", "1m")
    assert res.written and out.height == 4_000 and res.plan.new == 2_000


def test_a_fail_verdict_plan_is_not_committed_without_force(real_data_dir, tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    plan = ImportDraft(s, _window(_lines(real_data_dir), 0, 20_000), MES).plan("MES1", "America/Chicago")
    before = folder_hash(d)
    with pytest.raises(CheckFailed):
        commit(plan, no_derived=True)
    assert folder_hash(d) == before


def test_an_undecided_window_passes_with_the_remembered_zone_and_a_note(real_data_dir, tmp_path):
    (tmp_path / "data").mkdir()
    s = Settings.load(data_dir=tmp_path / "data", env={})
    data = _window(_lines(real_data_dir), 100, 400)  # inside one session: no edge, no break, no overlap
    assert ImportDraft(s, data, "mid.txt").verify("MES1").verdict == "FAIL"  # default zone, undecided
    s2 = remember_zone(s, "MES1", "UTC", "close").settings
    rep = ImportDraft(s2, data, "mid.txt").verify("MES1")
    assert rep.verdict == "SUCCESS" and rep.zone_origin == "remembered" and rep.zone_decision == "undecided"
    assert any("remembered zone UTC" in n for n in rep.notes)
    # and from a fresh process: the file next to the data folder is found, the import line needs no --tz
    f = tmp_path / "mid.txt"
    f.write_bytes(data)
    imp = _cli(str(ROOT / "scripts/import_ninjatrader.py"), str(f), "MES1", "1m", "--no-derived", "--json",
               "--data-dir", str(tmp_path / "data"), cwd=ROOT)
    assert imp.returncode == 0, imp.stderr
    j = json.loads(imp.stdout)
    assert j["new"] == 300 and j["tz"] == "UTC" and j["zone_decision"] == "undecided"
