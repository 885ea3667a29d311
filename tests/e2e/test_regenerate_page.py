"""Browser test: open the Regenerate page, run a regeneration, watch the progress finish."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from datamgr.config import Settings
from datamgr.demo import make_demo_bars
from datamgr.derived.regenerate import stale_outputs
from datamgr.store import Store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def regen_server(tmp_path):
    data = tmp_path / "data"
    settings = Settings.load(data_dir=data, env={})
    Store(settings).write("ES1", "1m", make_demo_bars(dt.date(2024, 2, 1), dt.date(2024, 3, 8)), operation="import")
    port = _free_port()
    env = {**os.environ, "DATAMGR_DATA_DIR": str(data)}
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.25)
        yield url, settings
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_running_a_regeneration_in_the_browser_shows_progress_until_it_finishes(regen_server):
    from playwright.sync_api import expect, sync_playwright

    url, settings = regen_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--headless", "--disable-gpu",
                                           "--disable-background-networking"])
        try:
            page = browser.new_page()
            page.goto(f"{url}/regenerate")
            expect(page.get_by_text("8 derived output(s) do not follow the master")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Run regeneration").click()
            expect(page.get_by_text("Regeneration finished")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("All derived data follows the 1m master.")).to_be_visible(timeout=30_000)
        finally:
            browser.close()
    assert stale_outputs(settings, "ES1") == []
