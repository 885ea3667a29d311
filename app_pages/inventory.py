"""Inventory page: every file of the data folder, from footers only, times in the display zone.

Renders from one cached answer (:func:`datamgr.ops.answers.inventory_view`): a rerun on unchanged
files recomputes nothing; the detail panel's preview is cached by the file's state too."""

from __future__ import annotations

import streamlit as st

from app_pages._common import job_panel, running, settings, show_table, start_job, when
from datamgr.ops import answers
from datamgr.ops.demo import write_demo
from datamgr.ops.inventory import FLAG_ICONS

s = settings()
st.title("Inventory")

view = answers.inventory_view(s)
files = view.files

# ---- first run: offer demo data ---------------------------------------------------------
if not files:
    st.info(f"The data folder `{s.data_dir}` is empty. Import a NinjaTrader export, or start with demo "
            "data: a few months of synthetic ES1 1-minute bars on the real CME calendar, labelled "
            "`source=demo`, with a few planted gaps.", icon=":material/info:")
    if st.button("Create demo data", type="primary", disabled=running("demo")):
        start_job("demo", "demo", write_demo, s, "ES1")
demo_job = job_panel("demo", title="Creating demo data", failed="Demo data failed: ")
if demo_job is not None and demo_job.running:
    st.stop()
if not files:
    st.stop()

# ---- metrics ------------------------------------------------------------------------------
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Files", view.n_files)
c2.metric("1m masters", view.n_masters)
c3.metric("Bars (all market files)", f"{view.bars:,}")
c4.metric("Size on disk", f"{view.size_bytes / 1e6:,.1f} MB")
c5.metric("Flagged", view.flagged)
if view.newest is not None:
    st.caption(f"Newest 1m bar: {when(view.newest)} · times in each instrument's zone (ET; IST for NSE)")
if view.demo:
    st.warning("Demo data: the bars labelled `source=demo` are synthetic, not market prices. Import a "
               "NinjaTrader export to work with real data.", icon=":material/science:")

FLAG_HELP = ("Flags: " + " · ".join(f"{icon} {key}" for key, icon in dict(
    (k, i) for k, i in FLAG_ICONS if k not in ("gap", "missing", "not checked")).items())
             + ". Select a row for the full text.")

# ---- tables ---------------------------------------------------------------------------------
COLS = {
    "file": st.column_config.TextColumn("file", width=176),
    "rows": st.column_config.TextColumn("rows", width=72),
    "start": st.column_config.TextColumn("start", width=136),
    "end": st.column_config.TextColumn("end", width=136),
    "updated": st.column_config.TextColumn("updated", width=136),
    "size MB": st.column_config.NumberColumn("size", format="%.2f MB", width=76),
    "coverage": st.column_config.TextColumn("coverage", width=80,
                                            help="1m masters: present in-session bars / expected bars (stray prints excluded)"),
    "flags": st.column_config.TextColumn("flags", width=64, help=FLAG_HELP),
}
selected: list = []
tabs = st.tabs(["Market Data", "Derived Assets", "Other"])
for tab, cat in zip(tabs, ("market", "derived", "other")):
    with tab:
        subset = view.by_category[cat]
        if not subset:
            st.caption("No files in this category.")
            continue
        if cat == "other" and any(f.role == "backup" for f in subset):
            st.caption("Backups: the verification state is from the last **Verify** on the Backups page.")
        ev = show_table(view.tables[cat], width="stretch", column_config=COLS, key=f"inv_{cat}",
                        on_select="rerun", selection_mode="single-row")
        rows = ev.selection.rows if ev is not None and hasattr(ev, "selection") else []
        if rows:
            f = subset[rows[0]]
            selected.append(f)
            with st.container(border=True):
                st.markdown(f"**{f.name}** · {f.role}" + (f" · {f.ticker} {f.timeframe}" if f.timeframe else "")
                            + (f" · generation {f.generation}" if f.generation is not None else ""))
                for fl in f.flags:
                    st.markdown(f"- {fl}")
                if not f.flags:
                    st.caption("No flags.")

# ---- detail panel -------------------------------------------------------------------------
bar_files = view.bar_files
if bar_files:
    st.subheader("File detail")
    pick = next((f.name for f in selected if f.name in bar_files), None)
    if pick is not None:
        st.session_state["inv_detail"] = pick
    name = st.selectbox("File", bar_files, key="inv_detail")
    info = answers.preview(s, name)
    if "error" in info:
        st.warning(info["error"])
    else:
        meta = info["meta"]
        left, right = st.columns([1, 2])
        with left:
            st.markdown("**Schema**")
            show_table({"column": [c for c, _ in info["schema"]], "type": [t for _, t in info["schema"]]})
            st.markdown(f"**Generation** {meta.generation if meta.generation is not None else '—'} · "
                        f"**written** {when(meta.written_at) if meta.written_at else '—'}")
            if meta.sources:
                st.markdown("**Sources** " + ", ".join(f"{k}: {v:,}" for k, v in meta.sources.items()))
            if meta.content_sha256:
                st.caption(f"content sha256 `{meta.content_sha256[:16]}…`")
            for p in meta.problems:
                st.warning(p)
        with right:
            st.markdown("**First bars**")
            if info["head"] is not None:
                show_table(info["head"], width="stretch")
            st.markdown("**Last bars**")
            if info["tail"] is not None:
                show_table(info["tail"], width="stretch")
