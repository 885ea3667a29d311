"""Chart page: any bar file of the ticker at any timeframe, candles + volume with the calendar's
rangebreaks, gaps shaded by class, source and generation on hover; export or delete a range."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app_pages._common import job_panel, running, settings, show_error, start_job, ticker, when
from datamgr.calendar.sessions import calendar_for
from datamgr.core.errors import DataMgrError
from datamgr.ops.ranges import (
    DELETABLE,
    FORMATS,
    chart_data,
    delete_range,
    export_bytes,
    export_file_name,
    plan_delete,
    ticker_files,
)
from datamgr.plots.chart import chart_figure

s = settings()
t = ticker()
st.title(f"Chart · {t}")
files = ticker_files(s, t)
if not files:
    st.info(f"No bar files for {t} yet. Import a NinjaTrader export or create demo data on the Inventory page.",
            icon=":material/info:")
    st.stop()

by_tf = {f.timeframe: f for f in files}
c1, c2 = st.columns([1, 3])
tf = c1.selectbox("Timeframe", list(by_tf), key=f"chart_tf:{t}",
                  format_func=lambda x: f"{x} · {by_tf[x].rows:,} bars")
span = by_tf[tf]
if span.first_day is None or span.last_day is None:
    st.info(f"{t}_{tf}.parquet has no bars.")
    st.stop()
default_start = max(span.first_day, span.last_day - dt.timedelta(days=4 if tf == "1m" else 365))
picked = c2.date_input("Trading days", value=(default_start, span.last_day), min_value=span.first_day,
                       max_value=span.last_day, key=f"chart_days:{t}:{tf}")
if not (isinstance(picked, tuple) and len(picked) == 2):
    st.caption("Pick the last day of the range.")
    st.stop()
start, end = picked

data = chart_data(s, t, tf, start, end)
st.plotly_chart(chart_figure(data, calendar_for(s, t), s.display_tz), key="chart_main",
                config={"displaylogo": False})
shown = f"{data.bars.height:,} candles of {data.candle}"
if data.aggregated:
    shown += f", aggregated from {data.stored_rows:,} {tf} bars (at most 3,000 are drawn)"
gaps = {c: sum(1 for g in data.gaps if g["cls"] == c) for c in ("hole", "recurring", "edge")}
st.caption(f"{shown} · generation {data.generation if data.generation is not None else '—'} · "
           f"gaps shaded: {gaps['hole']} hole(s) (red), {gaps['recurring']} recurring (orange), "
           f"{gaps['edge']} edge (grey) · closed periods of the calendar are hidden")

# ---- range tools --------------------------------------------------------------------------
st.subheader("Range tools")
tab_export, tab_delete = st.tabs(["Export this range", "Delete this range"])
with tab_export:
    fmt = st.radio("Format", FORMATS, horizontal=True, key="chart_export_fmt")
    st.download_button(f"Download {data.stored_rows:,} bars ({fmt})",
                       lambda: export_bytes(s, t, tf, data.lo, data.last, fmt)[0],  # encoded on click only
                       file_name=export_file_name(t, tf, start, end, fmt),
                       mime="text/csv" if fmt == "csv" else "application/octet-stream", key="chart_download",
                       disabled=data.stored_rows == 0)
    st.caption("Exactly the bars of the chart's window. CSV: bar open times in ET with their offset; "
               "Parquet: the store's own columns (UTC).")

with tab_delete:
    KEY = f"delete:{t}"
    if tf not in DELETABLE:
        st.info(f"{tf} bars are rebuilt from the 1m master: pick the 1m timeframe to delete a range.",
                icon=":material/info:")
    else:
        try:
            plan = plan_delete(s, t, data.lo, data.last, timeframe=tf)
        except DataMgrError as err:
            show_error(err)
            st.stop()
        if plan.deleted == 0:
            st.caption("No bars in this range.")
        else:
            st.warning(f"Deletes **{plan.deleted:,}** bar(s) of **{plan.file}** from {when(plan.first_deleted)} "
                       f"to {when(plan.last_deleted)} ({plan.rows_before:,} → {plan.rows_after:,} rows; about "
                       f"{(plan.size_after - plan.size_before) / 1e6:+.2f} MB). The current file is backed up "
                       "first and the deletion is journaled; derived data is regenerated.",
                       icon=":material/delete:")
            typed = st.text_input(f"Type {plan.file} to confirm", key=f"chart_confirm:{t}:{tf}")
            if st.button("Delete range", type="primary", key="chart_delete",
                         disabled=typed.strip() != plan.file or running(KEY)):
                start_job(KEY, f"delete {plan.file}", delete_range, s, t, data.lo, data.last, timeframe=tf,
                          confirm=True)
                st.rerun()

        def _done(j) -> None:
            r = j.result
            st.success(f"Deleted {r.deleted:,} bar(s) from {r.file}; backup {r.backup}.",
                       icon=":material/check_circle:")
            if r.derived_error:
                st.warning(f"Derived data: {r.derived_error}")

        job_panel(KEY, title="Deleting", failed="Nothing was deleted: ", on_done=_done)
