"""Live page: start / stop the live feed process, its prices, their age and the feed's status.

The page calls :class:`datamgr.live.controller.LiveDataFeed` only. The feed is a separate process,
so closing the browser tab or restarting the app leaves it running; Stop ends it. Starting only
spawns that process (under a second), so it runs in the click's rerun, not in a background job.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages._common import settings, show_error, show_table, ticker, when
from datamgr.core.errors import DataMgrError
from datamgr.core.timefmt import fmt_time
from datamgr.live.controller import LiveDataFeed
from datamgr.live.files import feed_time

REFRESH_SECONDS = 1.0
s = settings()
t = ticker()
st.title("Live")
st.caption("Live prices from a feed process that runs on its own (a crash there never touches the app or the "
           "data). Sources: Yahoo streaming, Angel One SmartAPI, or a replay of a stored 1m master for demos. The feed rewrites "
           "`live/live_feed_data.json` every 2 s.")

c1, c2, c3 = st.columns([1, 2, 1])
source = c1.selectbox("Source", ["replay", "yahoo", "smartapi"], key="live:source",
                      help="replay: the stored 1m master played back; yahoo: Yahoo Finance streaming; "
                           "smartapi: Angel One (symbols EXCHANGE:TOKEN, credentials from DATAMGR_SMARTAPI_* "
                           "environment variables)")
default_symbols = {"replay": t, "yahoo": s.instrument(t).yahoo_symbol}.get(source, "")
symbols_text = c2.text_input("Symbols (comma-separated)", value=default_symbols, key=f"live:symbols:{source}:{t}")
speed = c3.number_input("Replay speed", min_value=1.0, max_value=6000.0, value=60.0, step=10.0,
                        disabled=source != "replay", help="60: one 1m bar per second")


def _controller() -> LiveDataFeed:
    """This session's controller (it reaps the process it started); a fresh one reads any running feed."""
    ctl = st.session_state.get("live:controller")
    if ctl is None or ctl.settings.data_dir != s.data_dir:
        ctl = LiveDataFeed(s)
        st.session_state["live:controller"] = ctl
    return ctl


def _start() -> None:
    symbols = [x.strip() for x in symbols_text.split(",") if x.strip()]
    ctl = LiveDataFeed(s, source, symbols, speed=float(speed))
    try:
        started = ctl.start_feed()
    except DataMgrError as err:
        st.session_state["live:error"] = err
        return
    st.session_state["live:error"] = None if started else "A live feed is already running: stop it first."
    st.session_state["live:controller"] = ctl


def _stop() -> None:
    _controller().stop_feed()
    st.session_state["live:error"] = None


@st.fragment(run_every=REFRESH_SECONDS)
def _live() -> None:
    ctl = _controller()
    status = ctl.status()
    b1, b2, _ = st.columns([1, 1, 4])
    b1.button("Start feed", type="primary", disabled=status.running, on_click=_start, icon=":material/play_arrow:")
    b2.button("Stop feed", disabled=not status.running, on_click=_stop, icon=":material/stop:")
    err = st.session_state.get("live:error")
    if isinstance(err, BaseException):
        show_error(err)
    elif err:
        st.error(err, icon=":material/error:")
    m1, m2, m3 = st.columns(3)
    m1.metric("Feed", f"running (pid {status.pid})" if status.running else "stopped")
    m2.metric("Data age", f"{status.data_age_seconds:.1f} s" if status.data_age_seconds is not None else "—")
    m3.metric("State", status.state or "—")
    if status.running:
        st.caption(f"{status.source}: {', '.join(status.symbols)} · started {when(status.started_at, seconds=True)}")
    if status.last_error and status.state != "connected":
        st.warning(f"Feed problem: {status.last_error}", icon=":material/sync_problem:")
    data = ctl.get_feed_data()
    if data is None:
        st.info("No live data yet. Start the feed: a replay of the stored 1m master works without a network.",
                icon=":material/info:")
        return
    zone = data.get("timezone") or settings().display_tz  # the feed's zone: IST for NSE instruments
    if not status.fresh:
        st.warning(f"Prices are stale: last update {fmt_time(feed_time(data), zone, seconds=True)} (the feed is {status.state}).",
                   icon=":material/schedule:")
    quotes = data["data"][:8]
    for col, q in zip(st.columns(max(len(quotes), 1)), quotes):
        price, day_open = q["last_traded_price"], q.get("open")
        col.metric(q["trading_symbol"], f"{price:,.2f}",
                   delta=f"{price - day_open:+.2f}" if day_open is not None else None)
    show_table(pd.DataFrame(data["data"]), seconds=True, width="stretch",
               column_config={"last_traded_price": st.column_config.NumberColumn("last", format="%.2f")})
    st.caption(f"Last update {fmt_time(feed_time(data), zone, seconds=True, date=False)} · {data.get('source', '')}")


_live()
