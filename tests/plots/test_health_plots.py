"""Figures: the heatmap greys closed weekdays; candlestick rangebreaks are the calendar's closures."""

from __future__ import annotations

import datetime as dt

import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.health.gaps import continuity
from datamgr.ops.demo import make_demo_bars
from datamgr.plots import health as plots

D = dt.date


def test_the_heatmap_greys_holidays_and_shows_expected_and_present_on_hover():
    cal = get_calendar("CME Globex Equity")
    bars = make_demo_bars(D(2025, 12, 15), D(2025, 12, 31)).filter(
        pl.col("datetime").dt.date() != D(2025, 12, 17))  # a UTC calendar day of bars missing
    cov = continuity(bars, cal).coverage
    fig = plots.coverage_heatmap(cov, D(2025, 12, 15), D(2025, 12, 31))
    grey, colour = fig.data
    texts = {t for row in grey.text for t in row if t}
    assert "2025-12-25 (Thu): closed" in texts
    xmas = [(i, j) for i, row in enumerate(grey.text) for j, t in enumerate(row) if t and t.startswith("2025-12-25")]
    (i, j), = xmas
    assert grey.z[i][j] == 0 and colour.z[i][j] is None
    assert any(t.startswith("2025-12-24 (Wed): 1155 of 1155 expected bars (100.0 %)") for t in texts)
    assert any(t.startswith("2025-12-17 (Wed):") and "(100.0 %)" not in t for t in texts)


def test_candlestick_rangebreaks_are_exactly_the_closed_periods_of_the_calendar():
    cal = get_calendar("CME Globex Equity")
    breaks = [b["bounds"] for b in plots.rangebreaks(cal, D(2025, 7, 2), D(2025, 7, 8))]
    assert breaks == [
        ["2025-07-02T17:00:00", "2025-07-02T18:00:00"],   # daily break (ET)
        ["2025-07-03T13:15:00", "2025-07-03T18:00:00"],   # 12:15 CT early close
        ["2025-07-04T13:00:00", "2025-07-06T18:00:00"],   # 12:00 CT close, weekend
        ["2025-07-07T17:00:00", "2025-07-07T18:00:00"],
    ]


def test_long_ranges_are_aggregated_to_a_few_thousand_candles():
    cal = get_calendar("CME Globex Equity")
    bars = make_demo_bars(D(2025, 1, 2), D(2025, 3, 31))
    fig = plots.candles(bars, cal, D(2025, 1, 2), D(2025, 3, 31))
    assert 0 < len(fig.data[0].x) <= plots.MAX_CANDLES
    assert fig.data[0].name in {"30m bars", "60m bars"}
