"""AppTest of the Regenerate page: stale list, a run in the background job, the output views."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from datamgr.derived.regenerate import stale_outputs
from datamgr.ops.demo import make_demo_bars

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(dsettings, dstore, monkeypatch):
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(dsettings.data_dir))
    monkeypatch.chdir(ROOT)
    st.cache_resource.clear()
    dstore.write("ES1", "1m", make_demo_bars(dt.date(2024, 2, 1), dt.date(2024, 3, 8)), operation="import")
    at = AppTest.from_file(str(ROOT / "app_pages" / "regenerate.py"), default_timeout=60)
    at.session_state["ticker"] = "ES1"
    yield at
    st.cache_resource.clear()


def test_page_lists_stale_outputs_runs_the_job_and_shows_every_view(app, dsettings):
    at = app.run()
    assert not at.exception
    assert "8 derived output(s)" in at.warning[0].value
    assert "Profiler data is missing" in at.dataframe[0].value["message"].tolist()
    at.button[0].click().run()
    job = at.session_state["job:regenerate:ES1"]
    assert job.wait(60) and job.state == "done" and job.result.ok
    at.run()
    assert not at.exception
    assert at.success[0].value.startswith("All derived data follows")
    assert any("Regeneration finished" in s.label for s in at.status)
    assert at.tabs[0].label == "HOD/LOD" and len(at.get("plotly_chart")) == 3
    assert stale_outputs(dsettings, "ES1") == []
    timings = at.dataframe[0].value
    assert list(timings["step"]) == ["Upsampled", "HOD/LOD", "Profiler", "Level touches", "Web chunks"]
    assert (timings["result"] == "ok").all()
