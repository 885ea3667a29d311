"""Plotly figures and display tables for the derived outputs (no Streamlit here).

Each function takes the JSON document of an output (:func:`datamgr.derived.lineage.load_output`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

_ANCHOR = 18 * 60


def _tod(iso: pd.Series) -> pd.Series:
    """ISO ET strings -> minutes since 18:00 ET (the session open), for a time-of-day axis."""
    hh = iso.str.slice(11, 13).astype("Int64")
    mm = iso.str.slice(14, 16).astype("Int64")
    return (hh * 60 + mm - _ANCHOR) % 1440


def _tod_axis() -> dict[str, Any]:
    vals = list(range(0, 1440, 120))
    return {"tickvals": vals, "ticktext": [f"{((v + _ANCHOR) % 1440) // 60:02d}:00" for v in vals],
            "title": "time of day (ET, from the 18:00 open)"}


def hod_lod_frame(doc: dict) -> pd.DataFrame:
    """The HOD/LOD days as a table (times stay ISO ET strings)."""
    return pd.DataFrame(doc.get("days", []))


def hod_lod_figure(doc: dict, rth: bool = False) -> go.Figure:
    """Scatter of the time of day of each trading day's high and low (session or RTH)."""
    df = hod_lod_frame(doc)
    fig = go.Figure()
    p = "rth_" if rth else ""
    if not df.empty:
        part = df["partial"].fillna(False).astype(bool) if "partial" in df else pd.Series(False, index=df.index)
        for key, name, color in (("high", "High", "#2e7d32"), ("low", "Low", "#c62828")):
            for is_partial in (False, True):  # partial sessions: hollow markers, their own legend entry
                d = df[part == is_partial].dropna(subset=[f"{p}{key}_time"])
                if d.empty:
                    continue
                fig.add_trace(go.Scattergl(
                    x=pd.to_datetime(d["date"]), y=_tod(d[f"{p}{key}_time"]), mode="markers",
                    name=f"{name} of day" + (" (partial session)" if is_partial else ""),
                    marker={"size": 5, "color": color, "opacity": 0.6,
                            "symbol": "circle-open" if is_partial else "circle"},
                    customdata=d[[f"{p}{key}", f"{p}{key}_time"]].to_numpy(),
                    hovertemplate="%{x|%Y-%m-%d}: %{customdata[0]} at %{customdata[1]}"
                                  + (" (partial session)" if is_partial else "") + "<extra></extra>"))
    fig.update_layout(title=f"Time of the day's {'RTH ' if rth else ''}high and low", height=420,
                      yaxis=_tod_axis(), xaxis_title="trading day", margin={"t": 50, "b": 40})
    return fig


def profiler_summary_frame(doc: dict) -> pd.DataFrame:
    """One row per session: days, % setting the day high/low, range percentiles."""
    rows = [{"session": name, "days": s["days"], "partial days left out": s.get("partial_days_excluded", 0),
             "sets day high %": s["sets_day_high_pct"],
             "sets day low %": s["sets_day_low_pct"], "range p25": s["range_p25"],
             "range p50": s["range_p50"], "range p75": s["range_p75"]}
            for name, s in doc.get("summary", {}).items()]
    return pd.DataFrame(rows)


def profiler_days_frame(doc: dict, session: str) -> pd.DataFrame:
    """Per trading day, the session's row (days without that session are left out); ``partial``
    marks the days the summary statistics leave out."""
    rows = [{"date": d["date"], **d[session], "partial": bool(d.get("partial"))}
            for d in doc.get("days", []) if d.get(session)]
    return pd.DataFrame(rows)


def profiler_hist_figure(doc: dict, session: str) -> go.Figure:
    """Histogram (30-minute ET buckets) of when the session made its high and its low."""
    s = doc.get("summary", {}).get(session, {})
    fig = go.Figure()
    for key, name, color in (("high_time_hist", "High", "#2e7d32"), ("low_time_hist", "Low", "#c62828")):
        hist = s.get(key, {})
        fig.add_trace(go.Bar(x=list(hist), y=list(hist.values()), name=name, marker_color=color))
    fig.update_layout(title=f"{session}: when the session high / low was made", barmode="group", height=360,
                      xaxis_title="30-minute bucket (ET)", yaxis_title="days", margin={"t": 50, "b": 40})
    return fig


def levels_summary_frame(doc: dict) -> pd.DataFrame:
    rows = [{"level": k, "days": v["days"], "touched": v.get("touched"),
             "touch rate %": None if v["touch_rate"] is None else round(100 * v["touch_rate"], 2)}
            for k, v in doc.get("summary", {}).items()]
    return pd.DataFrame(rows)


def levels_figure(doc: dict) -> go.Figure:
    """Bar chart of RTH touch rates per level."""
    df = levels_summary_frame(doc)
    fig = go.Figure(go.Bar(x=df.get("level", []), y=df.get("touch rate %", []), marker_color="#1565c0",
                           text=df.get("touch rate %", []), textposition="outside"))
    fig.update_layout(title="Share of days RTH touched the level", yaxis_title="% of days", yaxis_range=[0, 105],
                      height=360, margin={"t": 50, "b": 40})
    return fig


def web_index_frame(doc: dict) -> pd.DataFrame:
    return pd.DataFrame(doc.get("chunks", []))
