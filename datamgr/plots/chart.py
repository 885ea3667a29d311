"""The Chart page's figure (no Streamlit here): candles + volume of any stored file, the
calendar's rangebreaks, gaps shaded by class, each bar's source and the file's generation on hover.

Times are drawn as naive wall-clock times in the display zone (plotly has no time zones);
daily/weekly bars are drawn at their label date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core.timefmt import ET, zone_label
from datamgr.plots.health import rangebreaks

#: gap class -> shading colour
GAP_COLORS = {"hole": "rgba(211, 47, 47, 0.22)", "recurring": "rgba(245, 124, 0, 0.18)",
              "quiet": "rgba(66, 133, 244, 0.10)", "edge": "rgba(120, 120, 120, 0.15)"}


def _daily_breaks(cal: SessionCalendar, start: dt.date, end: dt.date) -> list[dict]:
    """Weekends and the weekdays without a session (holidays) for daily candles."""
    days = {d for d in cal.sessions(start, end)["trading_day"].to_list()}
    holidays = [d.isoformat() for d in (start + dt.timedelta(n) for n in range((end - start).days + 1))
                if d.weekday() < 5 and d not in days]
    out: list[dict] = [{"bounds": ["sat", "mon"]}]
    if holidays:
        out.append({"values": holidays})
    return out


def chart_figure(data: Any, cal: SessionCalendar, tz: str = ET) -> go.Figure:
    """Candlesticks over volume with rangebreaks, gap shading and source/generation on hover.

    Parameters
    ----------
    data : datamgr.ops.ranges.ChartData
        (not imported: plots and ops are on the same layer) bars, candle, generation, gaps, range.
    """
    bars = data.bars
    label = zone_label(tz)
    if data.intraday:
        x = bars["datetime"].dt.convert_time_zone(tz).dt.replace_time_zone(None).to_list() if bars.height else []
        fmt = "%Y-%m-%d %H:%M"
    else:
        x = bars["datetime"].dt.date().to_list() if bars.height else []
        fmt = "%Y-%m-%d"
    gen = "—" if data.generation is None else str(data.generation)
    text = [f"{t.strftime(fmt)}{' ' + label if data.intraday else ''}<br>source: {s} · generation {gen}"
            for t, s in zip(x, bars["source"].to_list())] if bars.height else []
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.76, 0.24], vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(
        x=x, open=bars["open"].to_list(), high=bars["high"].to_list(), low=bars["low"].to_list(),
        close=bars["close"].to_list(), name=f"{data.candle} candles", text=text, hoverinfo="text+y",
        increasing_line_color="#26a69a", decreasing_line_color="#ef5350"), row=1, col=1)
    fig.add_trace(go.Bar(
        x=x, y=bars["volume"].to_list(), name="volume", marker_color="rgba(100, 120, 160, 0.6)",
        customdata=[[s, gen] for s in bars["source"].to_list()],
        hovertemplate="volume %{y:,}<br>source: %{customdata[0]} · generation %{customdata[1]}<extra></extra>"),
        row=2, col=1)
    seen: set[str] = set()
    for g in data.gaps:
        a = g["start"].astimezone(dt.UTC)
        b = g["end"].astimezone(dt.UTC)
        a_l = pl.Series([a]).dt.convert_time_zone(tz).dt.replace_time_zone(None)[0]
        b_l = pl.Series([b]).dt.convert_time_zone(tz).dt.replace_time_zone(None)[0]
        fig.add_vrect(x0=a_l, x1=b_l, fillcolor=GAP_COLORS.get(g["cls"], GAP_COLORS["edge"]), line_width=0,
                      layer="below", row="all", col=1)
        seen.add(g["cls"])
    for cls in sorted(seen):  # a legend entry per shaded class
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=f"gap: {cls}",
                                 marker={"size": 12, "symbol": "square", "color": GAP_COLORS[cls]}))
    breaks = rangebreaks(cal, data.start, data.end, tz) if data.intraday else _daily_breaks(cal, data.start, data.end)
    fig.update_xaxes(rangebreaks=breaks)
    agg = f" (aggregated from {data.stored_rows:,} {data.timeframe} bars)" if data.aggregated else ""
    fig.update_layout(
        title=f"{data.ticker} · {data.candle} candles{agg} · {label}", height=620, xaxis_rangeslider_visible=False,
        margin={"l": 50, "r": 10, "t": 50, "b": 30}, hovermode="x",
        legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right", "yanchor": "bottom"})
    fig.update_yaxes(title_text="price", row=1, col=1)
    fig.update_yaxes(title_text="volume", row=2, col=1)
    return fig
