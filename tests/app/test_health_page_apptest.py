"""AppTest of the Health page on real Parquet demo data in a tmp folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from datamgr.calendar.overrides import load_overrides
from datamgr.core.config import Settings
from datamgr.ops.demo import PlantedGap, make_demo_bars
from datamgr.store.store import Store

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "health.py")
ET = ZoneInfo("America/New_York")


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET).astimezone(dt.UTC)


PLANTED = [PlantedGap(et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 7)),
           PlantedGap(et(2025, 6, 10, 18, 0), et(2025, 6, 11, 17, 0))]


@pytest.fixture
def app(tmp_path, monkeypatch):
    s = Settings.load(data_dir=tmp_path, env={})
    Store(s).write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 27), gaps=PLANTED),
                   operation="test")
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ticker"] = "ES1"
    return at, s


def test_the_health_page_shows_freshness_heatmap_and_the_planted_gaps(app):
    at, _ = app
    at.run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Holes"] == "2"
    gaps = at.table[0].value
    assert list(gaps["start (ET)"]) == ["2025-06-03 10:00 ET", "2025-06-10 18:00 ET"]
    assert list(gaps["missing minutes"]) == [7, 1380]
    assert len(at.get("plotly_chart")) == 2  # heatmap and candlesticks
    assert any("Freshness" in w.value for w in [*at.success, *at.warning])


def test_acknowledging_a_gap_from_the_page_writes_the_overrides_file(app):
    at, s = app
    at.run()
    at.selectbox(key="health_gap").set_value(0).run()
    at.text_input(key="health_ack_note").input("known vendor outage")
    at.button[0].click().run()
    job = at.session_state["job:ack"]
    assert job.wait(20) and job.state == "done", job.error_text
    at.run()
    acks = load_overrides(s.overrides_path).acknowledged_for("ES1")
    assert [(a.start, a.missing, a.note) for a in acks] == [(et(2025, 6, 3, 10, 0), 7, "known vendor outage")]
    assert list(at.table[0].value["acknowledged"]) == ["yes", ""]
    assert {m.label: m.value for m in at.metric}["Holes"] == "1"


def test_an_empty_folder_points_to_import_or_demo_data(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(tmp_path))
    st.cache_resource.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "No 1-minute master" in at.info[0].value
