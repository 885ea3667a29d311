"""datamgr app: router only. Run with ``streamlit run streamlit_app.py``.

The pages live in ``app_pages/``, not ``pages/``: Streamlit treats a folder named ``pages/`` as
its older automatic multipage layout, and a deep link (``/health``) opened as the first request
after start then runs that page without this router (no ticker picker, a raw file list in the
sidebar). With ``st.navigation`` over ``app_pages/`` every URL goes through the router.

The page icon is an emoji: a ``:material/...:`` page icon is fetched from a font CDN, which
fails offline (the sidebar's material icons are bundled with Streamlit).
"""

from __future__ import annotations

import logging

import streamlit as st

from app_pages._common import ticker_picker

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
st.set_page_config(page_title="datamgr", page_icon="📈", layout="wide")

PAGES = {
    "Data": [
        st.Page("app_pages/inventory.py", title="Inventory", icon=":material/inventory_2:", default=True),
        st.Page("app_pages/health.py", title="Health", icon=":material/monitor_heart:"),
        st.Page("app_pages/chart.py", title="Chart", icon=":material/candlestick_chart:"),
    ],
    "Ingest": [
        st.Page("app_pages/ninjatrader_import.py", title="NinjaTrader import", icon=":material/upload_file:"),
        st.Page("app_pages/yahoo_update.py", title="Yahoo update", icon=":material/cloud_download:"),
    ],
    "Maintain": [
        st.Page("app_pages/regenerate.py", title="Regenerate", icon=":material/autorenew:"),
        st.Page("app_pages/backups.py", title="Backups", icon=":material/backup:"),
        st.Page("app_pages/journal.py", title="Journal", icon=":material/history:"),
    ],
    "Live": [
        st.Page("app_pages/live.py", title="Live", icon=":material/show_chart:"),
    ],
}

# Narrower side padding of the main column (5rem by default), so a 1280 px screen with the
# sidebar open has room for the Inventory's columns.
st.html("<style>.stMainBlockContainer, .block-container {padding-left: 2rem; padding-right: 2rem;}</style>")
page = st.navigation(PAGES)
ticker_picker()
page.run()
