"""``python -m datamgr live {start,stop,status} --json``."""

from __future__ import annotations

import json

from datamgr.cli.main import main
from datamgr.live import files


def _run(capsys, *argv: str) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_live_cli_starts_reports_and_stops_a_detached_feed_as_json(master, feeds, capsys):
    settings, _ = master
    d = str(settings.data_dir)
    feeds(settings)  # cleans up whatever the CLI started, even if an assertion fails
    code, started = _run(capsys, "--data-dir", d, "live", "start", "--json", "--interval", "0.1", "--speed", "600")
    assert code == 0 and started["started"] is True and started["running"] is True
    assert started["source"] == "replay" and started["symbols"] == ["ES1"] and isinstance(started["pid"], int)
    from datamgr.live.controller import LiveDataFeed

    assert LiveDataFeed(settings).wait_for_data(timeout=10)
    code, status = _run(capsys, "live", "status", "--json", "--data-dir", d)
    assert code == 0 and status["running"] and status["pid"] == started["pid"] and status["fresh"]
    assert status["data"][0]["trading_symbol"] == "ES1" and status["data_timestamp"].endswith(("-05:00", "-04:00"))
    code, again = _run(capsys, "--data-dir", d, "live", "start", "--json")
    assert code == 3 and again["started"] is False and again["pid"] == started["pid"]
    code, stopped = _run(capsys, "--data-dir", d, "live", "stop", "--json")
    assert code == 0 and stopped == {"stopped": True, "pid": started["pid"]}
    assert not files.pid_alive(started["pid"])
    code, status = _run(capsys, "--data-dir", d, "live", "status", "--json")
    assert status["running"] is False and status["fresh"] is False and status["state"] == "stopped"
    code, stopped = _run(capsys, "--data-dir", d, "live", "stop", "--json")
    assert code == 0 and stopped["stopped"] is False


def test_live_cli_start_without_a_master_exits_2_naming_the_missing_file(settings, capsys):
    code = main(["--data-dir", str(settings.data_dir), "live", "start", "--symbols", "NQ1"])
    assert code == 2
    assert "NQ1_1m.parquet" in capsys.readouterr().err
    assert not settings.live_dir.exists()


def test_live_cli_text_status_says_stopped_on_an_empty_folder(settings, capsys):
    assert main(["--data-dir", str(settings.data_dir), "live", "status"]) == 0
    assert capsys.readouterr().out.strip() == "feed: stopped"


def test_live_cli_refuses_a_zero_interval_naming_the_option(master, capsys):
    settings, _ = master
    code = main(["--data-dir", str(settings.data_dir), "live", "start", "--interval", "0"])
    assert code == 2
    assert "--interval must be at least 0.01" in capsys.readouterr().err
    assert not files.live_path(settings, files.PID_FILE).exists()
