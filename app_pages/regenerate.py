"""Regenerate page: stale derived outputs, run all / selected steps in a background job with
progress and timings, and a view of each output."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import job_panel, running, settings, show_table, start_job, ticker
from datamgr.derived.lineage import LABELS, load_output
from datamgr.derived.regenerate import STEPS, regenerate, stale_outputs
from datamgr.plots import derived as pdv

s = settings()
t = ticker()
st.title("Regenerate derived data")
st.caption(f"{t}: upsampled 5m/15m/1h/4h bars, daily HOD/LOD, session profiler, level touches and web "
           "chart chunks, all built from the 1m master. Runs after every import; run it here on demand.")

# ---- stale outputs ------------------------------------------------------------------------
stale = stale_outputs(s, t)
if stale:
    st.warning(f"{len(stale)} derived output(s) do not follow the master:", icon=":material/warning:")
    show_table(pd.DataFrame([x.to_json() for x in stale])[["message", "path", "reason"]], width="stretch")
else:
    st.success("All derived data follows the 1m master.", icon=":material/check_circle:")

# ---- run --------------------------------------------------------------------------------
KEY = f"regenerate:{t}"
c1, c2 = st.columns([3, 1])
chosen = c1.multiselect("Steps", list(STEPS), default=list(STEPS), format_func=lambda x: LABELS[x])
full = c2.checkbox("Full rebuild", help="Recompute every trading day instead of only the changed ones.")
if st.button("Run regeneration", type="primary", disabled=running(KEY) or not chosen):
    start_job(KEY, "regenerate", regenerate, s, t, steps=chosen, full=full)
    st.rerun()


def _timings(rep) -> pd.DataFrame:
    return pd.DataFrame([{"step": LABELS[x.step], "mode": x.mode, "days": x.days,
                          "seconds": round(x.seconds, 3), "outputs": len(x.outputs),
                          "result": x.error or "ok"} for x in rep.steps])


def _finished(j) -> None:
    rep = j.result
    if not rep.ok:
        with st.status(f"Regeneration failed: {rep.error}", state="error", expanded=True):
            show_table(_timings(rep))
    else:
        with st.status(f"Regeneration finished in {rep.seconds:.2f} s", state="complete", expanded=True):
            st.progress(1.0, text="done")
            show_table(_timings(rep))


job_panel(KEY, title=f"Regenerating {t}", steps=True, failed="Regeneration failed: ", on_done=_finished)

# ---- views ------------------------------------------------------------------------------
st.subheader("Outputs")
tabs = st.tabs(["HOD/LOD", "Profiler", "Level touches", "Web chunks"])
with tabs[0]:
    doc = load_output(s, t, "hod_lod")
    if doc is None:
        st.info("No HOD/LOD output yet: run the regeneration.")
    else:
        rth = st.toggle("RTH (09:30-16:00 ET) instead of the whole session", key="hod_rth")
        st.plotly_chart(pdv.hod_lod_figure(doc, rth=rth), width="stretch")
        show_table(pdv.hod_lod_frame(doc).iloc[::-1].head(200))
with tabs[1]:
    doc = load_output(s, t, "profiler")
    if doc is None:
        st.info("No profiler output yet: run the regeneration.")
    else:
        show_table(pdv.profiler_summary_frame(doc))
        session = st.selectbox("Session", doc.get("sessions", []), key="prof_session")
        if session:
            st.plotly_chart(pdv.profiler_hist_figure(doc, session), width="stretch")
            show_table(pdv.profiler_days_frame(doc, session).iloc[::-1].head(200))
with tabs[2]:
    doc = load_output(s, t, "levels")
    if doc is None:
        st.info("No level touches output yet: run the regeneration.")
    else:
        st.plotly_chart(pdv.levels_figure(doc), width="stretch")
        show_table(pdv.levels_summary_frame(doc))
        st.caption("pdc = the prior day's settlement from the 1d file when it has that day, else the last "
                   "1m close; rth_open counts touches from the second RTH bar on.")
with tabs[3]:
    doc = load_output(s, t, "web")
    if doc is None:
        st.info("No web chunks yet: run the regeneration.")
    else:
        show_table(pdv.web_index_frame(doc))
