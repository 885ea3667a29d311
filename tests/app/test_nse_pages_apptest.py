"""AppTest: NIFTY (NSE calendar) on the Inventory and Health pages, with times in IST."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import Settings
from datamgr.store.store import Store

PAGES = Path(__file__).resolve().parents[2] / "app_pages"
IST = ZoneInfo("Asia/Kolkata")
HOLE = (dt.datetime(2024, 1, 16, 10, 0, tzinfo=IST), dt.datetime(2024, 1, 16, 11, 30, tzinfo=IST))


def nifty_bars() -> pl.DataFrame:
    """NSE 1m bars 2024-01-15 .. 2024-01-19 on the XNSE calendar, prices on the 0.05 grid, one planted hole."""
    t = get_calendar("XNSE").expected_minutes(dt.date(2024, 1, 15), dt.date(2024, 1, 19))
    t = t.filter(~t.is_between(HOLE[0].astimezone(dt.UTC), HOLE[1].astimezone(dt.UTC), closed="left"))
    n = t.len()
    close = np.round((21_500 + 30 * np.sin(np.arange(n) / 40)) / 0.05) * 0.05
    opn = np.concatenate([[close[0]], close[:-1]])
    return pl.DataFrame({"datetime": t, "open": opn, "high": np.maximum(opn, close) + 0.5,
                         "low": np.minimum(opn, close) - 0.5, "close": close, "volume": np.full(n, 100),
                         "source": ["smartapi"] * n})


@pytest.fixture
def nifty(tmp_path, monkeypatch):
    s = Settings.load(data_dir=tmp_path, env={})
    Store(s).write("NIFTY", "1m", nifty_bars(), operation="test")
    monkeypatch.setenv("DATAMGR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATAMGR_CONFIG", raising=False)
    st.cache_resource.clear()
    st.cache_data.clear()
    yield s
    st.cache_resource.clear()


def test_inventory_shows_nifty_with_ist_times(nifty):
    at = AppTest.from_file(str(PAGES / "inventory.py"), default_timeout=60).run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["file"] == "NIFTY_1m.parquet"].iloc[0]
    assert (row["start"], row["end"]) == ("2024-01-15 09:15 IST", "2024-01-19 15:29 IST")
    assert any("IST" in c.value for c in at.caption)


def test_health_shows_the_nifty_gap_in_ist(nifty):
    at = AppTest.from_file(str(PAGES / "health.py"), default_timeout=60)
    at.session_state["ticker"] = "NIFTY"
    at.run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Holes"] == "1"
    gaps = at.table[0].value
    assert list(gaps["start (IST)"]) == ["2024-01-16 10:00 IST"] and list(gaps["end (IST)"]) == ["2024-01-16 11:30 IST"]
    assert list(gaps["missing minutes"]) == [90]
    assert "Asia/Kolkata (IST)" in at.caption[0].value
