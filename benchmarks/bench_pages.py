"""Benchmark (issue 13, row 7): first render and warm re-render of Inventory and Health in a browser.

A real ``streamlit run streamlit_app.py`` (headless) and Debian's chromium driven by Playwright,
the way a person uses the app. Figures (seconds, wall clock seen by the browser):

* ``server_cold``: the first page a freshly started server renders (Python imports included);
  only for information, the goals are on a warm server.
* ``first``: the first render of a page on a folder this server has not answered for yet, on a
  warm server (the server has already rendered Inventory and Health once, on another folder): from
  the click on the page's link in the sidebar to the page's last element drawn (plots included)
  and the script run finished. The folder is a fresh copy of ``datamgr demo ES1``'s result, so the
  on-disk caches are what the demo command left.
* ``rerun``: the same page again after a widget interaction that changes no answer's inputs (the
  sidebar's **Switch folder** to the folder already shown), until the run has finished and the
  page is drawn.
* ``filter`` (Health): a widget interaction that asks a new question of a cached report (the
  minimum-gap filter).

Goals (issue 13): Inventory and Health ``first`` on the demo folder under 1.5 s; Health ``first``
on an 18-year master under 3 s. No figure is asserted anywhere: tests/e2e/test_page_timings.py
runs the same measurement and reports it.

Usage::

    python benchmarks/bench_pages.py                # demo folder x3, Health on an 18-year master
    python benchmarks/bench_pages.py --years 0      # demo folder only
    python benchmarks/bench_pages.py --json out.json
    python benchmarks/bench_pages.py --code ../main   # the app of another checkout ("before")

The 18-year master (``make_demo_bars`` 2008-2025, ~6.4 M bars, written through the store) is built
once under ``benchmarks/.cache/`` (about 20 s; then scanned once like ``status`` does, so its
session calendar and coverage are cached on disk as in a folder in use) and copied for each run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402 - the browser tests' launcher and browser
from tests.e2e.conftest import App as Server  # noqa: E402

DEMO_END = dt.date(2025, 11, 20)
TIMEOUT_MS = 180_000
RETRY_S = 15
log = logging.getLogger(__name__)

#: the page is drawn: the run has finished, no skeleton is left, the page's heading and its last
#: element are there, and every plotly chart has drawn its SVG
READY_JS = """([heading, last]) => {
  const app = document.querySelector('[data-testid=stApp]');
  if (!app || app.dataset.testScriptState !== 'notRunning') return false;
  if (document.querySelector('[data-testid=stSkeleton]')) return false;
  const main = document.querySelector('[data-testid=stMain]');
  if (!main) return false;
  const h1 = [...main.querySelectorAll('h1')].map(h => h.textContent || '');
  if (!h1.some(t => t.startsWith(heading))) return false;
  if (!(main.innerText || '').includes(last)) return false;
  return [...main.querySelectorAll('[data-testid=stPlotlyChart]')].every(c => c.querySelector('.main-svg'));
}"""

#: counts finished script runs from now on (a run flips the app's script state to "running" and back)
COUNT_RUNS_JS = """() => {
  window.__dmRuns = 0;
  if (window.__dmObserver) window.__dmObserver.disconnect();
  const app = document.querySelector('[data-testid=stApp]');
  window.__dmObserver = new MutationObserver(records => {
    for (const r of records) if (r.oldValue === 'running') window.__dmRuns += 1;
  });
  window.__dmObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state'],
                                    attributeOldValue: true});
}"""

#: (heading prefix, text of the page's last element)
PAGES = {"Inventory": ("Inventory", "Last bars"), "Health": ("Health", "Information, never a failure."),
         "Journal": ("Journal", "")}


# ---------------------------------------------------------------------- data folders
def demo_template(cache: Path) -> Path:
    """``datamgr demo ES1`` (3 months to 2025-11-20) once; each measured folder is a copy."""
    from datamgr.core.config import Settings
    from datamgr.ops.demo import write_demo

    folder = cache / "pages_demo"
    if not (folder / "ES1_1m.parquet").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        write_demo(Settings.load(data_dir=folder, env={}), "ES1", end=DEMO_END)
    return folder


def long_master(cache: Path, years: int) -> Path:
    """A folder with one ``years``-year ES1 1m master (no derived files), built once."""
    from datamgr.core.config import Settings
    from datamgr.ops.demo import make_demo_bars
    from datamgr.ops.inventory import scan
    from datamgr.store.store import Store

    folder = cache / f"pages_master_{years}y"
    if not (folder / "ES1_1m.parquet").is_file():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        t0 = time.perf_counter()
        bars = make_demo_bars(dt.date(2025 - years + 1, 1, 2), dt.date(2025, 12, 31), seed=2008, source="ninjatrader")
        settings = Settings.load(data_dir=folder, env={})
        Store(settings).write("ES1", "1m", bars, operation="benchmark", backup=False)
        scan(settings)  # the folder as after one ``status`` or Inventory: session calendar and coverage cached
        print(f"built {folder} ({bars.height:,} bars) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return folder


def copy_folder(src: Path, dst: Path) -> Path:
    """A fresh copy (new paths, new inodes: nothing of it is in the server's answers yet)."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".datamgr.lock*"))
    return dst


# ---------------------------------------------------------------------- measuring
def _ready(page, name: str) -> None:
    page.wait_for_function(READY_JS, arg=list(PAGES[name]), timeout=TIMEOUT_MS)


def open_page(page, name: str) -> float:
    """Click ``name`` in the sidebar's navigation; seconds until the page is drawn."""
    link = page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name, exact=True)
    t0 = time.perf_counter()
    link.click()
    _ready(page, name)
    return time.perf_counter() - t0


def rerun(page, name: str, trigger=None) -> float:
    """A rerun of the page shown, on unchanged files: a click on the sidebar's **Switch folder**
    with the folder already shown (a widget interaction that changes no answer's inputs), or
    ``trigger()``; seconds until the page is drawn again.

    A click that starts no run within :data:`RETRY_S` (seen on a loaded machine: the click lands
    while the frontend is still settling) is repeated once; that step's time then includes the wait.
    """
    page.evaluate(COUNT_RUNS_JS)
    side = page.locator('[data-testid="stSidebar"]')
    if trigger is None:
        if not side.get_by_label("Folder path").is_visible():
            side.get_by_text("Data folder").click()  # opening the expander is not timed (no rerun)
        button = side.get_by_role("button", name="Switch folder")
        button.wait_for(state="visible")
        trigger = button.click
    t0 = time.perf_counter()
    trigger()
    try:
        page.wait_for_function("() => window.__dmRuns >= 1 || document.querySelector('[data-testid=stApp]')"
                               ".dataset.testScriptState === 'running'", timeout=RETRY_S * 1000)
    except PlaywrightTimeout:
        log.warning("bench_pages: no run started %.0f s after the %s rerun's trigger; triggering again",
                    RETRY_S, name)
        trigger()
    page.wait_for_function("() => window.__dmRuns >= 1", timeout=TIMEOUT_MS)
    _ready(page, name)
    return time.perf_counter() - t0


def switch_folder(page, folder: Path) -> None:
    """The sidebar's data-folder switcher (this browser session only), then wait for the rerun."""
    side = page.locator('[data-testid="stSidebar"]')
    field = side.get_by_label("Folder path")
    if not field.is_visible():
        side.get_by_text("Data folder").click()
    field.fill(str(folder))
    field.press("Enter")  # commit the text before the button's click
    page.evaluate(COUNT_RUNS_JS)
    side.get_by_role("button", name="Switch folder").click()
    page.wait_for_function("() => window.__dmRuns >= 1", timeout=TIMEOUT_MS)
    page.wait_for_function("() => document.querySelector('[data-testid=stApp]').dataset.testScriptState"
                           " === 'notRunning'", timeout=TIMEOUT_MS)
    expect_text = str(folder)
    page.wait_for_function("(t) => (document.querySelector('[data-testid=stSidebar]').innerText || '')"
                           ".includes(t)", arg=expect_text, timeout=TIMEOUT_MS)


def _next_min_gap(page):
    """A new value of Health's minimum-gap filter (one more than shown): always a new question."""
    def trigger() -> None:
        box = page.get_by_label("Minimum missing minutes")
        box.fill(str(int(box.input_value() or "1") + 1))
        box.press("Enter")
    return trigger


class Probe:
    """What one measured step cost: browser wall time, the server's CPU time, answers computed."""

    def __init__(self, server_pid: int | None = None, log: Path | None = None) -> None:
        self.pid, self.log = server_pid, log
        self._minute = int(time.time() // 60)  # when the previous step began

    def cpu(self) -> float | None:
        """User + system CPU seconds of the server process so far (Linux ``/proc``), or None."""
        if self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def computed(self) -> list[tuple[str, float]]:
        """``(kind, seconds)`` of every answer the server has computed so far (its log lines
        ``answer KIND computed in S s``)."""
        if self.log is None or not self.log.is_file():
            return []
        return [(k, float(v)) for k, v in re.findall(r"answer (\w+) computed in ([\d.]+) s",
                                                      self.log.read_text(errors="replace"))]

    def step(self, name: str, fn) -> dict:
        c0, n0 = self.cpu(), len(self.computed())
        m0, self._minute = self._minute, int(time.time() // 60)
        try:
            wall = fn()
        except Exception as err:
            err.add_note(f"bench_pages: during the step {name!r}")
            raise
        c1 = self.cpu()
        new = self.computed()[n0:]
        return {"wall": round(wall, 3), "server_cpu": None if c0 is None or c1 is None else round(c1 - c0, 3),
                "computed": [k for k, _ in new], "compute_s": round(sum(v for _, v in new), 3),
                # a minute boundary since the previous step began: answers keyed by the minute
                # (computed in that step or this one) are renewed, rightly
                "minute_changed": int(time.time() // 60) != m0}


def measure(browser, url: str, demo_folders: list[Path], big: Path | None = None, probe: Probe | None = None,
            *, filter_step: bool = True) -> dict:
    """Every figure on a running server whose default folder is none of the measured ones.

    Parameters
    ----------
    browser : playwright Browser
    url : str
        The running app.
    demo_folders : list of Path
        Fresh copies of the demo folder, one sample each (not the server's default folder).
    big : Path, optional
        A folder with a long ES1 master: Health's first render and rerun on it.
    probe : Probe, optional
        The server's pid and log, for its CPU time and the answers computed in each step.
    filter_step : bool
        Measure Health's filter change too.

    Returns
    -------
    dict
        ``{"server_cold": {...}, "samples": [{step: {"wall", "server_cpu", "computed"}}], "big": {...}}``
    """
    probe = probe or Probe()
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    out: dict = {"server_cold": {}, "samples": [], "big": {}}

    def goto() -> float:
        t0 = time.perf_counter()
        page.goto(url, wait_until="commit")
        _ready(page, "Inventory")
        return time.perf_counter() - t0
    try:
        out["server_cold"]["inventory"] = probe.step("inventory", goto)
        out["server_cold"]["health"] = probe.step("health", lambda: open_page(page, "Health"))  # Health's imports too
        open_page(page, "Journal")  # folders are switched on a page that computes no answer
        for folder in demo_folders:
            switch_folder(page, folder)
            sample = {"folder": str(folder)}
            sample["inventory_first"] = probe.step("inventory_first", lambda: open_page(page, "Inventory"))
            sample["inventory_rerun"] = probe.step("inventory_rerun", lambda: rerun(page, "Inventory"))
            sample["health_first"] = probe.step("health_first", lambda: open_page(page, "Health"))
            sample["health_rerun"] = probe.step("health_rerun", lambda: rerun(page, "Health"))
            if filter_step:
                sample["health_filter"] = probe.step("health_filter",
                                                     lambda: rerun(page, "Health", _next_min_gap(page)))
            sample["inventory_again"] = probe.step("inventory_again", lambda: open_page(page, "Inventory"))
            out["samples"].append(sample)
            open_page(page, "Journal")
        if big is not None:
            switch_folder(page, big)
            out["big"]["health_first"] = probe.step("big_health_first", lambda: open_page(page, "Health"))
            out["big"]["health_rerun"] = probe.step("big_health_rerun", lambda: rerun(page, "Health"))
    finally:
        ctx.close()
    out["median"] = {k: statistics.median(s[k]["wall"] for s in out["samples"])
                     for k in STEPS if out["samples"] and k in out["samples"][0]}
    return out


STEPS = ("inventory_first", "inventory_rerun", "health_first", "health_rerun", "health_filter", "inventory_again")


def _f(step: dict) -> str:
    cpu = step.get("server_cpu")
    return (f"{step['wall']:.2f}" + (f" (cpu {cpu:.2f})" if cpu is not None else "")
            + (f" [answers {step['compute_s']:.2f}]" if step.get("computed") else ""))


def report(fig: dict, *, big_rows: int | None = None) -> str:
    """The figures as text lines: browser wall seconds (server CPU seconds), with the issue's goals."""
    cold = fig["server_cold"]
    lines = ["page render figures: browser wall s (server process CPU s) [wall s computing answers, if any]",
             f"  server cold (imports): Inventory {_f(cold['inventory'])}, Health {_f(cold['health'])}"]
    for i, s in enumerate(fig["samples"]):
        lines.append(f"  demo #{i + 1}: Inventory first {_f(s['inventory_first'])}, rerun {_f(s['inventory_rerun'])}, "
                     f"again {_f(s['inventory_again'])} | Health first {_f(s['health_first'])}, "
                     f"rerun {_f(s['health_rerun'])}"
                     + (f", filter {_f(s['health_filter'])}" if "health_filter" in s else ""))
    if fig["samples"]:
        m = fig["median"]
        lines.append(f"  demo median wall: Inventory first {m['inventory_first']:.2f} (goal < 1.5), rerun "
                     f"{m['inventory_rerun']:.2f} | Health first {m['health_first']:.2f} (goal < 1.5), rerun "
                     f"{m['health_rerun']:.2f}")
    if fig["big"]:
        what = f"{big_rows:,}-bar master" if big_rows else "long master"
        lines.append(f"  {what}: Health first {_f(fig['big']['health_first'])} (goal < 3 on 18 years), "
                     f"rerun {_f(fig['big']['health_rerun'])}")
    la = os.getloadavg()
    lines.append(f"  load average at the end: {la[0]:.1f} {la[1]:.1f} {la[2]:.1f} on {os.cpu_count()} cores "
                 "(wall figures grow with other load; the server's CPU seconds much less)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--years", type=int, default=18, help="years of the long master for Health (0: none)")
    ap.add_argument("--samples", type=int, default=3, help="fresh demo folders measured")
    ap.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--log", type=Path, default=None, help="keep the server's log here")
    ap.add_argument("--code", type=Path, default=REPO,
                    help="the checkout whose app is served (another one gives 'before' figures)")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from playwright.sync_api import sync_playwright

    from datamgr.store.footer import read_footer

    template = demo_template(a.cache)
    big_src = long_master(a.cache, a.years) if a.years else None
    with tempfile.TemporaryDirectory(prefix="bench_pages_") as tmp:
        work = Path(tmp)
        warm = copy_folder(template, work / "warmup")
        demos = [copy_folder(template, work / f"demo{i + 1}") for i in range(a.samples)]
        big = copy_folder(big_src, work / "big") if big_src else None
        server = Server(warm, work / "streamlit.log", a.code.resolve())
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    fig = measure(browser, server.url, demos, big, Probe(server.proc.pid, work / "streamlit.log"),
                                  filter_step=a.code.resolve() == REPO)
                finally:
                    browser.close()
        finally:
            server.stop()
            if a.log:
                shutil.copyfile(work / "streamlit.log", a.log)
        rows = read_footer(big / "ES1_1m.parquet").rows if big else None
    fig["big_rows"] = rows
    fig["load_average"] = os.getloadavg()
    print(report(fig, big_rows=rows))
    if a.json:
        a.json.write_text(json.dumps(fig, indent=2), encoding="utf-8")
        print(f"figures written to {a.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
