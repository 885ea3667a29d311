"""In a real browser: the Yahoo page shows the suspended banner, reviews a saved file, merges it."""

from __future__ import annotations

import polars as pl
import pytest
from playwright.sync_api import expect

from datamgr.core.config import Settings
from datamgr.store.store import Store
from tests.ingest.yahoo_builders import SPLIT, master_and_yahoo, plant, yf_csv

pytestmark = pytest.mark.e2e


def test_yahoo_page_shows_suspended_banner_and_merges_a_saved_file_with_quarantine(app_factory, page, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    s = Settings.load(data_dir=folder, env={})
    master, yahoo = master_and_yahoo()
    Store(s).write("ES1", "1m", master, operation="test")
    bad, spots = plant(yahoo)
    f = yf_csv(bad.filter(pl.col("datetime") < pl.lit(SPLIT) + pl.duration(days=2)), tmp_path / "ES=F 1m.csv")

    app = app_factory(folder)
    page.goto(app.url)
    page.get_by_role("link", name="Yahoo update").click()
    expect(page.get_by_role("heading", name="Yahoo update")).to_be_visible()
    expect(page.get_by_text("Yahoo auto-update is suspended")).to_be_visible()
    expect(page.get_by_text("NinjaTrader import").first).to_be_visible()

    page.get_by_role("tab", name="From a saved yfinance file").click()
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(f))
    page.get_by_role("button", name="Validate file").click()
    expect(page.get_by_text("Review: file ES=F 1m.csv")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("spike:", exact=False).first).to_be_visible()
    expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible(timeout=60_000)  # plotly loads lazily
    assert Store(s).read_meta("ES1", "1m").rows == master.height  # the review wrote nothing

    page.get_by_role("button", name="Merge").click()
    expect(page.get_by_text("Merged").first).to_be_visible(timeout=60_000)
    assert Store(s).read_meta("ES1", "1m").rows > master.height
    assert len(list((folder / "quarantine").glob("ES1_1m.*.parquet"))) == 1
