"""The review figure: candles for accepted bars, a red marker with its reason per quarantined bar."""

from __future__ import annotations

import datetime as dt

import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import DEFAULT_PRECEDENCE
from datamgr.ingest.validate import validate_incoming
from datamgr.plots.yahoo import review_figure
from tests.ingest.yahoo_builders import NOW, plant


def test_review_figure_marks_every_quarantined_bar_with_its_reason(seeded):
    _, master, yahoo = seeded
    bad, spots = plant(yahoo.filter(pl.col("datetime") < NOW))
    v = validate_incoming(bad, timeframe="1m", calendar=get_calendar("CME Globex Equity"), tick=0.25, master=master,
                          precedence=DEFAULT_PRECEDENCE)
    fig = review_figure(v.accepted.tail(3000), v.rejected)
    kinds = {t.name: t for t in fig.data}
    assert kinds["accepted"].type == "candlestick" and len(kinds["accepted"].x) == 3000
    q = kinds["quarantined"]
    assert len(q.x) == len(spots) and any("spike" in h for h in q.hovertext)
    assert all(" ET<br>" in h for h in q.hovertext)  # times read in ET
    big = review_figure(v.accepted, v.rejected, max_candles=1000)
    assert big.data[0].type == "scattergl"  # too many candles: a close line
    day = review_figure(v.accepted.head(0), v.rejected.head(1), daily=True)
    assert day.data[0].x[0].date() == v.rejected["datetime"][0].date() and day.layout.xaxis.title.text == "date"
    assert isinstance(day.data[0].x[0], dt.datetime)
