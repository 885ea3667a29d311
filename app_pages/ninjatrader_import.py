"""NinjaTrader import page: drop exports -> Verify -> Plan -> Import (background job).

The uploaded file name is display-only; the bytes go to datamgr. Import is enabled only after a
green verify or an explicit override, and runs in a background worker with progress.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from app_pages._common import job, settings, start_job, ticker
from datamgr.core.errors import DataMgrError
from datamgr.ingest.ninjatrader.verify import CANDIDATE_ZONES
from datamgr.ops.import_export import describe_export, guess_ticker, import_export, overlap_frame, verify_export

s = settings()
st.title("NinjaTrader import")
st.caption("Export from NinjaTrader 8 (Tools → Import/Export → Export Data, 1 Minute, Last) and drop the "
           "files here. Nothing is written until you press Import; every import is backed up first.")

uploads = st.file_uploader("Drop NinjaTrader exports (.txt / .csv)", type=["txt", "csv"],
                           accept_multiple_files=True, key="nt_uploads")
if not uploads:
    st.info("Drag and drop one or more exports above. Supported: NT8 minute / daily / tick files and CSV "
            "with a Date,Time,Open,High,Low,Close,Volume header.", icon=":material/upload_file:")
    st.stop()


def _fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _use_zone(fid: str, tz: str, stamp: str) -> None:
    st.session_state[f"tz:{fid}"] = tz
    st.session_state[f"stamp:{fid}"] = stamp
    st.session_state.pop(f"verify:{fid}", None)
    st.session_state.pop(f"plan:{fid}", None)


for up in uploads:
    fid = up.file_id
    name = up.name  # display only: never a path
    data = up.getvalue()
    with st.container(border=True):
        st.subheader(name)
        default_ticker = guess_ticker(name, s) or ticker()
        c1, c2, c3 = st.columns([1, 1, 1])
        tick = c1.text_input("Import into ticker", value=default_ticker, key=f"ticker:{fid}").strip().upper()
        try:
            inst = s.instrument(tick)
        except DataMgrError as err:
            st.error(str(err))
            continue
        zones = list(dict.fromkeys([inst.import_tz, *CANDIDATE_ZONES]))
        if st.session_state.get(f"tz:{fid}") not in zones:
            st.session_state[f"tz:{fid}"] = inst.import_tz
        tz = c2.selectbox("Export time zone", zones, key=f"tz:{fid}")
        stamp = c3.radio("Bar stamps", ["close", "open"], horizontal=True, key=f"stamp:{fid}",
                         help="NinjaTrader stamps a bar at its close; the import stores open times.")
        try:  # parsed once per (file, zone, stamp), not on every rerun
            dkey = ("describe", tz, stamp)
            cached = st.session_state.get(f"describe:{fid}")
            if not cached or cached[0] != dkey:
                cached = (dkey, describe_export(s, data, name, tz=tz, stamp=stamp))
                st.session_state[f"describe:{fid}"] = cached
            info = cached[1]
        except DataMgrError as err:
            st.error(str(err), icon=":material/error:")
            continue
        m = st.columns(5)
        m[0].metric("Format", info["format"])
        m[1].metric("Instrument (from name)", info["instrument"] or "?")
        m[2].metric("Rows", f"{info['rows']:,}")
        m[3].metric("Rejected rows", info["rejected"])
        m[4].metric("Interval", info["interval"])
        st.caption(f"Range (ET): {info['start']} → {info['end']}")

        key = (tick, tz, stamp)
        b1, b2, b3 = st.columns([1, 1, 2])
        if b1.button("Verify", key=f"btn_verify:{fid}", type="primary"):
            with st.spinner("Verifying alignment…"):
                try:
                    rep_ = verify_export(s, tick, data, name, tz=tz, stamp=stamp)
                    ofr_ = overlap_frame(s, tick, data, name, tz=tz, stamp=stamp) if rep_.overlap.bars else None
                    st.session_state[f"verify:{fid}"] = (key, rep_, ofr_)
                except DataMgrError as err:
                    st.error(str(err))
        ver = st.session_state.get(f"verify:{fid}")
        rep = ver[1] if ver and ver[0] == key else None
        if rep is not None:
            (st.success if rep.ok else st.error)(rep.message)
            for note in rep.notes:  # zone evidence (undecided), another contract month
                st.caption(note)
            st.dataframe([{"zone": z.tz, "stamp": z.stamp, "score": round(z.score, 4),
                           "in session": _fmt_pct(z.in_session), "session edges": _fmt_pct(z.edge_fit),
                           "master match": _fmt_pct(z.match_rate)} for z in rep.zone_ranking],
                         hide_index=True, key=f"rank:{fid}")
            best = rep.zone_ranking[0] if rep.zone_ranking else None
            if best is not None and not rep.ok and (best.tz, best.stamp) != (tz, stamp):
                st.button(f"Use {best.tz} ({best.stamp} stamps)", key=f"use:{fid}",
                          on_click=_use_zone, args=(fid, best.tz, best.stamp))
            ov = rep.overlap
            if ov.bars:
                st.caption(f"Overlap with the master: {ov.bars:,} bars, {_fmt_pct(ov.match_rate)} within one "
                           f"tick, best shift {ov.best_shift_minutes:+d} min, median volume ratio "
                           f"{ov.volume_ratio}")
                ofr = ver[2]
                fig = go.Figure()
                fig.add_scatter(x=ofr["datetime"].to_list(), y=ofr["existing"].to_list(), name="existing",
                                mode="lines")
                fig.add_scatter(x=ofr["datetime"].to_list(), y=ofr["incoming"].to_list(), name="new",
                                mode="lines", line={"dash": "dot"})
                fig.update_layout(height=300, margin={"t": 20, "b": 20}, xaxis_title="ET", yaxis_title="close")
                st.plotly_chart(fig, key=f"chart:{fid}")
            else:
                st.caption("No overlap with the existing master.")

        if b2.button("Plan (dry run)", key=f"btn_plan:{fid}"):
            try:
                st.session_state[f"plan:{fid}"] = (key, import_export(
                    s, tick, data, name, tz=tz, stamp=stamp, dry_run=True, force=True))
            except DataMgrError as err:
                st.error(str(err))
        pl_ = st.session_state.get(f"plan:{fid}")
        plan = pl_[1] if pl_ and pl_[0] == key else None
        if plan is not None:
            j = plan.to_json()
            p = st.columns(6)
            for col, (label, k) in zip(p, [("New", "new"), ("Identical", "identical"), ("Conflicts", "conflicts"),
                                          ("Replaced", "replaced"), ("Outside sessions", "outside_session"),
                                          ("Result rows", "result_rows")]):
                col.metric(label, f"{j[k]:,}")
            st.caption(f"Result range (ET): {j['start']} → {j['end']}; rejected rows: {j['rejected']}")
            if j.get("roll"):
                st.info(j["roll"]["message"], icon=":material/swap_horiz:")
            if j["conflict_rows"]:
                st.markdown("**Conflicts** (first 50; winner by source precedence)")
                st.dataframe(j["conflict_rows"], hide_index=True, key=f"conf:{fid}")
            if j["rejects"]:
                st.markdown("**Rejected rows**")
                st.dataframe(j["rejects"], hide_index=True, key=f"rej:{fid}")

        override = b3.checkbox("Import despite a FAIL verdict", key=f"override:{fid}",
                               disabled=rep is None or rep.ok)
        running = job(f"import:{fid}")
        can = rep is not None and (rep.ok or override) and not (running and running.running)
        if b3.button("Import", key=f"btn_import:{fid}", disabled=not can,
                     help="Enabled after a green Verify (or the override)."):
            start_job(f"import:{fid}", f"import {name}", import_export, s, tick, data, name, tz=tz, stamp=stamp,
                      force=bool(override))
            st.session_state.pop(f"verify:{fid}", None)
            st.session_state.pop(f"plan:{fid}", None)
            st.rerun()

        j = job(f"import:{fid}")
        if j is not None and j.running:
            @st.fragment(run_every=0.5)
            def _poll(k: str = f"import:{fid}") -> None:
                jj = job(k)
                st.progress(jj.fraction, text=jj.message)
                if not jj.running:
                    st.rerun(scope="app")
            _poll()
        elif j is not None and not st.session_state.get(f"toasted:{fid}:{id(j)}"):
            st.session_state[f"toasted:{fid}:{id(j)}"] = True
            if j.state == "done":
                r = j.result.to_json()
                what = (f"Imported {name}: {r['new']:,} new, {r['replaced']:,} replaced → {r['result_rows']:,} rows"
                        if r["written"] else f"{name}: nothing to import (all bars already present)")
                backup = f" · backup {r['backup']}" if r["backup"] else ""
                st.toast(what + backup, icon=":material/check_circle:")
                st.success(what + backup)
                if r["derived_error"]:
                    st.warning(f"Derived data: {r['derived_error']}")
            else:
                st.toast(f"Import of {name} failed", icon=":material/error:")
                st.error(f"Import failed, nothing was changed: {j.error_text}")
        elif j is not None and j.state == "done":
            r = j.result.to_json()
            st.success(f"Imported {name}: {r['new']:,} new, {r['replaced']:,} replaced → {r['result_rows']:,} rows"
                       if r["written"] else f"{name}: nothing to import (all bars already present)")
