"""Journal page: every write operation with its counts and backups."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import settings
from datamgr.store import journal

st.title("Journal")
s = settings()
entries = journal.read(s, limit=500)
if not entries:
    st.info("No write operations yet. Imports, updates, regenerations and restores are logged here.")
else:
    df = pd.DataFrame(entries)
    df["time"] = pd.to_datetime(df["time"], utc=True, format="ISO8601").dt.tz_convert(s.display_tz)
    cols = [c for c in ("time", "op", "file", "rows_before", "rows_after", "added", "replaced", "outcome",
                        "backup", "id") if c in df.columns]
    st.dataframe(df[cols], hide_index=True, width="stretch",
                 column_config={"time": st.column_config.DatetimeColumn("time (ET)", format="YYYY-MM-DD HH:mm:ss")})
