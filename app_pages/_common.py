"""Helpers shared by the pages: settings (with the sidebar data-folder switcher), the sidebar
ticker, the one time format, tables without "None", errors as a summary + details, and the one
job panel that every page uses to follow a background job."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from datamgr.core.config import Settings
from datamgr.core.errors import describe
from datamgr.core.timefmt import fmt_time
from datamgr.ops.inventory import check_data_dir
from datamgr.ops.inventory import tickers as folder_tickers
from datamgr.ops.jobs import Job
from datamgr.plots.tables import display_frame

POLL_SECONDS = 0.5


@st.cache_resource
def _settings(data_dir: str | None) -> Settings:
    return Settings.load(data_dir=data_dir)


def settings() -> Settings:
    """The app's frozen Settings (datamgr.toml / DATAMGR_DATA_DIR, or the folder picked in the
    sidebar for this browser session), built once per folder and process."""
    return _settings(st.session_state.get("data_dir"))


def _switch_folder() -> None:
    path = (st.session_state.get("_data_dir_input") or "").strip()
    problem = check_data_dir(path) if path else "Type a folder path."
    st.session_state["_data_dir_error"] = problem
    if problem is None:
        st.session_state["data_dir"] = path
        st.session_state.pop("ticker", None)


def data_folder_switcher() -> None:
    """Sidebar: the current data folder and a field to switch to another one (this session)."""
    s = settings()
    with st.sidebar.expander("Data folder", icon=":material/folder_open:"):
        st.caption(f"Now: `{s.data_dir}`. Default from `DATAMGR_DATA_DIR` or datamgr.toml.")
        st.text_input("Folder path", value=str(s.data_dir), key="_data_dir_input")
        st.button("Switch folder", on_click=_switch_folder, key="_data_dir_switch")
        if st.session_state.get("_data_dir_error"):
            st.error(st.session_state["_data_dir_error"])


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
    data_folder_switcher()
    return st.session_state["ticker"]


def ticker() -> str:
    return st.session_state.get("ticker") or "ES1"


# ---------------------------------------------------------------------- one time style, tables
def when(value, *, seconds: bool = False, date: bool = True) -> str:
    """The one time format of the pages: ``2025-07-14 00:36 ET`` (seconds only on Live)."""
    return fmt_time(value, settings().display_tz, seconds=seconds, date=date)


def show_table(df, *, seconds: bool = False, **kwargs):
    """``st.dataframe`` of ``df`` with times in the display zone and no None/NaN cells."""
    frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df)
    kwargs.setdefault("hide_index", True)
    return st.dataframe(display_frame(frame, settings().display_tz, seconds=seconds), **kwargs)


def show_error(err: BaseException | None, prefix: str = "", text: str = "") -> None:
    """A one-line summary a person reads, with the full detail in an expander."""
    if err is None:
        st.error(prefix + (text or "failed"), icon=":material/error:")
        return
    summary, detail = describe(err)
    st.error(prefix + summary, icon=":material/error:")
    if detail and detail != summary:
        with st.expander("Details"):
            st.code(text or detail, language=None, wrap_lines=True)


# ---------------------------------------------------------------------- background jobs
def job(key: str) -> Job | None:
    return st.session_state.get(f"job:{key}")


def running(key: str) -> bool:
    j = job(key)
    return bool(j and j.running)


def start_job(key: str, name: str, fn, *args, **kwargs) -> Job:
    """Start a background job (never a write inside a rerun) and remember it under ``key``."""
    j = Job.start(name, fn, *args, **kwargs)
    st.session_state[f"job:{key}"] = j
    return j


def job_panel(key: str, *, title: str | None = None, steps: bool = False, failed: str = "",
              on_done: Callable[[Job], None] | None = None) -> Job | None:
    """The one job panel: progress while ``key``'s job runs (a fragment polling every 0.5 s that
    reruns the whole page once when the job ends), then the error (summary + details) or
    ``on_done(job)``. Returns the job (None if none was started)."""
    j = job(key)
    if j is None:
        return None
    if j.running:
        @st.fragment(run_every=POLL_SECONDS)
        def _poll() -> None:
            jj = job(key)
            if jj is None or not jj.running:
                st.rerun(scope="app")
                return
            label = f"{title or jj.name}: {jj.message}"
            if steps:
                with st.status(label, expanded=True, state="running"):
                    for msg, sec in jj.steps:
                        st.write(f"{sec:6.2f} s · {msg}")
                    st.progress(jj.fraction, text=jj.message)
            else:
                st.progress(jj.fraction, text=label)
        _poll()
    elif j.state == "failed":
        show_error(j.error, prefix=failed, text=j.error_text)
    elif on_done is not None:
        on_done(j)
    return j


def coming_soon(title: str, what: str) -> None:
    st.title(title)
    st.info(f"Coming soon: {what}", icon=":material/construction:")
