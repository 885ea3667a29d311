"""Browser test: start the replay feed from the Live page and watch a price appear."""

from __future__ import annotations

import re

import pytest

from datamgr.core.config import Settings
from datamgr.live.controller import LiveDataFeed
from datamgr.store.store import Store

pytestmark = pytest.mark.e2e


def test_starting_the_replay_feed_in_the_browser_shows_a_live_price(tmp_path, app_factory, page, week_bars):
    from playwright.sync_api import expect

    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data, env={})
    Store(settings).write("ES1", "1m", week_bars, operation="import")
    feed = LiveDataFeed(settings)
    try:
        app = app_factory(data)
        page.goto(f"{app.url}/live")
        expect(page.get_by_text("No live data yet")).to_be_visible()
        page.get_by_role("button", name="Start feed").click()
        expect(page.get_by_text("running (pid")).to_be_visible(timeout=20_000)
        expect(page.get_by_text("Last update")).to_be_visible(timeout=20_000)  # the table has arrived
        es1 = page.get_by_test_id("stMetric").filter(has_text="ES1")
        expect(es1.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^\d{1,2},?\d{3}\.\d{2}$"))
        price = feed.get_live_price("ES1")
        assert price is not None and price in set(week_bars["close"].to_list())
        expect(page.get_by_text("connected", exact=True)).to_be_visible()
        page.get_by_role("button", name="Stop feed").click()
        expect(page.get_by_text("stopped", exact=True).first).to_be_visible(timeout=20_000)
        assert not feed.is_running()
    finally:
        feed.stop_feed(timeout=5)
