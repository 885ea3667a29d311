"""AppTest of the Health page on real Parquet files in a tmp folder (demo bars, a thin synthetic
market, the real SPY export)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from datamgr.calendar.overrides import load_overrides
from datamgr.cli.main import main
from datamgr.core.config import Settings
from datamgr.ops.demo import PlantedGap, make_demo_bars
from datamgr.store.store import Store
from tests.conftest import real_file
from tests.health.builders import thin_bars

PAGE = str(Path(__file__).resolve().parents[2] / "app_pages" / "health.py")
ET = ZoneInfo("America/New_York")


def et(*a) -> dt.datetime:
    return dt.datetime(*a, tzinfo=ET).astimezone(dt.UTC)


PLANTED = [PlantedGap(et(2025, 6, 3, 10, 0), et(2025, 6, 3, 10, 7)),
           PlantedGap(et(2025, 6, 10, 18, 0), et(2025, 6, 11, 17, 0))]


def page(tmp_path, monkeypatch, ticker: str = "ES1") -> AppTest:
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(tmp_path))
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ticker"] = ticker
    return at


@pytest.fixture
def app(tmp_path, monkeypatch):
    s = Settings.load(data_dir=tmp_path, env={})
    Store(s).write("ES1", "1m", make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 27), gaps=PLANTED),
                   operation="test")
    return page(tmp_path, monkeypatch), s


@pytest.fixture
def thin(tmp_path, monkeypatch):
    s = Settings.load(data_dir=tmp_path, env={})
    hole = (et(2025, 3, 12, 10, 0), et(2025, 3, 12, 10, 1))
    Store(s).write("ES1", "1m", thin_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 28), holes=[hole]),
                   operation="test")
    return page(tmp_path, monkeypatch), s


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def notes(at) -> list[str]:
    return [e.label for e in at.expander if e.label.startswith("Note:")]


def wait_ack(at) -> None:
    job = at.session_state["job:ack"]
    assert job.wait(30) and job.state == "done", job.error_text
    at.run()


def test_the_health_page_shows_freshness_heatmap_and_the_planted_gaps(app):
    at, _ = app
    at.run()
    assert not at.exception
    assert metrics(at)["Holes"] == "2"
    gaps = at.table[0].value
    assert list(gaps["start (ET)"]) == ["2025-06-03 10:00 ET", "2025-06-10 18:00 ET"]
    assert list(gaps["missing minutes"]) == [7, 1380]
    assert all(float(p) < 1e-6 for p in gaps["p_no_trade"])
    assert len(at.get("plotly_chart")) == 2  # heatmap and candlesticks
    assert any("Freshness" in w.value for w in [*at.success, *at.warning, *at.error])


def test_acknowledging_a_selection_writes_the_overrides_file_once(app):
    at, s = app
    at.run()
    pick = next(m for m in at.multiselect if m.label == "Gaps on this page")
    pick.set_value([0]).run()
    at.text_input(key="health_ack_note").input("known vendor outage").run()
    at.button(key="health_ack_selected").click().run()
    wait_ack(at)
    acks = load_overrides(s.overrides_path).acknowledged_for("ES1")
    assert [(a.start, a.missing, a.note) for a in acks] == [(et(2025, 6, 3, 10, 0), 7, "known vendor outage")]
    assert list(at.table[0].value["acknowledged"]) == ["yes", ""]
    assert metrics(at)["Holes"] == "1"  # the page cache followed the overrides file


def test_acknowledging_all_quiet_gaps_by_rule_is_one_write(thin):
    at, s = thin
    at.run()
    assert not at.exception
    n_quiet = int(metrics(at)["Quiet gaps"].replace(",", ""))
    assert n_quiet > 100 and metrics(at)["Holes"] != "0"
    assert at.selectbox(key="health_rule_cls").value == "quiet"
    button = at.button(key="health_ack_rule")
    assert button.label == f"Acknowledge all quiet gaps ({n_quiet:,})"
    button.click().run()
    wait_ack(at)
    acks = load_overrides(s.overrides_path).acknowledged_for("ES1")
    assert len(acks) == n_quiet
    journal = [json.loads(x) for x in (s.data_dir / "journal.jsonl").read_text().splitlines()]
    ack_lines = [j for j in journal if j["op"] == "acknowledge_gap"]
    assert len(ack_lines) == 1 and ack_lines[0]["details"]["gaps"] == n_quiet
    assert ack_lines[0]["details"]["rule"] == "all quiet gaps"
    # the quiet gaps are still listed (acknowledged), the holes are untouched
    assert metrics(at)["Quiet gaps"] == f"{n_quiet:,}"
    assert any(n.startswith(f"Note: {n_quiet:,} acknowledged") for n in notes(at))
    at.checkbox(key="health_show_acked").uncheck().run()
    assert "quiet" not in set(at.table[0].value["class"])


def test_the_gap_table_is_paged_and_filtered_by_class(thin):
    at, _ = thin
    at.run()
    assert len(at.table[0].value) == 50
    next(n for n in at.number_input if n.label.startswith("Page")).set_value(2).run()
    assert len(at.table[0].value) == 50 and not at.exception
    at.multiselect(key="health_classes").set_value(["hole"]).run()
    assert set(at.table[0].value["class"]) == {"hole"}  # a new filter starts on page 1
    assert "2025-03-12 10:00 ET" in list(at.table[0].value["start (ET)"])


def test_an_edit_of_the_closed_periods_gives_a_fresh_report(app):
    at, s = app
    at.run()
    assert metrics(at)["Holes"] == "2"
    s.overrides_path.write_text('[[closed]]\nstart = "2025-06-03T10:00:00-04:00"\n'
                                'end = "2025-06-03T10:07:00-04:00"\nreason = "outage"\n', encoding="utf-8")
    at.run()
    assert metrics(at)["Holes"] == "1"


def test_an_empty_folder_points_to_import_or_demo_data(tmp_path, monkeypatch):
    at = page(tmp_path, monkeypatch).run()
    assert not at.exception
    assert "No 1-minute master" in at.info[0].value


def test_the_real_spy_export_renders_with_a_screen_of_notes(tmp_path, monkeypatch):
    for name in ("nt-spy-minute-2011.csv", "nt-spy-minute-2011-03.csv"):
        assert main(["--data-dir", str(tmp_path), "import", str(real_file(name)), "SPY", "1m", "--tz", "UTC",
                     "--no-derived"]) == 0
    at = page(tmp_path, monkeypatch, "SPY").run()
    assert not at.exception
    lines = notes(at) + [c.value for c in at.caption if c.value.startswith("Note")]
    assert 0 < len(lines) < 40
    assert len(at.table[0].value) <= 50
    at.multiselect(key="health_classes").set_value(["recurring"]).run()
    tables = [t.value for t in at.table if "class" in t.value.columns]
    if tables:  # a recurring class never holds single-session members
        assert set(tables[0]["class"]) == {"recurring"} and min(tables[0]["sessions"]) >= 3
    else:
        assert any(x.value == "No gaps with these filters." for x in at.success)
