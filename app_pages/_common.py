"""Helpers shared by the pages: settings built once, the sidebar ticker, job polling."""

from __future__ import annotations

import streamlit as st

from datamgr.core.config import Settings
from datamgr.ops.inventory import tickers as folder_tickers
from datamgr.ops.jobs import Job


@st.cache_resource
def _settings() -> Settings:
    return Settings.load()


def settings() -> Settings:
    """The app's frozen Settings (from datamgr.toml / DATAMGR_DATA_DIR), built once per process."""
    return _settings()


def reload_settings() -> None:
    """Forget the cached Settings (after a remembered zone changed datamgr.toml)."""
    _settings.clear()


def ticker_picker() -> str:
    """Sidebar ticker selector; the choice persists across pages in ``st.session_state['ticker']``."""
    s = settings()
    options = folder_tickers(s) or ["ES1"]
    current = st.session_state.get("ticker")
    if current not in options:
        current = options[0]
    st.session_state["ticker"] = st.sidebar.selectbox("Ticker", options, index=options.index(current),
                                                      key="_ticker_select")
    st.sidebar.caption(f"Data folder: `{s.data_dir}`")
    return st.session_state["ticker"]


def ticker() -> str:
    return st.session_state.get("ticker") or "ES1"


def job(key: str) -> Job | None:
    return st.session_state.get(f"job:{key}")


def start_job(key: str, name: str, fn, *args, **kwargs) -> Job:
    """Start a background job (never a write inside a rerun) and remember it under ``key``."""
    j = Job.start(name, fn, *args, **kwargs)
    st.session_state[f"job:{key}"] = j
    return j


def coming_soon(title: str, what: str) -> None:
    st.title(title)
    st.info(f"Coming soon: {what}", icon=":material/construction:")
