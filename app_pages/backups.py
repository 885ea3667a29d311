"""Backups page: verified copies, restore with a diff and confirmation, cloud copies."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import job, settings, start_job
from datamgr.ops.cloud_backup import cloud_backup
from datamgr.ops.restore import plan_restore, restore
from datamgr.store.backup import verify_backups

s = settings()
st.title("Backups")
st.caption("Every write backs up the current file first, verified by sha256 and a row-count read-back.")

recs = verify_backups(s)
if not recs:
    st.info("No backups yet. The first import, update or restore that replaces a file creates one.")
else:
    ok = sum(r.ok for r in recs)
    c1, c2, c3 = st.columns(3)
    c1.metric("Backups", len(recs))
    c2.metric("Verified", ok)
    c3.metric("Total size", f"{sum(r.size for r in recs) / 1e6:,.1f} MB")
    if ok < len(recs):
        st.error(f"{len(recs) - ok} backup(s) failed verification (missing or altered).")
    df = pd.DataFrame([r.to_json() for r in recs])
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601").dt.tz_convert(s.display_tz)
    st.dataframe(df[["path", "source", "rows", "size", "reason", "time", "ok"]], hide_index=True, width="stretch",
                 column_config={"time": st.column_config.DatetimeColumn("time (ET)", format="YYYY-MM-DD HH:mm:ss"),
                                "size": st.column_config.NumberColumn("size (bytes)", format="localized"),
                                "ok": st.column_config.CheckboxColumn("verified")})

    st.subheader("Restore")
    choice = st.selectbox("Backup to restore", [r.path for r in recs if r.ok and r.source.endswith(".parquet")])
    if choice:
        plan = plan_restore(s, choice)
        st.markdown(
            f"Restoring **{plan.backup}** over **{plan.target}**:\n\n"
            f"| | bars | first (ET) | last (ET) |\n|---|---:|---|---|\n"
            f"| current | {plan.current_rows:,} | {plan.current_range[0]} | {plan.current_range[1]} |\n"
            f"| backup | {plan.backup_rows:,} | {plan.backup_range[0]} | {plan.backup_range[1]} |\n\n"
            f"The restore removes **{plan.only_in_current:,}** bars, brings back **{plan.only_in_backup:,}** and "
            f"changes **{plan.changed:,}**. The current file is backed up first; derived outputs become stale.")
        sure = st.checkbox(f"I want to replace {plan.target} with this backup")
        running = job("restore")
        if st.button("Restore", type="primary", disabled=not sure or bool(running and running.running)):
            gen = plan.current_generation  # refused if the file changed after this diff was shown
            start_job("restore", "restore", lambda progress=None: restore(s, choice, expect_generation=gen))
    j = job("restore")
    if j is not None:
        if j.running:
            st.info("Restoring…")
        elif j.state == "done":
            st.success(f"Restored. Previous content backed up to {j.result.backup.path if j.result.backup else '—'}.")
        else:
            st.error(f"Restore failed, nothing changed: {j.error_text}")

st.subheader("Cloud copies")
dests = [str(d) for d in s.expanded_destinations()]
if not dests:
    st.caption("No cloud folders configured. Add `[backup] destinations = [...]` to datamgr.toml "
               r"(e.g. `G:\My Drive\TradingBackups`, a locally synced Google Drive or OneDrive folder).")
else:
    st.write("Destinations: " + ", ".join(f"`{d}`" for d in dests))
    if st.button("Copy to cloud folders"):
        start_job("cloud", "cloud", lambda progress=None: cloud_backup(s, progress=progress))
    cj = job("cloud")
    if cj is not None and not cj.running:
        for r in cj.result or []:
            (st.success if r.ok else st.error)(f"{r.destination}: " + (r.error or f"{len(r.files)} file(s) verified in {r.folder}"))
