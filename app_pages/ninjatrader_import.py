"""Import page: drop NinjaTrader / TradingView exports -> verified on drop -> plan -> Import (background job).

One :class:`~datamgr.ingest.draft.ImportDraft` per upload: the bytes are parsed once and the master
read once; verify and plan are cached in the draft. The uploaded file name is display-only (it
suggests the instrument and contract) and is shown literally (escaped wherever markdown would render
it). Import is enabled after a green verify (or the explicit
override) and, for a guarded plan, after the count of changing bars is typed.
"""

from __future__ import annotations

import streamlit as st

from app_pages._common import job, job_panel, reload_settings, settings, show_table, start_job, ticker, when
from datamgr.core.errors import DataMgrError
from datamgr.ingest.ninjatrader.verify import CANDIDATE_ZONES
from datamgr.ops.import_export import ImportDraft, commit, guess_ticker
from datamgr.ops.remember import remember_zone
from datamgr.plots.imports import literal, overlap_figure, page_text, plan_figure, with_literal

st.title("NinjaTrader import")
st.caption("Export from NinjaTrader 8 (Tools → Import/Export → Export Data, 1 Minute, Last) or a TradingView chart "
           "(Export chart data) and drop the files here. Nothing is written until you press Import; every import "
           "is backed up first.")

uploads = st.file_uploader("Drop NinjaTrader or TradingView exports (.txt / .csv)", type=["txt", "csv"],
                           accept_multiple_files=True, key="nt_uploads")
if not uploads:
    st.info("Drag and drop one or more exports above. Supported: NT8 minute / daily / tick files, CSV with a "
            "Date,Time,Open,High,Low,Close,Volume header, and TradingView chart exports (time,open,high,low,close,"
            "Volume).", icon=":material/upload_file:")
    st.stop()


def _say(message: str, name: str) -> str:
    """A library message for the page: buttons instead of flags, the upload's name shown literally."""
    return with_literal(page_text(message), name)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _use_zone(fid: str, tz: str, stamp: str) -> None:
    st.session_state[f"tz:{fid}"] = tz
    st.session_state[f"stamp:{fid}"] = stamp


def _draft(fid: str, up) -> ImportDraft | None:
    """The upload's draft, parsed once (a parse error is shown once and kept)."""
    if f"draft:{fid}" not in st.session_state:
        try:
            st.session_state[f"draft:{fid}"] = ImportDraft(settings(), up.getvalue(), up.name)
        except DataMgrError as err:
            st.session_state[f"draft:{fid}"] = str(err)
    d = st.session_state[f"draft:{fid}"]
    if isinstance(d, str):
        st.error(_say(d, up.name), icon=":material/error:")
        return None
    return d


def _zone_inputs(fid: str, draft: ImportDraft, tick: str, cols) -> tuple[str | None, str | None]:
    """Zone and stamp pickers; on the first render for a ticker: the instrument's configured or
    remembered zone, replaced by the best-fitting one when the ranking is decisive."""
    inst = settings().instrument(tick)
    if draft.parsed.zone_known:
        cols[0].caption(f"Export time zone: the file's times carry their zone ({draft.parsed.zone})")
        cols[1].caption("Bar stamps: open (TradingView)")
        return None, None
    zones = list(dict.fromkeys([inst.import_tz, *CANDIDATE_ZONES]))
    if st.session_state.get(f"init:{fid}") != tick:
        st.session_state[f"init:{fid}"] = tick
        tz, stamp = inst.import_tz, draft.parsed.fixed_stamp or inst.import_stamp
        best = draft.best_zone(tick) if draft.parsed.fixed_stamp is None else None
        note = f"Using the zone configured for {tick}: {tz} ({stamp} stamps)."
        if best is not None and (best.tz, best.stamp) != (tz, stamp):
            tz, stamp = best.tz, best.stamp
            note = f"Preselected the best fit: {tz} ({stamp} stamps); {tick} is configured for {inst.import_tz}."
        st.session_state[f"tz:{fid}"], st.session_state[f"stamp:{fid}"] = tz, stamp
        st.session_state[f"zonenote:{fid}"] = note
    tz = cols[0].selectbox("Export time zone", zones, key=f"tz:{fid}")
    stamp = cols[1].radio("Bar stamps", ["close", "open"], horizontal=True, key=f"stamp:{fid}",
                          disabled=draft.parsed.fixed_stamp is not None,
                          help="NinjaTrader stamps a bar at its close; the import stores open times.")
    st.caption(st.session_state.get(f"zonenote:{fid}", ""))
    return tz, stamp


def _describe(draft: ImportDraft, tick: str, tz: str | None, stamp: str | None) -> None:
    info = draft.describe(tick, tz, stamp)
    m = st.columns(5)
    m[0].metric("Format", info["format"])
    contract = f" {info['contract']}" if info["contract"] else ""
    m[1].metric("Instrument (from name)", (info["instrument"] or "?") + contract)
    m[2].metric("Rows", f"{info['rows']:,}")
    m[3].metric("Rejected rows", info["rejected"])
    m[4].metric("Interval", info["interval"])
    st.caption(f"Range with the bars placed in {info['tz']} ({info['stamp']} stamps): "
               f"{when(info['start'])} → {when(info['end'])}")


def _verify(fid: str, draft: ImportDraft, tick: str, tz: str | None, stamp: str | None):
    rep = draft.verify(tick, tz, stamp)
    (st.success if rep.ok else st.error)(_say(rep.message, draft.name))
    for n in rep.notes:
        st.caption(_say(n, draft.name))
    if rep.zone_ranking:
        st.dataframe([{"zone": z.tz, "stamp": z.stamp, "score": round(z.score, 4), "in session": _pct(z.in_session),
                       "session edges": _pct(z.edge_fit), "master match": _pct(z.match_rate)}
                      for z in rep.zone_ranking], hide_index=True, key=f"rank:{fid}")
        best = rep.zone_ranking[0]
        if not rep.ok and (best.tz, best.stamp) != (rep.tz, rep.stamp):
            st.button(f"Use {best.tz} ({best.stamp} stamps)", key=f"use:{fid}", on_click=_use_zone,
                      args=(fid, best.tz, best.stamp))
    inst = settings().instrument(tick)
    if rep.ok and rep.zone_ranking and (rep.tz, rep.stamp) != (inst.import_tz, inst.import_stamp):
        if st.button(f"Remember {rep.tz} ({rep.stamp} stamps) for {tick}", key=f"remember:{fid}",
                     help=f"Store this zone for {tick} in datamgr.toml: later imports without a zone use it."):
            r = remember_zone(settings(), tick, rep.tz, rep.stamp)
            reload_settings()
            st.session_state[f"remembered:{fid}"] = r.message()
            st.rerun()
    if st.session_state.get(f"remembered:{fid}"):
        msg = st.session_state[f"remembered:{fid}"]
        st.success(msg[:1].upper() + msg[1:], icon=":material/bookmark:")
    ov = rep.overlap
    if ov.bars:
        st.caption(f"Overlap with the master: {ov.bars:,} bars, {_pct(ov.match_rate)} within one tick, best shift "
                   f"{ov.best_shift_minutes:+d} min, median volume ratio {ov.volume_ratio}")
        st.plotly_chart(overlap_figure(draft.overlap(tick, tz, stamp)), key=f"chart:{fid}")
    else:
        st.caption("No overlap with the existing master.")
    return rep


def _plan(fid: str, draft: ImportDraft, tick: str, tz: str | None, stamp: str | None):
    key = (tick, tz, stamp)
    cached = st.session_state.get(f"plan:{fid}")
    if not cached or cached[0] != key:
        cached = (key, draft.plan(tick, tz, stamp))
        st.session_state[f"plan:{fid}"] = cached
    plan = cached[1]
    st.markdown("**Plan** (dry run: nothing is written until you press Import)")
    p, mp = st.columns(6), plan.merge
    for col, (label, v) in zip(p, [("New", mp.new), ("Identical", mp.identical), ("Conflicts", mp.conflicts),
                                   ("Replaced", mp.replaced), ("Outside sessions", plan.verify.outside_session),
                                   ("Result rows", mp.result_rows)]):
        col.metric(label, f"{v:,}")
    j = mp.to_json()
    st.caption(f"Result range: {when(j['start'])} → {when(j['end'])}; rejected rows: {len(plan.verify.rejects)}")
    if plan.roll is not None:  # another contract month: the master switches contract once
        st.info(_say(plan.roll.describe(), draft.name), icon=":material/swap_horiz:")
    if j["conflict_rows"]:
        with st.expander(f"Conflicts ({mp.conflicts:,}; first 50, winner by source precedence)"):
            show_table(j["conflict_rows"], key=f"conf:{fid}")
    if plan.verify.rejects:
        with st.expander(f"Rejected rows ({len(plan.verify.rejects):,})"):
            show_table([r.to_json() for r in plan.verify.rejects[:200]], key=f"rej:{fid}")
    return plan


def _guard(fid: str, draft: ImportDraft, plan) -> int | None:
    """The typed confirmation of a guarded plan; the confirmed count, or None."""
    g = plan.guard
    if not g.required:
        return None
    st.warning(f"This plan changes {g.count:,} existing bar(s): " + "; ".join(g.reasons) + ". Check the chart of "
               f"the changed minutes, then type {g.count} to confirm.", icon=":material/warning:")
    st.plotly_chart(plan_figure(draft.changed_frame(plan)), key=f"planchart:{fid}")
    typed = st.text_input(f"Type {g.count} to confirm", key=f"confirm:{fid}").replace(",", "").strip()
    return g.count if typed == str(g.count) else None


def _job_panel(fid: str, name: str, draft: ImportDraft) -> None:
    j = job(f"import:{fid}")
    if j is None or j.running:
        job_panel(f"import:{fid}")  # the shared panel: progress while it runs
        return
    first = not st.session_state.get(f"toasted:{fid}:{id(j)}")
    if first:
        st.session_state[f"toasted:{fid}:{id(j)}"] = True
        draft.forget_master()  # the master changed: verify and plan again against it
        st.session_state.pop(f"plan:{fid}", None)
    if j.state == "done":
        r = j.result.to_json()
        shown = literal(name)
        what = (f"Imported {shown}: {r['new']:,} new, {r['replaced']:,} replaced, {r['removed']:,} removed → "
                f"{r['result_rows']:,} rows" if r["written"] else f"{shown}: nothing to import (all bars already present)")
        backup = f" · backup {r['backup']}" if r["backup"] else ""
        if first:
            st.toast(what + backup, icon=":material/check_circle:")
        st.success(what + backup)
        if r["derived_error"]:
            st.warning(f"Derived data: {r['derived_error']}")
    else:
        if first:
            st.toast(f"Import of {literal(name)} failed", icon=":material/error:")
        st.error(f"Import failed, nothing was changed: {_say(j.error_text, name)}")


def _upload(up) -> None:
    fid, name = up.file_id, up.name  # the name is display only: never a path
    st.subheader(literal(name))  # the name as typed: never markdown
    draft = _draft(fid, up)
    if draft is None:
        return
    c = st.columns([1, 1, 1])
    default_ticker = guess_ticker(name, settings()) or ticker()
    tick = c[0].text_input("Import into ticker", value=default_ticker, key=f"ticker:{fid}").strip().upper()
    try:
        tz, stamp = _zone_inputs(fid, draft, tick, c[1:])
        _describe(draft, tick, tz, stamp)
        rep = _verify(fid, draft, tick, tz, stamp)
        plan = _plan(fid, draft, tick, tz, stamp)
    except DataMgrError as err:
        st.error(_say(str(err), name), icon=":material/error:")
        return
    confirmed = _guard(fid, draft, plan)
    b = st.columns([2, 1])
    override = b[0].checkbox("Import despite a FAIL verdict", key=f"override:{fid}", disabled=rep.ok)
    running = job(f"import:{fid}")
    can = (rep.ok or override) and (not plan.guard.required or confirmed is not None) and not (
        running and running.running)
    if b[1].button("Import", key=f"btn_import:{fid}", type="primary", disabled=not can,
                   help="Enabled after a green verify (or the override) and, when the plan changes existing bars, "
                        "the typed count."):
        start_job(f"import:{fid}", f"import {literal(name)}", commit, plan, force=bool(override), confirm=confirmed)
        st.rerun()
    _job_panel(fid, name, draft)


_live = {u.file_id for u in uploads}
for _k in [k for k in st.session_state if str(k).startswith(("draft:", "plan:")) and str(k).split(":", 1)[1] not in _live]:
    del st.session_state[_k]  # a removed upload's draft (parsed rows, master) is let go

for upload in uploads:
    with st.container(border=True):
        _upload(upload)
