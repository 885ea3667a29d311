"""Inventory page: every file of the data folder, from footers only, times in each instrument's zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import streamlit as st

from app_pages._common import job, settings, start_job
from datamgr.core.timefmt import to_et_text, zone_label
from datamgr.ops.demo import write_demo
from datamgr.ops.inventory import preview, scan, to_frame

s = settings()
st.title("Inventory")

files = scan(s)

# ---- first run: offer demo data ---------------------------------------------------------
demo_job = job("demo")
if not files:
    st.info(f"The data folder `{s.data_dir}` is empty. Import a NinjaTrader export, or start with demo "
            "data: a few months of synthetic ES1 1-minute bars on the real CME calendar, labelled "
            "`source=demo`, with a few planted gaps.", icon=":material/info:")
    if st.button("Create demo data", type="primary", disabled=bool(demo_job and demo_job.running)):
        demo_job = start_job("demo", "demo", write_demo, s, "ES1")

if demo_job is not None and demo_job.running:
    @st.fragment(run_every=0.5)
    def _poll() -> None:
        j = job("demo")
        st.progress(j.fraction, text=j.message)
        if not j.running:
            st.rerun()
    _poll()
    st.stop()
if demo_job is not None and demo_job.state == "failed":
    st.error(f"Demo data failed: {demo_job.error_text}")

if not files:
    st.stop()

# ---- metrics ------------------------------------------------------------------------------
market = [f for f in files if f.category == "market"]
masters = [f for f in market if f.role == "master"]
flagged = [f for f in files if f.flags]
newest = max((f.end for f in masters if f.end), default=None)
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Files", len(files))
c2.metric("1m masters", len(masters))
c3.metric("Bars (all market files)", f"{sum(f.rows or 0 for f in market):,}")
c4.metric("Size on disk", f"{sum(f.size_bytes for f in files) / 1e6:,.1f} MB")
c5.metric("Flagged", len(flagged))
if newest is not None:
    zones = sorted({zone_label(s.display_tz_for(f.ticker)) for f in masters if f.ticker})
    st.caption(f"Newest 1m bar: {newest.astimezone(ZoneInfo(s.display_tz)):%Y-%m-%d %H:%M} ET"
               f" · times in each instrument's zone (column zone: {', '.join(zones) or 'ET'})")
if any("demo data" in fl for f in masters for fl in f.flags):
    st.warning("Demo data: the bars labelled `source=demo` are synthetic, not market prices. Import a "
               "NinjaTrader export to work with real data.", icon=":material/science:")

# ---- tables ---------------------------------------------------------------------------------
COLS = {
    "start": st.column_config.DatetimeColumn("start", format="YYYY-MM-DD HH:mm"),
    "end": st.column_config.DatetimeColumn("end", format="YYYY-MM-DD HH:mm"),
    "last updated": st.column_config.DatetimeColumn("last updated", format="YYYY-MM-DD HH:mm"),
    "zone": st.column_config.TextColumn("zone", help="the instrument's display zone: ET (US Eastern), IST (India)"),
    "size MB": st.column_config.NumberColumn("size", format="%.2f MB"),
    "rows": st.column_config.NumberColumn("rows", format="localized"),
    "coverage": st.column_config.ProgressColumn("coverage", format="%.2f%%", min_value=0, max_value=100,
                                                help="present in-session bars / expected bars (stray prints excluded)"),
    "flags": st.column_config.ListColumn("flags"),
}
tabs = st.tabs(["Market Data", "Derived Assets", "Other"])
for tab, cat in zip(tabs, ("market", "derived", "other")):
    with tab:
        subset = [f for f in files if f.category == cat]
        if not subset:
            st.caption("No files in this category.")
            continue
        zones = {f.ticker: s.display_tz_for(f.ticker) for f in subset if f.ticker}
        st.dataframe(to_frame(subset, s.display_tz, zones), hide_index=True, width="stretch", column_config=COLS,
                     key=f"inv_{cat}")

# ---- detail panel -------------------------------------------------------------------------
bar_files = [f.name for f in market]
if bar_files:
    st.subheader("File detail")
    name = st.selectbox("File", bar_files, key="inv_detail")
    info = preview(s, name)
    if "error" in info:
        st.warning(info["error"])
    else:
        meta = info["meta"]
        left, right = st.columns([1, 2])
        with left:
            st.markdown("**Schema**")
            st.dataframe({"column": [c for c, _ in info["schema"]], "type": [t for _, t in info["schema"]]},
                         hide_index=True)
            ftz = s.display_tz_for(meta.ticker) if meta.ticker else s.display_tz
            written = to_et_text(dt.datetime.fromisoformat(meta.written_at), ftz) if meta.written_at else "—"
            st.markdown(f"**Generation** {meta.generation if meta.generation is not None else '—'} · "
                        f"**written** {written}")
            if meta.sources:
                st.markdown("**Sources** " + ", ".join(f"{k}: {v:,}" for k, v in meta.sources.items()))
            if meta.content_sha256:
                st.caption(f"content sha256 `{meta.content_sha256[:16]}…`")
            for p in meta.problems:
                st.warning(p)
        with right:
            st.markdown(f"**First bars ({zone_label(ftz)})**")
            if info["head"] is not None:
                st.dataframe(info["head"], hide_index=True, width="stretch")
            st.markdown(f"**Last bars ({zone_label(ftz)})**")
            if info["tail"] is not None:
                st.dataframe(info["tail"], hide_index=True, width="stretch")
