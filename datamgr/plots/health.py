"""Plotly figures for the pages (no Streamlit here): coverage heatmap, candlesticks.

All times are drawn in the display zone (ET) as naive wall-clock times, because plotly has no
time-zone support; rangebreaks are built from the session calendar so that every visible hole
in a candlestick chart is a real gap, never a weekend, a halt or a holiday.
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core.timefmt import to_et_text, zone_label

ET = "America/New_York"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri")
MAX_CANDLES = 3000


def coverage_heatmap(coverage: pl.DataFrame, start: dt.date, end: dt.date,
                     title: str = "") -> go.Figure:
    """GitHub-style heatmap: one cell per weekday, one column per week, colour = coverage.

    Parameters
    ----------
    coverage : DataFrame
        ``trading_day, expected, present, outside, coverage`` (from :func:`health.continuity`).
    start, end : date
        Calendar range shown; weekdays without a session are grey ("closed").
    """
    if coverage.height:  # never paint days outside the checked range as "closed"
        start = max(start, coverage["trading_day"].min())
        end = min(end, coverage["trading_day"].max())
    days = pl.DataFrame({"day": pl.date_range(start, end, "1d", eager=True)}).filter(
        pl.col("day").dt.weekday() <= 5)
    df = days.join(coverage.rename({"trading_day": "day"}), on="day", how="left").with_columns(
        (pl.col("day") - pl.duration(days=pl.col("day").dt.weekday().cast(pl.Int64) - 1)).alias("week"),
        (pl.col("day").dt.weekday().cast(pl.Int64) - 1).alias("wd"),
    )
    wdname = pl.col("wd").replace_strict(list(range(5)), list(WEEKDAYS), return_dtype=pl.String)
    pct = (100.0 * pl.col("present") / pl.col("expected")).fill_nan(100.0)
    df = df.with_columns(
        pl.when(pl.col("expected").is_null()).then(None).otherwise(pct).alias("z"),
        pl.when(pl.col("expected").is_null()).then(0.0).otherwise(None).alias("grey"),
        pl.when(pl.col("expected").is_null())
        .then(pl.format("{} ({}): closed", pl.col("day"), wdname))
        .otherwise(pl.format("{} ({}): {} of {} expected bars ({} %), {} outside session", pl.col("day"),
                             wdname, pl.col("present"), pl.col("expected"), pct.round(1),
                             pl.col("outside"))).alias("text"),
    ).sort("week", "wd")

    def grid(col: str) -> list[list]:
        wide = df.pivot(on="week", index="wd", values=col, sort_columns=True).sort("wd")
        return wide.drop("wd").rows()

    z, grey, text = grid("z"), grid("grey"), grid("text")
    x = [c for c in df.pivot(on="week", index="wd", values="z", sort_columns=True).columns if c != "wd"]
    fig = go.Figure()
    fig.add_trace(go.Heatmap(z=grey, x=x, y=list(WEEKDAYS), text=text, hoverinfo="text",
                             colorscale=[[0, "#d0d0d0"], [1, "#d0d0d0"]], showscale=False,
                             xgap=2, ygap=2, name="closed"))
    fig.add_trace(go.Heatmap(
        z=z, x=x, y=list(WEEKDAYS), text=text, hoverinfo="text", zmin=0, zmax=100, xgap=2, ygap=2,
        colorscale=[[0, "#b2182b"], [0.5, "#ef8a62"], [0.9, "#fddbc7"], [0.98, "#a1d99b"], [1, "#1a9850"]],
        colorbar={"title": "coverage %", "thickness": 12}, name="coverage"))
    fig.update_layout(title=title or None, height=230, margin={"l": 40, "r": 10, "t": 30 if title else 10,
                                                                 "b": 30},
                      yaxis={"autorange": "reversed"}, plot_bgcolor="rgba(0,0,0,0)",
                      paper_bgcolor="rgba(0,0,0,0)")
    return fig


def rangebreaks(cal: SessionCalendar, start: dt.date, end: dt.date, tz: str = ET) -> list[dict]:
    """Plotly rangebreaks for every closed period between the sessions of ``start..end``."""
    seg = cal.segments(start, end).sort("start")
    if seg.height < 2:
        return []
    local = seg.select(pl.col("start", "end").dt.convert_time_zone(tz).dt.replace_time_zone(None))
    gaps = pl.DataFrame({"a": local["end"][:-1], "b": local["start"][1:]}).filter(pl.col("b") > pl.col("a"))
    return [{"bounds": [a.isoformat(), b.isoformat()]} for a, b in gaps.iter_rows()]


def _every(n: int) -> str:
    for m in (1, 5, 15, 30, 60, 240):
        if n / m <= MAX_CANDLES:
            return f"{m}m"
    return "1d"


def candles(bars: pl.DataFrame, cal: SessionCalendar, start: dt.date, end: dt.date,
            tz: str = ET, title: str = "") -> go.Figure:
    """Candlesticks of the trading days ``start..end`` with calendar rangebreaks.

    More than :data:`MAX_CANDLES` bars are aggregated to 5/15/30/60/240-minute candles so the
    browser never gets more than a few thousand points.
    """
    seg = cal.segments(start, end)
    if seg.height:
        lo, hi = seg["start"].min(), seg["end"].max()
        bars = bars.filter(pl.col("datetime").is_between(lo, hi, closed="left"))
    every = _every(bars.height)
    if every != "1m" and bars.height:
        bars = bars.sort("datetime").group_by_dynamic("datetime", every=every).agg(
            pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
            pl.col("volume").sum())
    x = bars["datetime"].dt.convert_time_zone(tz).dt.replace_time_zone(None) if bars.height else []
    fig = go.Figure(go.Candlestick(
        x=x, open=bars["open"] if bars.height else [], high=bars["high"] if bars.height else [],
        low=bars["low"] if bars.height else [], close=bars["close"] if bars.height else [],
        name=f"{every} bars"))
    fig.update_layout(title=title or f"{every} candles (ET); hidden: closed periods of the calendar",
                      xaxis_rangeslider_visible=False, height=420,
                      margin={"l": 40, "r": 10, "t": 40, "b": 30})
    fig.update_xaxes(rangebreaks=rangebreaks(cal, start, end, tz))
    return fig


def gap_table(gaps: list, tz: str):
    """The Health page's gap table (pandas, every cell text or a number; times in ``tz``)."""
    zl = zone_label(tz)
    return pl.DataFrame({
        "class": [g.cls for g in gaps],
        f"start ({zl})": [to_et_text(g.start, tz) for g in gaps],
        f"end ({zl})": [to_et_text(g.end, tz) for g in gaps],
        "missing minutes": [g.missing for g in gaps],
        "p_no_trade": ["" if g.p_no_trade is None else f"{g.p_no_trade:.3g}" for g in gaps],
        "sessions": [g.sessions for g in gaps],
        "clock": [g.clock or "" for g in gaps],
        "acknowledged": ["yes" if g.acknowledged else "" for g in gaps],
    }, schema={"class": pl.String, f"start ({zl})": pl.String, f"end ({zl})": pl.String, "missing minutes": pl.Int64,
               "p_no_trade": pl.String, "sessions": pl.Int64, "clock": pl.String,
               "acknowledged": pl.String}).to_pandas()


def integrity_table(findings: list):
    """The Health page's integrity findings as a table (pandas)."""
    return pl.DataFrame({
        "severity": [f.severity for f in findings],
        "rule": [f.rule for f in findings],
        "rows": [f.count for f in findings],
        "first rows": [", ".join(map(str, f.rows[:5])) for f in findings],
        "first times": [", ".join(to_et_text(dt.datetime.fromisoformat(t)) for t in f.times[:3]) for f in findings],
    }).to_pandas()
