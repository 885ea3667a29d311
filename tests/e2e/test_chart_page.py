"""Browser: the Chart page draws candles with the calendar's rangebreaks and shows each bar's
source and the file's generation when the mouse is over a candle."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from datamgr.core.config import Settings
from datamgr.ops.demo import write_demo
from tests.e2e.test_walk_pages import settle

pytestmark = pytest.mark.e2e


def test_the_chart_shows_rangebreaks_and_the_source_on_hover(app_factory, page, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_demo(Settings.load(data_dir=data, env={}), "ES1", months=1, end=dt.date(2025, 11, 20), derived=False)
    app = app_factory(data)
    page.goto(app.url)
    page.get_by_role("link", name="Chart").click()
    expect(page.get_by_role("heading", name="Chart · ES1")).to_be_visible(timeout=60_000)
    plot = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    expect(plot).to_be_visible(timeout=60_000)
    settle(page)
    layout = plot.evaluate("el => ({breaks: el.layout.xaxis.rangebreaks, n: el.data[0].x.length})")
    assert layout["breaks"] and 0 < layout["n"] <= 3000
    # hover the middle of the price pane: plotly's hover label carries the bar's source and generation
    box = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    label = plot.locator(".hoverlayer")
    expect(label).to_contain_text("source: demo", timeout=30_000)
    expect(label).to_contain_text("generation 1", timeout=30_000)
