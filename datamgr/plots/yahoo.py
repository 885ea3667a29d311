"""Plotly figure of a Yahoo update review: candidates as candles, quarantined bars marked (no Streamlit)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from datamgr.core.timefmt import ET


def review_figure(accepted: pl.DataFrame, rejected: pl.DataFrame, *, max_candles: int = 4000,
                  title: str | None = None, daily: bool = False) -> go.Figure:
    """Accepted bars as candlesticks (a close line when there are more than ``max_candles``) and
    every quarantined bar as a red ✕ at its high, with its reason on hover. Times in ET.

    Parameters
    ----------
    accepted : DataFrame
        Canonical bars that passed validation.
    rejected : DataFrame
        Canonical bars plus ``reason``.
    daily : bool
        Daily/weekly bars: plotted at their label date (00:00 UTC), not converted to ET.
    """
    fig = go.Figure()
    tz = "UTC" if daily else ET
    acc = accepted.with_columns(pl.col("datetime").dt.convert_time_zone(tz))
    if acc.height and acc.height <= max_candles:
        fig.add_trace(go.Candlestick(x=acc["datetime"].to_list(), open=acc["open"].to_list(),
                                     high=acc["high"].to_list(), low=acc["low"].to_list(),
                                     close=acc["close"].to_list(), name="accepted"))
    elif acc.height:
        fig.add_trace(go.Scattergl(x=acc["datetime"].to_list(), y=acc["close"].to_list(), mode="lines",
                                   name="accepted (close)"))
    if rejected.height:
        rej = rejected.with_columns(pl.col("datetime").dt.convert_time_zone(tz))
        y = rej.select(pl.when(pl.col("high").is_finite()).then(pl.col("high"))
                       .otherwise(pl.col("close")).alias("y"))["y"]
        fmt = "%Y-%m-%d" if daily else "%Y-%m-%d %H:%M ET"
        text = [f"{t.strftime(fmt)}<br>O {o} H {h} L {lo} C {c}<br>{r}" for t, o, h, lo, c, r in
                rej.select("datetime", "open", "high", "low", "close", "reason").iter_rows()]
        fig.add_trace(go.Scatter(x=rej["datetime"].to_list(), y=y.to_list(), mode="markers", name="quarantined",
                                 marker={"symbol": "x", "size": 12, "color": "#d32f2f", "line": {"width": 2}},
                                 hovertext=text, hoverinfo="text"))
    fig.update_layout(height=420, margin={"t": 40 if title else 20, "b": 20}, xaxis_title="date" if daily else "ET",
                      yaxis_title="price", xaxis_rangeslider_visible=False, title=title,
                      legend={"orientation": "h", "y": 1.02, "x": 0})
    return fig
