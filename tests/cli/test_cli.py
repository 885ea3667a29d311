"""``python -m datamgr``: JSON output, exit codes, global flags anywhere."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from datamgr.cli.main import main
from datamgr.core.config import Settings
from datamgr.ops.demo import write_demo
from tests.conftest import folder_hash

REPO = Path(__file__).resolve().parents[2]
STATUS_KEYS = {"name", "category", "ticker", "timeframe", "start", "end", "last_updated", "size_bytes", "rows",
               "flags"}
END = "2025-11-20"


def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMGR_")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "datamgr", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def et_offset(value: str) -> str:
    return dt.datetime.fromisoformat(value).strftime("%z")


@pytest.fixture
def demo_dir(settings):
    write_demo(settings, "ES1", months=1, end=dt.date.fromisoformat(END), derived=False)
    return settings.data_dir


def test_status_json_prints_one_object_with_the_spec_keys_in_eastern_time(demo_dir):
    r = run("status", "--json", "--data-dir", str(demo_dir))
    assert r.returncode == 0, r.stderr
    payload = json.loads(r.stdout)  # exactly one JSON document on stdout
    assert r.stdout.count("\n") == 1
    (f,) = payload["files"]
    assert STATUS_KEYS <= set(f)
    assert (f["name"], f["category"], f["ticker"], f["timeframe"]) == ("ES1_1m.parquet", "market", "ES1", "1m")
    meta = Settings.load(data_dir=demo_dir, env={})
    from datamgr.store.store import Store
    footer = Store(meta).read_meta("ES1", "1m")
    assert f["rows"] == footer.rows and f["size_bytes"] == footer.size_bytes
    assert dt.datetime.fromisoformat(f["start"]) == footer.start
    assert dt.datetime.fromisoformat(f["end"]) == footer.end
    for key in ("start", "end", "last_updated"):
        assert et_offset(f[key]) in ("-0500", "-0400"), f[key]
    assert et_offset(f["end"]) == "-0500"  # 2025-11-20 is EST
    assert any("demo data" in fl for fl in f["flags"])


def test_status_on_an_empty_folder_says_how_to_start(tmp_path):
    r = run("--data-dir", str(tmp_path), "status")
    assert r.returncode == 0 and "python -m datamgr demo" in r.stdout
    r = run("--data-dir", str(tmp_path), "status", "--json")
    assert json.loads(r.stdout)["files"] == []


def test_demo_writes_demo_bars_and_the_journal_lists_the_write(tmp_path):
    d = tmp_path / "data"
    r = run("demo", "--data-dir", str(d), "--end", END, "--months", "1", "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["written"] is True and res["rows"] > 20_000
    assert Path(res["path"]) == d / "ES1_1m.parquet"
    before = folder_hash(d)
    again = run("--json", "--data-dir", str(d), "demo", "--end", END, "--months", "1")
    assert again.returncode == 0 and json.loads(again.stdout)["written"] is False
    assert folder_hash(d) == before
    j = run("journal", "--json", "--data-dir", str(d))
    assert j.returncode == 0, j.stderr
    entries = json.loads(j.stdout)["entries"]
    (entry,) = [e for e in entries if e["op"] == "demo"]
    assert (entry["op"], entry["file"], entry["rows_after"], entry["outcome"]) == (
        "demo", "ES1_1m.parquet", res["rows"], "ok")
    # demo also brings the derived outputs up to date (upsampled bars and analysis JSON are journaled too)
    assert {e["file"] for e in entries if e["op"] == "regenerate"} == {
        "ES1_5m.parquet", "ES1_15m.parquet", "ES1_1h.parquet", "ES1_4h.parquet", "ES1_daily_hod_lod.json",
        "ES1_profiler.json", "ES1_level_touches.json", "web/ES1/index.json"}
    assert et_offset(entry["time"]) in ("-0500", "-0400")


def test_journal_text_lists_operations_newest_first(demo_dir, capsys):
    assert main(["--data-dir", str(demo_dir), "journal"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["time", "op", "file"]
    assert "demo" in out and "ES1_1m.parquet" in out and " ET " in out


@pytest.mark.parametrize("argv", [
    [],                                         # no command
    ["bogus"],                                  # unknown command
    ["status", "--bogus"],                      # unknown flag
    ["demo", "--months", "many"],               # bad value
    ["demo", "--end", "2025-13-40"],            # bad date
    ["--data-dir"],                             # flag without its value
])
def test_usage_errors_exit_2_and_write_nothing(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATAMGR_DATA_DIR", raising=False)
    try:
        code = main(argv)  # "no command" prints the help and returns 2
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    assert code == 2
    assert capsys.readouterr().err  # the reason is on stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "needle"), [
    (["demo", "../x"], "invalid ticker"),
    (["--config", "missing.toml", "status"], "missing.toml"),
])
def test_bad_input_exits_2_naming_the_problem(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--data-dir", str(tmp_path / "data"), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and needle in err
    assert not (tmp_path / "data").exists() or folder_hash(tmp_path / "data") == {}


def test_a_bad_config_file_exits_2_in_a_subprocess_naming_file_and_key(tmp_path):
    cfg = tmp_path / "datamgr.toml"
    cfg.write_text("[backup]\nkeep_lst = 3\n")
    r = run("status", "--config", str(cfg), "--data-dir", str(tmp_path))
    assert r.returncode == 2 and str(cfg) in r.stderr and "keep_lst" in r.stderr and r.stdout == ""


@pytest.mark.parametrize("argv", [
    ["--json", "--data-dir", "{d}", "status"],
    ["status", "--json", "--data-dir", "{d}"],
    ["--json", "status", "--data-dir", "{d}"],
    ["--data-dir", "{d}", "status", "--json"],
])
def test_global_flags_work_before_or_after_the_command(argv, demo_dir, capsys):
    assert main([a.format(d=demo_dir) for a in argv]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["name"] == "ES1_1m.parquet"


def test_global_flags_after_a_command_with_a_positional_argument(tmp_path, capsys):
    d = tmp_path / "data"
    assert main(["demo", "NQ1", "--data-dir", str(d), "--end", END, "--months", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["path"] == str(d / "NQ1_1m.parquet")
    assert (d / "NQ1_1m.parquet").is_file() and not (d / "ES1_1m.parquet").exists()


def test_the_data_dir_flag_wins_over_the_environment(demo_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(tmp_path / "elsewhere"))
    assert main(["status", "--json", "--data-dir", str(demo_dir)]) == 0
    assert len(json.loads(capsys.readouterr().out)["files"]) == 1
    assert main(["status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == []
