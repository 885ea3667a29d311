"""Browser: every page at 1280x800 and 1920x1080 on demo data with a backup and a journal.

No "None" cell and no ISO time with microseconds in any visible table, no horizontal scrollbar on
Inventory (neither the page nor its tables). Set ``DATAMGR_SCREENSHOTS=DIR`` to keep a full-page
screenshot of every page (the README's docs/screenshot-*.png come from this walk).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from datamgr.core.config import Settings
from datamgr.ops.demo import write_demo
from datamgr.ops.ranges import delete_range

pytestmark = pytest.mark.e2e

#: url path -> heading (a prefix of it)
PAGES = {"": "Inventory", "health": "Health", "chart": "Chart", "ninjatrader_import": "NinjaTrader import",
         "yahoo_update": "Yahoo update", "regenerate": "Regenerate derived data", "backups": "Backups",
         "journal": "Journal", "live": "Live"}
VIEWPORTS = [(1280, 800), (1920, 1080)]
MICROSECONDS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d{3,}")
NONE_CELL = re.compile(r"(?<![A-Za-z])None(?![A-Za-z])")
TABLES = '[data-testid="stDataFrame"], [data-testid="stTable"]'


@pytest.fixture
def walked_app(app_factory, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = Settings.load(data_dir=data, env={})
    write_demo(s, "ES1", months=1, end=dt.date(2025, 11, 20))
    delete_range(s, "ES1", "2025-11-03", "2025-11-03", confirm=True)  # a backup, a journal line, new derived
    return app_factory(data)


def settle(page) -> None:
    """Wait until the script run has finished and no element is still a loading skeleton."""
    page.wait_for_function("() => { const a = document.querySelector('[data-testid=stApp]');"
                           " return a && a.dataset.testScriptState === 'notRunning'"
                           " && !document.querySelector('[data-testid=stSkeleton]'); }")


def _settled(page, heading: str) -> None:
    expect(page.get_by_role("heading", name=re.compile("^" + re.escape(heading)))).to_be_visible()
    settle(page)


def _table_texts(page) -> list[str]:
    return [t.text_content() or "" for t in page.locator(TABLES).all() if t.is_visible()]


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def test_every_page_reads_cleanly_at_common_screen_sizes(walked_app, browser, width, height):
    shots = os.environ.get("DATAMGR_SCREENSHOTS")
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.set_default_timeout(60_000)
    expect.set_options(timeout=60_000)
    try:
        for path, heading in PAGES.items():
            page.goto(f"{walked_app.url}/{path}")
            _settled(page, heading)
            if path in ("", "journal", "backups", "regenerate"):
                expect(page.locator(TABLES).first).to_be_visible()
            for text in _table_texts(page):
                assert not NONE_CELL.search(text), f"{path or 'inventory'}: a None cell in {text[:300]!r}"
                assert not MICROSECONDS.search(text), f"{path or 'inventory'}: microseconds in {text[:300]!r}"
            if path == "":
                overflow = page.evaluate(
                    "() => ({page: document.documentElement.scrollWidth - window.innerWidth,"
                    " grids: [...document.querySelectorAll('[data-testid=stDataFrame] .dvn-scroller')]"
                    ".filter(e => e.offsetParent).map(e => e.scrollWidth - e.clientWidth)})")
                assert overflow["page"] <= 0, overflow
                assert overflow["grids"] and all(x <= 1 for x in overflow["grids"]), overflow
            if shots:  # the page scrolls inside the app: grow the window to the content for a whole-page shot
                Path(shots).mkdir(parents=True, exist_ok=True)
                tall = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                page.set_viewport_size({"width": width, "height": max(height, min(int(tall) + 40, 4000))})
                settle(page)
                page.screenshot(path=str(Path(shots) / f"{path or 'inventory'}-{width}x{height}.png"))
                page.set_viewport_size({"width": width, "height": height})
    finally:
        ctx.close()
