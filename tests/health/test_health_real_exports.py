"""The real exports through the CLI as a trader runs it: import, health, continuity, status,
derived JSON (issue 9's "done when")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from datamgr.cli.main import main
from tests.conftest import real_file


@pytest.fixture(scope="module")
def mes(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("mes")
    assert main(["--data-dir", str(d), "import", str(real_file("MES 09-25.Last.txt")), "MES1", "1m", "--tz", "UTC"]) == 0
    return d


def run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(["--json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_health_of_the_real_mes_export_passes_and_lists_every_missing_minute(mes, capsys):
    code, rep = run(capsys, "--data-dir", str(mes), "health", "MES1")
    assert code == 0 and rep["ok"] is True and rep["problems"] == []
    c = rep["continuity"]
    assert c["gap_counts"] == {"edge": 2, "quiet": 20} and c["holes"] == 0
    assert sum(g["missing"] for g in c["gaps"]) == c["expected"] - c["present"]
    assert all(isinstance(g["p_no_trade"], float) for g in c["gaps"])
    kinds = {n["kind"]: n["count"] for n in rep["notes"]}
    assert kinds["stray"] == 44 and kinds["quiet"] == 20


def test_continuity_of_the_real_mes_export_exits_0_with_p_no_trade(mes, capsys):
    code, c = run(capsys, "--data-dir", str(mes), "continuity", "MES1")
    assert code == 0 and c["ok"] is True
    inner = [g for g in c["gaps"] if g["class"] != "edge"]
    assert len(inner) == 20 and all(0.001 <= g["p_no_trade"] <= 1 for g in inner)


def test_inventory_and_health_show_the_same_coverage(mes, capsys):
    _, status = run(capsys, "--data-dir", str(mes), "status")
    master = next(f for f in status["files"] if f["name"] == "MES1_1m.parquet")
    _, rep = run(capsys, "--data-dir", str(mes), "health", "MES1")
    assert abs(master["coverage"] - rep["coverage"]["coverage"]) < 1e-4  # 0.01 %
    assert master["holes"] == rep["coverage"]["holes"] == 0
    assert master["coverage"] < 0.98  # 96.93 %: the 44 stray prints are not coverage
    assert not any(fl.startswith("gaps") for fl in master["flags"])


def test_a_year_without_bars_is_reported_and_fails(mes, capsys):
    code = main(["--data-dir", str(mes), "continuity", "MES1", "--year", "2008", "--gap", "48"])
    out = capsys.readouterr().out
    assert code == 1 and "no bars in 2008" in out


def test_the_last_partial_session_is_flagged_and_left_out_of_the_profiler_statistics(mes):
    hod = json.loads((mes / "MES1_daily_hod_lod.json").read_text())
    prof = json.loads((mes / "MES1_profiler.json").read_text())
    assert all(isinstance(d["partial"], bool) for d in hod["days"] + prof["days"])
    assert hod["days"][-1]["date"] == prof["days"][-1]["date"] == "2025-08-07"
    assert hod["days"][-1]["partial"] is True and prof["days"][-1]["partial"] is True  # ends 18:50 ET
    assert hod["days"][0]["partial"] is True                                            # starts 00:00 ET
    early = {d["date"] for d in hod["days"] if d["partial"]}
    assert {"2025-06-19", "2025-07-03", "2025-07-04"} <= early  # the calendar's early closes
    for name, s in prof["summary"].items():
        full = [d for d in prof["days"] if d.get(name) and not d["partial"]]
        part = [d for d in prof["days"] if d.get(name) and d["partial"]]
        assert s["days"] == len(full) and s["partial_days_excluded"] == len(part)
