"""Browser: Health on demo data shows the planted gaps in the gap table and in the heatmap."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from datamgr.core.config import Settings
from datamgr.core.timefmt import to_et_text
from datamgr.ops.demo import default_gaps, write_demo

pytestmark = pytest.mark.e2e


def test_health_on_demo_data_shows_the_planted_gaps_in_the_table_and_the_heatmap(app_factory, page, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data, env={})
    end = dt.date(2025, 11, 20)
    write_demo(settings, "ES1", end=end)
    planted = default_gaps(end - dt.timedelta(days=int(3 * 30.5)), end)
    assert len(planted) == 4
    app = app_factory(data)
    page.goto(app.url)  # open the app, then go to Health the way a person does
    page.get_by_role("link", name="Health").click()
    expect(page.get_by_role("heading", name="Health · ES1")).to_be_visible(timeout=60_000)
    table = page.locator('[data-testid="stTable"]').first
    expect(table).to_be_visible(timeout=60_000)  # the first check of a folder computes the report
    for g in planted:
        expect(table).to_contain_text(to_et_text(g.start))
        expect(table).to_contain_text(f"{g.minutes:,}".replace(",", "") if g.minutes < 1000 else str(g.minutes))
    # heatmap: the day of the whole-session gap is drawn at 0 % coverage
    heat = page.locator('[data-testid="stPlotlyChart"] .js-plotly-plot').first
    expect(heat).to_be_visible(timeout=30_000)
    whole = max(planted, key=lambda g: g.minutes)
    day = whole.end.astimezone(dt.UTC).date().isoformat()
    texts = heat.evaluate("el => el.data.map(t => t.text).flat(2).filter(x => x)")
    assert any(t.startswith(f"{day} ") and " 0 of 1380 expected" in t for t in texts), day
    partial = {t for t in texts if "expected bars (" in t and "(100.0 %)" not in t}
    assert len(partial) == 4  # one day per planted gap


def test_bulk_acknowledge_in_the_browser_by_page_selection_then_by_rule(app_factory, page, tmp_path):
    from datamgr.calendar.overrides import load_overrides
    from datamgr.health.report import check_continuity
    from datamgr.store.store import Store
    from tests.health.builders import thin_bars

    data = tmp_path / "data"
    data.mkdir()
    settings = Settings.load(data_dir=data, env={})
    Store(settings).write("ES1", "1m", thin_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 14)), operation="test")
    n_quiet = check_continuity(settings, "ES1").class_counts()["quiet"]
    app = app_factory(data)
    page.goto(app.url)
    page.get_by_role("link", name="Health").click()
    expect(page.get_by_role("heading", name="Health · ES1")).to_be_visible(timeout=60_000)
    # 1) every gap of the first page of the table, one click each
    page.get_by_role("button", name="Select every gap on this page").click()
    selected = page.get_by_role("button", name=re.compile(r"Acknowledge [1-9]\d* selected gap\(s\)"))
    expect(selected).to_be_enabled(timeout=30_000)
    n = int(re.search(r"\d+", selected.inner_text()).group())
    assert 40 <= n <= 50  # the page's hole, quiet and edge gaps (recurring ones are not acknowledged)
    selected.click()
    expect(page.get_by_text(f"Acknowledged {n} gap(s)")).to_be_visible(timeout=30_000)
    assert len(load_overrides(settings.overrides_path).acknowledged_for("ES1")) == n
    # 2) the rest of the quiet gaps by rule, in one write
    page.get_by_role("tab", name="Acknowledge by rule").click()
    rule = page.get_by_role("button", name="Acknowledge all quiet gaps")
    expect(rule).to_be_enabled(timeout=30_000)
    m = int(re.search(r"\(([\d,]+)\)", rule.inner_text()).group(1).replace(",", ""))
    rule.click()
    expect(page.get_by_text(f"Acknowledged {m:,} gap(s)")).to_be_visible(timeout=30_000)
    acks = load_overrides(settings.overrides_path).acknowledged_for("ES1")
    quiet_left = [g for g in check_continuity(settings, "ES1").gaps if g.cls == "quiet" and not g.acknowledged]
    assert quiet_left == [] and len(acks) >= n_quiet
    ops = [line for line in (data / "journal.jsonl").read_text().splitlines() if "acknowledge_gap" in line]
    assert len(ops) == 2  # one overrides write (and journal line) per action
