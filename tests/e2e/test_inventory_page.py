"""The app opens on demo data and the inventory table shows the right file and row count."""

from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import expect

from datamgr.core.config import Settings
from datamgr.ops.demo import write_demo
from datamgr.store.store import Store

pytestmark = pytest.mark.e2e


def test_inventory_page_shows_the_demo_master_with_its_row_count(app_factory, page, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data, env={})
    write_demo(settings, "ES1", end=dt.date(2025, 11, 20))
    rows = Store(settings).read_meta("ES1", "1m").rows
    app = app_factory(data)
    page.goto(app.url)
    expect(page.get_by_role("heading", name="Inventory")).to_be_visible()
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_be_visible()
    # The grid carries the master's row count.
    expect(grid).to_contain_text("ES1_1m.parquet")
    expect(grid).to_contain_text(f"{rows:,}")
    expect(page.get_by_text("Demo data")).to_be_visible()


def test_first_run_offers_demo_data_and_creates_it(app_factory, page):
    app = app_factory()
    page.goto(app.url)
    button = page.get_by_role("button", name="Create demo data")
    expect(button).to_be_visible()
    button.click()
    grid = page.locator('[data-testid="stDataFrame"]').first
    expect(grid).to_contain_text("ES1_1m.parquet", timeout=60_000)
    assert (app.data_dir / "ES1_1m.parquet").is_file()
