"""Browser test: open the Regenerate page, run a regeneration, watch the progress finish."""

from __future__ import annotations

import datetime as dt

import pytest

from datamgr.core.config import Settings
from datamgr.derived.regenerate import stale_outputs
from datamgr.ops.demo import make_demo_bars
from datamgr.store.store import Store

pytestmark = pytest.mark.e2e


def test_running_a_regeneration_in_the_browser_shows_progress_until_it_finishes(tmp_path, app_factory, page):
    from playwright.sync_api import expect

    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data, env={})
    Store(settings).write("ES1", "1m", make_demo_bars(dt.date(2024, 2, 1), dt.date(2024, 3, 8)), operation="import")
    app = app_factory(data)
    page.goto(f"{app.url}/regenerate")
    expect(page.get_by_text("8 derived output(s) do not follow the master")).to_be_visible()
    page.get_by_role("button", name="Run regeneration").click()
    expect(page.get_by_text("Regeneration finished").first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("All derived data follows the 1m master.")).to_be_visible()
    assert stale_outputs(settings, "ES1") == []
