"""``python -m datamgr.data_module --historical / --update / --test / --live`` and ``datamgr update --all``
against the loopback SmartAPI server (real subprocesses, wall clock: the server serves any NSE day)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from datamgr.cli.main import main
from datamgr.data_module.__main__ import translate
from tests.conftest import folder_hash
from tests.data_module.smartapi_rest import ENV, PIN, TOTP_SECRET

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, url: str, data: Path, extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAMGR_")}
    env.update(ENV, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p), DATAMGR_SMARTAPI_URL=url, DATAMGR_DATA_DIR=str(data), **(extra or {}))
    return subprocess.run([sys.executable, "-m", "datamgr.data_module", *args], cwd=data.parent, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_documents_flags_map_onto_the_cli_commands():
    assert translate(["--historical", "NIFTY", "99926000"]) == ["history", "fetch", "NIFTY", "99926000"]
    assert translate(["--historical", "NIFTY", "99926000", "FIFTEEN_MINUTE", "10", "--json"]) == [
        "--json", "history", "fetch", "NIFTY", "99926000", "FIFTEEN_MINUTE", "10"]
    assert translate(["--update", "NIFTY", "99926000", "FIVE_MINUTE"]) == ["history", "update", "NIFTY", "99926000",
                                                                           "FIVE_MINUTE"]
    assert translate(["--test", "--data-dir", "D"]) == ["--data-dir", "D", "history", "check"]
    assert translate(["--live"])[:4] == ["live", "start", "--source", "smartapi"]


def test_historical_update_and_test_flags_end_to_end(settings, smartapi):
    data = settings.data_dir
    r = run("--historical", "NIFTY", "99926000", "FIFTEEN_MINUTE", "10", "--json", url=smartapi.url, data=data)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["symbol"] == "NIFTY" and j["interval"] == "FIFTEEN_MINUTE" and j["rows"] > 0
    assert j["end"].endswith("+05:30") and Path(j["csv"]).is_file()
    r = run("--update", "NIFTY", "99926000", "FIFTEEN_MINUTE", url=smartapi.url, data=data)
    assert r.returncode == 0 and r.stdout.startswith("updated NIFTY FIFTEEN_MINUTE:"), r.stderr
    r = run("--test", url=smartapi.url, data=data)
    assert "NIFTY: NSE:99926000 on XNSE (Asia/Kolkata)" in r.stdout and "credentials: all set" in r.stdout
    for secret in (PIN, TOTP_SECRET):
        assert secret not in r.stdout + r.stderr


def test_cli_errors_name_the_problem_and_write_nothing(settings, smartapi):
    data = settings.data_dir
    before = folder_hash(data)
    r = run("--historical", "NIFTY", "99926000", url=smartapi.url, data=data, extra={"DATAMGR_SMARTAPI_PIN": "1"})
    assert r.returncode == 2 and "error: SmartAPI login of client T1234: Invalid PIN" in r.stderr
    r = run("--historical", "NIFTY", "12345", url=smartapi.url, data=data)
    assert r.returncode == 2 and "token '12345' is not NIFTY's SmartAPI token" in r.stderr
    r = run("--historical", "NIFTY", url=smartapi.url, data=data)
    assert r.returncode == 2 and "--historical takes SYMBOL TOKEN [INTERVAL DAYS]" in r.stderr
    assert folder_hash(data) == before
    assert PIN not in r.stderr


def test_update_all_updates_the_smartapi_instruments(settings, smartapi, monkeypatch, capsys):
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    code = main(["--data-dir", str(settings.data_dir), "--json", "update", "--all"])
    j = json.loads(capsys.readouterr().out)
    assert code == 0, j
    assert {r["ticker"] for r in j["results"]} == {"NIFTY", "BANKNIFTY"} and all(r["ok"] for r in j["results"])
    assert settings.bar_path("NIFTY", "1m").is_file() and settings.bar_path("BANKNIFTY", "1m").is_file()
    monkeypatch.setenv("DATAMGR_SMARTAPI_PIN", "wrong")
    code = main(["--data-dir", str(settings.data_dir), "--json", "update", "--all"])
    j = json.loads(capsys.readouterr().out)
    assert code in (0, 2) and (code == 0 or any("Invalid PIN" in r.get("error", "") for r in j["results"]))
