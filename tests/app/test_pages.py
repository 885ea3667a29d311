"""Every page runs under Streamlit's AppTest on real data folders."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from datamgr.core.config import Settings
from datamgr.ops.demo import write_demo
from datamgr.store.store import Store
from tests.app.conftest import PAGES, REPO

PLACEHOLDERS = sorted(p.stem for p in PAGES.glob("*.py") if p.stem not in ("_common", "inventory", "journal"))


def demo(data_dir) -> int:
    s = Settings.load(data_dir=data_dir, env={})
    write_demo(s, "ES1", months=1, end=dt.date(2025, 11, 20), derived=False)
    return Store(s).read_meta("ES1", "1m").rows


def test_the_inventory_page_offers_demo_data_on_an_empty_folder(app_data, page_test):
    at = page_test("inventory").run()
    assert not at.exception
    assert at.title[0].value == "Inventory"
    assert "is empty" in at.info[0].value and str(app_data) in at.info[0].value
    assert [b.label for b in at.button] == ["Create demo data"]
    assert len(at.dataframe) == 0 and len(at.metric) == 0


def test_the_inventory_page_shows_the_demo_master_with_its_row_count(app_data, page_test):
    rows = demo(app_data)
    at = page_test("inventory").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Files"] == "1" and metrics["1m masters"] == "1"
    assert metrics["Bars (all market files)"] == f"{rows:,}"
    assert [t.label for t in at.tabs] == ["Market Data", "Derived Assets", "Other"]
    table = at.dataframe[0].value
    assert list(table["file"]) == ["ES1_1m.parquet"] and table["rows"].iloc[0] == f"{rows:,}"
    # one time style: minutes in ET with the zone named, no None cells
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} ET", table["end"].iloc[0])
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    assert any("Demo data" in w.value for w in at.warning)
    # The detail panel shows the first and last bars of the selected file.
    assert at.selectbox(key="inv_detail").value == "ES1_1m.parquet"
    assert len(at.dataframe) >= 4


def test_the_create_demo_data_button_writes_demo_data_in_the_background(app_data, page_test):
    at = page_test("inventory").run()
    at.button[0].click().run()
    job = at.session_state["job:demo"]
    deadline = time.monotonic() + 60
    while job.running and time.monotonic() < deadline:
        time.sleep(0.2)
    assert job.state == "done", job.error
    at.run()
    assert not at.exception
    assert (app_data / "ES1_1m.parquet").is_file()
    assert list(at.dataframe[0].value["file"]) == [
        "ES1_1m.parquet", "ES1_5m.parquet", "ES1_15m.parquet", "ES1_1h.parquet", "ES1_4h.parquet"]
    # the derived tab lists the analysis files the demo regenerated, none of them stale
    derived = at.dataframe[1].value
    assert {"ES1_profiler.json", "ES1_daily_hod_lod.json", "ES1_level_touches.json", "web/ES1/"} <= set(derived["file"])
    assert not any(fl.startswith("stale") for flags in derived["flags"] for fl in flags)


def test_the_journal_page_says_when_there_is_nothing_yet(app_data, page_test):
    at = page_test("journal").run()
    assert not at.exception
    assert at.title[0].value == "Journal"
    assert "No write operations yet" in at.info[0].value


def test_the_journal_page_lists_the_demo_write_in_eastern_time(app_data, page_test):
    rows = demo(app_data)
    at = page_test("journal").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["op"]) == ["demo"] and list(table["file"]) == ["ES1_1m.parquet"]
    assert int(table["rows_after"].iloc[0]) == rows
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} ET", table["time"].iloc[0])


@pytest.mark.parametrize("name", PLACEHOLDERS)
def test_every_other_page_runs_without_exception(app_data, page_test, name):
    demo(app_data)
    at = page_test(name).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title and at.title[0].value


def test_the_router_opens_on_the_inventory_page(app_data):
    demo(app_data)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    assert at.title[0].value == "Inventory"
    assert at.sidebar.selectbox[0].value == "ES1"
