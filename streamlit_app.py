"""datamgr app: router only. Run with ``streamlit run streamlit_app.py``."""

from __future__ import annotations

import logging

import streamlit as st

from pages._common import ticker_picker

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="datamgr", page_icon=":material/database:", layout="wide")

PAGES = {
    "Data": [
        st.Page("pages/inventory.py", title="Inventory", icon=":material/inventory_2:", default=True),
        st.Page("pages/health.py", title="Health", icon=":material/monitor_heart:"),
    ],
    "Ingest": [
        st.Page("pages/ninjatrader_import.py", title="NinjaTrader import", icon=":material/upload_file:"),
        st.Page("pages/yahoo_update.py", title="Yahoo update", icon=":material/cloud_download:"),
    ],
    "Maintain": [
        st.Page("pages/regenerate.py", title="Regenerate", icon=":material/autorenew:"),
        st.Page("pages/backups.py", title="Backups", icon=":material/backup:"),
        st.Page("pages/journal.py", title="Journal", icon=":material/history:"),
    ],
    "Live": [
        st.Page("pages/live.py", title="Live", icon=":material/show_chart:"),
    ],
}

page = st.navigation(PAGES)
ticker_picker()
page.run()
