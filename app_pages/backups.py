"""Backups page: verified copies (Verify on demand, cached), restore with a diff and confirmation,
prune with a preview, cloud copies. Rendering never re-hashes a backup: the table is one cached
answer (:func:`datamgr.ops.answers.backups_view`, renewed when a file of backups/ changes or a
Verify ran), and Verify's verdicts are remembered by each copy's size and mtime."""

from __future__ import annotations

import streamlit as st

from app_pages._common import job_panel, running, settings, show_error, show_table, start_job, when
from datamgr.core.errors import DataMgrError
from datamgr.ops import answers
from datamgr.ops.cloud_backup import cloud_backup
from datamgr.ops.restore import prune_backups, restore

s = settings()
st.title("Backups")
st.caption("Every write backs up the current file first, verified by sha256 and a row-count read-back.")

view = answers.backups_view(s)
recs, states = view.records, view.states
if not recs:
    st.info("No backups yet. The first import, update, delete or restore that replaces a file creates one.")
else:
    bad = view.bad
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Backups", len(recs))
    c2.metric("Verified", view.verified)
    c3.metric("Failed or missing", bad)
    c4.metric("Total size", f"{view.size_bytes / 1e6:,.1f} MB")
    if bad:
        st.error(f"{bad} backup(s) failed verification (missing or altered).", icon=":material/error:")
    b1, b2 = st.columns([1, 4])
    if b1.button("Verify", type="primary", disabled=running("verify"), key="bk_verify",
                 help="Re-hash every backup and re-read its row count; the result is kept until a file changes."):
        start_job("verify", "verify backups", answers.verify_backups, s)
        st.rerun()
    b2.caption("Verification state is from the last **Verify** (a file that changed since is shown as not "
               "verified yet); opening this page never re-hashes.")
    job_panel("verify", title="Verifying backups", failed="Verify failed: ")
    show_table([{"backup": r.path, "of": r.source, "rows": r.rows, "size MB": round(r.size / 1e6, 3),
                 "reason": r.reason, "time": r.time, "state": states[r.path]} for r in recs],
               width="stretch", key="bk_table")

    # ---- restore -------------------------------------------------------------------------
    st.subheader("Restore")
    choice = st.selectbox("Backup to restore", view.restorable, index=None, key="bk_restore_choice",
                          placeholder="Pick a backup to see what restoring it changes")
    if choice:
        try:
            plan = answers.restore_plan(s, choice)
        except DataMgrError as err:
            show_error(err)
        else:
            st.markdown(
                f"Restoring **{plan.backup}** over **{plan.target}**:\n\n"
                f"| | bars | first | last |\n|---|---:|---|---|\n"
                f"| current | {plan.current_rows:,} | {when(plan.current_range[0])} | {when(plan.current_range[1])} |\n"
                f"| backup | {plan.backup_rows:,} | {when(plan.backup_range[0])} | {when(plan.backup_range[1])} |\n\n"
                f"The restore removes **{plan.only_in_current:,}** bars, brings back **{plan.only_in_backup:,}** and "
                f"changes **{plan.changed:,}**. The current file is backed up first; derived outputs become stale.")
            sure = st.checkbox(f"I want to replace {plan.target} with this backup", key="bk_restore_sure")
            if st.button("Restore", type="primary", disabled=not sure or running("restore"), key="bk_restore"):
                gen = plan.current_generation  # refused if the file changed after this diff was shown
                start_job("restore", "restore", lambda progress=None: restore(s, choice, expect_generation=gen))
                st.rerun()
    job_panel("restore", title="Restoring", failed="Restore failed, nothing changed: ",
              on_done=lambda j: st.success(
                  f"Restored. Previous content backed up to {j.result.backup.path if j.result.backup else '—'}."))

    # ---- prune -----------------------------------------------------------------------------
    st.subheader("Prune")
    st.caption(f"Retention: per file keep the newest {s.backup_keep_last} copies and the newest copy of each "
               f"day of the last {s.backup_keep_daily_days} days; never the newest verified copy.")
    if st.button("Preview prune", key="bk_prune_preview", disabled=running("prune")):
        st.session_state["bk_prune_plan"] = answers.prune_plan(s)
    pplan = st.session_state.get("bk_prune_plan")
    if pplan is not None:
        if not pplan.delete:
            st.success(f"Nothing to prune: all {len(pplan.keep)} backup(s) are kept by the retention rules.")
        else:
            st.warning(f"Prune deletes **{len(pplan.delete)}** backup(s) "
                       f"({sum(r.size for r in pplan.delete) / 1e6:,.1f} MB) and keeps {len(pplan.keep)}.")
            show_table([{"backup": r.path, "of": r.source, "time": r.time, "size MB": round(r.size / 1e6, 3)}
                        for r in pplan.delete], width="stretch", key="bk_prune_table")
            sure = st.checkbox(f"Delete these {len(pplan.delete)} backup(s)", key="bk_prune_sure")
            if st.button("Prune", type="primary", disabled=not sure or running("prune"), key="bk_prune"):
                start_job("prune", "prune backups",
                          lambda progress=None, p=pplan: prune_backups(s, apply=True, plan=p))
                st.session_state.pop("bk_prune_plan", None)
                st.rerun()
    job_panel("prune", title="Pruning", failed="Prune failed: ",
              on_done=lambda j: st.success(f"Pruned {len(j.result.delete)} backup(s)."))

st.subheader("Cloud copies")
dests = [str(d) for d in s.cloud_destinations()]
if not dests:
    st.caption("No cloud folders configured and none of the default folders (`G:\\My Drive\\TradingBackups`, "
               "`C:\\Users\\<you>\\OneDrive\\TradingBackups`) exists. Add `[backup] destinations = [...]` to "
               "datamgr.toml: a locally synced Google Drive or OneDrive folder.")
else:
    st.write("Destinations: " + ", ".join(f"`{d}`" for d in dests))
    if st.button("Copy to cloud folders", key="bk_cloud", disabled=running("cloud")):
        start_job("cloud", "cloud", lambda progress=None: cloud_backup(s, progress=progress))
        st.rerun()


def _cloud_done(j) -> None:
    for r in j.result or []:
        if r.ok:
            st.success(f"{r.destination}: {len(r.files)} file(s) verified in {r.folder}")
        elif r.missing:
            st.warning(f"{r.destination}: not found (is the drive mounted?); skipped")
        else:
            st.error(f"{r.destination}: {r.error or 'a copy did not verify'}")


job_panel("cloud", title="Copying to the cloud folders", failed="Cloud copy failed: ", on_done=_cloud_done)
