"""``continuity`` / ``health`` commands and the SOP wrapper, on real Parquet files in a tmp folder."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest

from datamgr.cli.main import main
from datamgr.core.config import Settings
from datamgr.ops.demo import PlantedGap, make_demo_bars
from datamgr.store.store import Store

ROOT = Path(__file__).resolve().parents[2]
ET = ZoneInfo("America/New_York")


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET).astimezone(dt.UTC)


GAPS_2008 = [
    PlantedGap(et(2008, 3, 4, 10, 0), et(2008, 3, 4, 10, 30)),    # 30 min: below --gap 48
    PlantedGap(et(2008, 5, 6, 11, 0), et(2008, 5, 6, 11, 48)),    # exactly 48
    PlantedGap(et(2008, 9, 15, 2, 0), et(2008, 9, 15, 5, 20)),    # 200 min
    PlantedGap(et(2008, 10, 9, 16, 30), et(2008, 10, 10, 16, 15)),  # the whole 2008-10-10 session
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data2008")
    s = Settings.load(data_dir=d, env={})
    bars = make_demo_bars(dt.date(2008, 1, 2), dt.date(2008, 12, 31), gaps=GAPS_2008, seed=1)
    Store(s).write("ES1", "1m", bars, operation="test")
    return d


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["--json", *argv])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_the_sop_continuity_command_works_as_written(folder):
    env = {**os.environ, "DATAMGR_DATA_DIR": str(folder)}
    proc = subprocess.run([sys.executable, "scripts/check_data_continuity.py", "ES1", "--year", "2008",
                           "--gap", "48"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr  # holes remain: the check fails
    lines = proc.stdout.splitlines()
    assert "3 gap(s) of >= 48 min" in lines[0]
    assert any("2008-05-06 11:00 ET" in x and "48" in x and "hole" in x for x in lines)
    assert not any("2008-03-04" in x for x in lines)


def test_continuity_json_lists_the_planted_gaps_of_at_least_n_minutes(folder, capsys):
    code, out = run_json(capsys, "--data-dir", str(folder), "continuity", "ES1", "--year", "2008", "--gap", "48")
    assert code == 1 and out["ok"] is False and out["holes"] == 3
    assert set(out) >= {"expected", "present", "outside_session", "gaps"}
    got = [(g["start"], g["missing"], g["class"]) for g in out["gaps"]]
    assert got == [("2008-05-06T11:00:00-04:00", 48, "hole"), ("2008-09-15T02:00:00-04:00", 200, "hole"),
                   ("2008-10-09T16:30:00-04:00", 60 + 1335, "hole")]
    assert out["gaps"][-1]["end"] == "2008-10-10T16:15:00-04:00"
    assert out["expected"] - out["present"] == 30 + 48 + 200 + 1395
    assert out["outside_session"] == 0


def test_continuity_from_to_narrows_the_days(folder, capsys):
    code, out = run_json(capsys, "--data-dir", str(folder), "continuity", "ES1", "--from", "2008-03-01",
                         "--to", "2008-03-31")
    assert code == 1  # a 30-minute hole in a liquid morning
    assert [(g["start"], g["missing"], g["class"]) for g in out["gaps"]] == [
        ("2008-03-04T10:00:00-05:00", 30, "hole")]
    assert out["gaps"][0]["p_no_trade"] < 1e-6


def test_continuity_of_a_month_without_gaps_exits_0(folder, capsys):
    code, out = run_json(capsys, "--data-dir", str(folder), "continuity", "ES1", "--from", "2008-04-01",
                         "--to", "2008-04-30")
    assert code == 0 and out["gaps"] == [] and out["coverage"] == 1.0


def test_a_year_without_bars_is_a_finding_with_exit_1(folder, capsys):
    code = main(["--data-dir", str(folder), "continuity", "ES1", "--year", "2011"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL: no bars in 2011" in out
    code, js = run_json(capsys, "--data-dir", str(folder), "continuity", "ES1", "--year", "2011")
    assert code == 1 and js["findings"][0].startswith("no bars in 2011") and js["present"] == 0


def test_health_fails_with_exit_1_when_holes_are_found(folder, capsys):
    code, out = run_json(capsys, "--data-dir", str(folder), "health", "ES1")
    assert code == 1
    assert out["ok"] is False
    assert len([p for p in out["problems"] if p.startswith("hole")]) == 4
    assert out["integrity"]["ok"] is True
    # the command reads the wall clock: its count is only checked for shape here; the number is
    # checked against a pinned clock below
    assert isinstance(out["staleness"]["sessions_behind"], int)


def test_health_staleness_against_a_pinned_clock(folder):
    from datamgr.health.report import check_health

    s = Settings.load(data_dir=folder, env={})
    early = check_health(s, "ES1", now=et(2009, 1, 2, 12, 0)).to_json()["staleness"]
    assert (early["sessions_behind"], early["expected_bars_behind"]) == (1, 1080)  # 18:00 ET Jan 1 .. noon
    week = check_health(s, "ES1", now=et(2009, 1, 9, 18, 0)).to_json()["staleness"]
    assert (week["sessions_behind"], week["expected_bars_behind"], week["next_bar"]) == (
        6, 8250, "2009-01-11T18:00:00-05:00")


def test_health_passes_on_a_complete_file(tmp_path, capsys):
    s = Settings.load(data_dir=tmp_path, env={})
    Store(s).write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6)), operation="test")
    code, out = run_json(capsys, "--data-dir", str(tmp_path), "health", "ES1")
    assert code == 0 and out["ok"] is True and out["problems"] == []


@pytest.mark.parametrize(("argv", "needle"), [
    (["continuity", "ES1", "--gap", "0"], "--gap"),
    (["continuity", "ES1", "--from", "2008-13-01"], "--from"),
    (["continuity", "ES1", "--from", "2008-06-01", "--to", "2008-05-01"], "--to"),
])
def test_bad_arguments_exit_2_with_a_message_naming_the_flag(folder, capsys, argv, needle):
    code = main(["--data-dir", str(folder), *argv])
    err = capsys.readouterr().err
    assert code == 2 and needle in err


def test_continuity_on_a_missing_file_exits_2_and_names_the_file(tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "continuity", "ES1"])
    assert code == 2 and "ES1_1m.parquet" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_health_on_a_missing_file_exits_2_and_names_the_file(tmp_path, capsys):
    code = main(["--data-dir", str(tmp_path), "health", "ES1"])
    assert code == 2 and "ES1_1m.parquet" in capsys.readouterr().err


def test_staleness_fails_only_beyond_the_instruments_tolerance(tmp_path, capsys):
    (tmp_path / "datamgr.toml").write_text("[instruments.ES1]\nstale_after_sessions = 3\n", encoding="utf-8")
    s = Settings.load(data_dir=tmp_path, config=tmp_path / "datamgr.toml", env={})
    assert s.instrument("ES1").stale_after_sessions == 3
    Store(s).write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6)), operation="test")
    code, out = run_json(capsys, "--config", str(tmp_path / "datamgr.toml"), "--data-dir", str(tmp_path),
                         "health", "ES1")
    assert code == 1 and any(p.startswith("stale beyond tolerance (3 sessions)") for p in out["problems"])
    code, out = run_json(capsys, "--data-dir", str(tmp_path), "health", "ES1")  # no tolerance set: a note
    assert code == 0 and any(n["kind"] == "stale" for n in out["notes"])


def test_an_unreadable_master_fails_the_check_with_exit_1(tmp_path, capsys):
    s = Settings.load(data_dir=tmp_path, env={})
    Store(s).write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6)), operation="test")
    p = s.bar_path("ES1", "1m")
    raw = bytearray(p.read_bytes())
    col = pq.ParquetFile(p).metadata.row_group(0).column(0)  # datetime: the column every check reads
    end = col.data_page_offset + col.total_compressed_size
    raw[end - 64:end] = b"\x00" * 64  # a torn page
    p.write_bytes(bytes(raw))
    for cmd in ("health", "continuity"):
        code = main(["--data-dir", str(tmp_path), cmd, "ES1"])
        assert code == 1 and "ES1_1m.parquet" in capsys.readouterr().err
