"""Journal page: every write operation with every field the journal records, with filters."""

from __future__ import annotations

import streamlit as st

from app_pages._common import settings, show_table
from datamgr.store import journal

st.title("Journal")
s = settings()
entries = journal.read(s, limit=5000)
if not entries:
    st.info("No write operations yet. Imports, updates, deletions, regenerations and restores are logged here.")
    st.stop()

rows = [journal.flat(e) for e in entries]
f1, f2, f3, f4 = st.columns([1, 1, 1, 2])
op_sel = f1.multiselect("Operation", sorted({str(r["op"]) for r in rows}), key="jr_ops", placeholder="all")
file_sel = f2.multiselect("File", sorted({str(r["file"]) for r in rows}), key="jr_files", placeholder="all")
out_sel = f3.multiselect("Outcome", sorted({str(r["outcome"]) for r in rows}), key="jr_outcomes", placeholder="all")
text = f4.text_input("Search any field (source file, zone, stamp, forced, backup, id…)", key="jr_text")
keep = [i for i, r in enumerate(rows)
        if (not op_sel or str(r["op"]) in op_sel) and (not file_sel or str(r["file"]) in file_sel)
        and (not out_sel or str(r["outcome"]) in out_sel)
        and (not text or text.lower() in " ".join(str(v) for v in r.values()).lower())]
st.caption(f"{len(keep):,} of {len(rows):,} operation(s), newest first · times in ET · select a row to see "
           "the entry as recorded")
ev = show_table([rows[i] for i in keep], width="stretch", key="jr_table", on_select="rerun",
                selection_mode="single-row",
                column_config={"details": st.column_config.TextColumn("details", width="large")})
picked = ev.selection.rows if ev is not None and hasattr(ev, "selection") else []
if picked:
    st.json(entries[keep[picked[0]]])
