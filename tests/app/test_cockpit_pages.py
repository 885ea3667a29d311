"""The trader's cockpit under AppTest: Chart (rangebreaks, hover source, typed delete), Backups
(Verify on demand, prune preview), backups under Inventory's Other, Journal filters, the
sidebar's data-folder switcher, and Yahoo's new configured ticker."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from datamgr.core.config import Settings
from datamgr.ops.demo import write_demo
from datamgr.ops.ranges import delete_range
from datamgr.store import journal
from datamgr.store.backup import list_backups
from datamgr.store.store import Store
from tests.app.conftest import REPO
from tests.conftest import folder_hash

END = dt.date(2025, 11, 20)


@pytest.fixture
def demo_folder(app_data):
    s = Settings.load(data_dir=app_data, env={})
    write_demo(s, "ES1", months=1, end=END, derived=False)
    return s


def _wait(at, key: str) -> None:
    assert at.session_state[f"job:{key}"].wait(120)


def _figure(at) -> dict:
    return json.loads(at.get("plotly_chart")[0].proto.spec)


def test_the_chart_page_draws_candles_with_rangebreaks_and_the_source_on_hover(demo_folder, page_test):
    at = page_test("chart").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Chart · ES1"
    fig = _figure(at)
    breaks = fig["layout"]["xaxis"]["rangebreaks"]
    assert breaks and all(len(b["bounds"]) == 2 for b in breaks)  # the calendar's closed periods
    candles = next(t for t in fig["data"] if t["type"] == "candlestick")
    assert len(candles["x"]) <= 3000
    assert all("source: demo · generation 1" in x for x in candles["text"])
    volume = next(t for t in fig["data"] if t["type"] == "bar")
    assert "source: %{customdata[0]}" in volume["hovertemplate"]


def test_the_chart_page_shades_a_hole_and_offers_every_timeframe(demo_folder, page_test):
    s = demo_folder
    store = Store(s)
    bars = store.read("ES1", "1m")
    hole = pl.col("datetime").is_between(dt.datetime(2025, 11, 19, 15, 0, tzinfo=dt.UTC),
                                         dt.datetime(2025, 11, 19, 15, 44, tzinfo=dt.UTC))
    store.write("ES1", "1m", bars.filter(~hole), operation="test", backup=False)
    at = page_test("chart").run()
    fig = _figure(at)
    shapes = [sh for sh in fig["layout"].get("shapes", []) if "211, 47, 47" in sh.get("fillcolor", "")]
    assert shapes, "the hole is shaded red"
    assert "gap: hole" in [t.get("name") for t in fig["data"]]
    assert at.selectbox(key="chart_tf:ES1").value == "1m"


def test_deleting_a_range_on_the_chart_page_needs_the_typed_file_name(demo_folder, page_test):
    s = demo_folder
    before_rows = Store(s).read_meta("ES1", "1m").rows
    day = dt.date(2025, 11, 18)
    at = page_test("chart").run()
    at.date_input(key="chart_days:ES1:1m").set_value((day, day)).run()
    before = folder_hash(s.data_dir)
    button = at.button(key="chart_delete")
    assert button.disabled
    at.text_input(key="chart_confirm:ES1:1m").set_value("ES1_1m").run()
    assert at.button(key="chart_delete").disabled and folder_hash(s.data_dir) == before
    at.text_input(key="chart_confirm:ES1:1m").set_value("ES1_1m.parquet").run()
    at.button(key="chart_delete").click().run()
    _wait(at, "delete:ES1")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # exactly the drawn window: the trading day's session (from 18:00 ET the evening before to 17:00 ET)
    lo = dt.datetime(2025, 11, 17, 23, 0, tzinfo=dt.UTC)
    hi = dt.datetime(2025, 11, 18, 22, 0, tzinfo=dt.UTC)
    after = Store(s).read("ES1", "1m")
    assert after.filter(pl.col("datetime").is_between(lo, hi, closed="left")).height == 0
    assert before_rows - after.height == 1380  # 23 hours of 1m bars
    assert after.filter(pl.col("datetime") == hi + dt.timedelta(hours=1)).height == 1  # the next session stays
    assert any("Deleted" in x.value for x in at.success)
    assert journal.read(s)[0]["op"] in ("delete-range", "regenerate")
    assert [e for e in journal.read(s) if e["op"] == "delete-range"][0]["backup"] == list_backups(s)[0].path


def test_backups_verify_on_demand_and_show_the_state_in_inventory(demo_folder, page_test):
    s = demo_folder
    delete_range(s, "ES1", "2025-11-18", "2025-11-18", confirm=True, no_derived=True)
    at = page_test("backups").run()
    table = at.dataframe[0].value
    assert table["state"].tolist() == ["not verified yet"]
    at.button(key="bk_verify").click().run()
    _wait(at, "verify")
    at.run()
    assert at.dataframe[0].value["state"].tolist() == ["verified"]
    inv = page_test("inventory").run()
    other = inv.dataframe(key="inv_other").value
    assert other["file"].tolist() == [list_backups(s)[0].path] and other["flags"].tolist() == ["✔"]
    # a changed copy is re-hashed on the next Verify and reported
    p = s.data_dir / list_backups(s)[0].path
    p.write_bytes(p.read_bytes()[:-10] + b"0123456789")
    at.run()
    assert at.dataframe[0].value["state"].tolist() == ["not verified yet"]  # changed: no verdict
    at.button(key="bk_verify").click().run()
    _wait(at, "verify")
    at.run()
    assert at.dataframe[0].value["state"].tolist() == ["FAILED"]


def test_prune_shows_a_preview_before_it_deletes(demo_folder, page_test):
    s = demo_folder
    for d in ("2025-11-17", "2025-11-18"):
        delete_range(s, "ES1", d, d, confirm=True, no_derived=True)
    s2 = Settings.load(data_dir=s.data_dir, env={"DATAMGR_DATA_DIR": str(s.data_dir)})
    assert len(list_backups(s2)) == 2
    at = page_test("backups").run()
    at.button(key="bk_prune_preview").click().run()
    assert any("Nothing to prune" in x.value for x in at.success)  # keep_last = 10
    assert len(list_backups(s)) == 2


def test_the_journal_page_shows_every_field_and_filters(demo_folder, page_test):
    s = demo_folder
    delete_range(s, "ES1", "2025-11-18", "2025-11-18", confirm=True, no_derived=True)
    at = page_test("journal").run()
    table = at.dataframe(key="jr_table").value
    assert {"time", "op", "file", "outcome", "backup", "details", "sha256_before", "sha256_after", "id"} <= set(table)
    at.multiselect(key="jr_ops").set_value(["delete-range"]).run()
    table = at.dataframe(key="jr_table").value
    assert table["op"].tolist() == ["delete-range"] and "deleted: " in table["details"].iloc[0]
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    at.text_input(key="jr_text").set_value("no such thing").run()
    assert at.dataframe(key="jr_table").value.empty


def test_the_sidebar_switches_the_data_folder(demo_folder, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=60).run()
    assert at.metric[0].value == "1"  # Files: the demo master
    at.sidebar.text_input(key="_data_dir_input").set_value(str(tmp_path / "missing")).run()
    at.sidebar.button(key="_data_dir_switch").click().run()
    assert any("does not exist" in e.value for e in at.sidebar.error)
    at.sidebar.text_input(key="_data_dir_input").set_value(str(other)).run()
    at.sidebar.button(key="_data_dir_switch").click().run()
    assert not at.exception
    assert str(other) in at.info[0].value and "is empty" in at.info[0].value


def test_the_yahoo_page_can_start_a_configured_ticker_without_a_file(app_data, page_test):
    at = page_test("yahoo_update").run()
    box = at.selectbox(key="yahoo_ticker")
    assert "NQ1" in box.options or "NQ1 (new: no file yet)" in box.options
    box.set_value("NQ1").run()
    assert not at.exception
    assert "NQ=F" in at.caption[0].value or any("NQ=F" in c.value for c in at.caption)
