"""Browser tests: a real Streamlit server and Debian's chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("DATAMGR_CHROMIUM", "/usr/bin/chromium")
PAGE_TIMEOUT_MS = 30_000  # one timeout for page actions *and* Playwright's expect() (5 s by default)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """A running ``streamlit run streamlit_app.py`` on a data folder (also ``benchmarks/bench_pages.py``'s server).

    ``code`` is the checkout whose app is served (the benchmark's ``--code`` serves another one);
    the server's output goes to ``log`` (default: ``streamlit.log`` next to the data folder).
    """

    def __init__(self, data_dir: Path, log: Path | None = None, code: Path = REPO) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        log = log or data_dir.parent / "streamlit.log"
        env = {**os.environ, "DATAMGR_DATA_DIR": str(data_dir),
               "PYTHONPATH": os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)}
        self.log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(code / "streamlit_app.py"),
             "--server.headless", "true", "--server.port", str(self.port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=code, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)  # polling the server's health endpoint while it starts
        self.stop()
        raise RuntimeError("streamlit did not start: " + log.read_text(errors="replace"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def app_factory(tmp_path: Path):
    apps: list[App] = []

    def make(data_dir: Path | None = None) -> App:
        d = data_dir or tmp_path / "data"
        d.mkdir(exist_ok=True)
        a = App(d)
        apps.append(a)
        return a

    yield make
    for a in apps:
        a.stop()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} not installed (apt-get install chromium)"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):  # .ci/run installs it
            pytest.fail(msg + "; CI=true requires the browser tests", pytrace=False)
        pytest.skip(msg + "; outside CI only")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(PAGE_TIMEOUT_MS)
    expect.set_options(timeout=PAGE_TIMEOUT_MS)  # expect() waits as long as the page's own calls (not 5 s)
    yield pg
    ctx.close()
