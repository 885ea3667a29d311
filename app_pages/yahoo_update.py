"""Yahoo update page: suspended banner -> fetch (or a saved yfinance file) -> validation review
with quarantined bars marked on a chart -> Merge -> result toast.

Fetching and merging run as background jobs. "Fetch and validate" is a dry run (nothing is
written); "Merge" merges exactly the reviewed bars (validated again against the master of that
moment), writes the quarantine file and regenerates derived data for 1m.
"""

from __future__ import annotations

import streamlit as st

from app_pages._common import job, job_panel, running, settings, show_error, show_table, start_job, ticker
from datamgr.core.errors import DataMgrError
from datamgr.ingest.yahoo import read_saved
from datamgr.ops.inventory import tickers as folder_tickers
from datamgr.ops.update import auto_update_message, update
from datamgr.plots.yahoo import review_figure

s = settings()
st.title("Yahoo update")
msg = auto_update_message(s)
if msg:
    st.warning(msg + " Use **Ingest → NinjaTrader import** for history and gaps.", icon=":material/pause_circle:")
else:
    st.info("Yahoo auto-update is on (yahoo.auto_update = true).", icon=":material/sync:")

stored = folder_tickers(s)
choices = list(dict.fromkeys([*stored, *s.instruments]))
side = ticker()
c0, c1, c2 = st.columns([1, 1, 3])
tick = c0.selectbox("Ticker", choices, index=choices.index(side) if side in choices else 0, key="yahoo_ticker",
                    format_func=lambda x: x if x in stored else f"{x} (new: no file yet)",
                    help="Tickers with files, and the configured instruments that have none yet: an update "
                         "of a new ticker starts its file from what Yahoo has (about 30 days of 1m).")
inst = s.instrument(tick)
interval = c1.selectbox("Interval", ["1m", "1d", "1wk"], key="yahoo_interval",
                        help="1m updates the master; 1d / 1wk download settlement bars into their own files.")
c2.caption(f"Ticker **{tick}** ← Yahoo symbol `{inst.yahoo_symbol}`. 1m reaches back about 30 days; an older gap "
           "is reported as needing a NinjaTrader import. Every fetched bar is validated first; rejected bars go "
           "to quarantine with their reasons.")


def _review_from_yahoo() -> None:
    st.session_state.pop("yahoo_merged_toast", None)
    start_job("yahoo:review", f"fetch {tick} {interval}", update, s, tick, interval=interval, dry_run=True)


tab_fetch, tab_file = st.tabs(["Fetch from Yahoo", "From a saved yfinance file"])
with tab_fetch:
    st.button("Fetch and validate", type="primary", key="yahoo_fetch", disabled=running("yahoo:review"),
              on_click=_review_from_yahoo, help="Downloads from Yahoo Finance and validates; writes nothing.")
with tab_file:
    up = st.file_uploader("A saved yfinance frame (Ticker.history(...).to_csv() or .to_parquet())",
                          type=["csv", "parquet"], key="yahoo_upload")
    if up is not None and st.button("Validate file", key="yahoo_validate_file", disabled=running("yahoo:review")):
        try:
            bars = read_saved(up.getvalue(), up.name, interval)  # the name is display-only
        except DataMgrError as err:
            show_error(err)
        else:
            st.session_state.pop("yahoo_merged_toast", None)
            start_job("yahoo:review", f"validate {up.name}", update, s, tick, interval=interval, bars=bars,
                      origin=f"file {up.name}", dry_run=True)


rj = job_panel("yahoo:review", title="Fetching")
if rj is None:
    st.info("Fetch from Yahoo, or validate a saved file, to review the bars before anything is merged.",
            icon=":material/fact_check:")
    st.stop()
if rj.running or rj.state == "failed":
    st.stop()

res = rj.result
r = res.to_json()
st.subheader(f"Review: {r['origin']}")
m = st.columns(6)
for col, (label, k) in zip(m, [("Fetched", "fetched"), ("Accepted", "accepted"), ("Quarantined", "quarantined"),
                               ("New", "new"), ("Identical", "identical"), ("Conflicts", "conflicts")]):
    col.metric(label, f"{r[k]:,}")
if r["needs_import"]:
    st.warning(r["needs_import"]["message"], icon=":material/upload_file:")
for note in r["notes"]:
    st.caption(note)
if r["reasons"]:
    st.markdown("**Quarantined** — " + ", ".join(f"{k}: {v}" for k, v in r["reasons"].items()))
st.plotly_chart(review_figure(res.validation.accepted, res.validation.rejected, daily=res.timeframe != "1m"),
                key="yahoo_review_chart")
if r["rejected"]:
    show_table(r["rejected"], key="yahoo_rejected",
               column_order=["datetime", "reason", "open", "high", "low", "close", "volume"])

mj = job("yahoo:merge")
merged_this = mj is not None and st.session_state.get("yahoo_merge_of") == id(rj)
can_merge = r["accepted"] > 0 and r["new"] + r["replaced"] > 0 and not merged_this
label = f"Merge {r['new'] + r['replaced']:,} bar(s)" if can_merge else "Merge"
if st.button(label, type="primary", key="yahoo_merge", disabled=not can_merge or running("yahoo:merge"),
             help="Writes the quarantine file, backs up and merges the accepted bars (source=yahoo)."):
    st.session_state["yahoo_merge_of"] = id(rj)
    # the reviewed bars, at the reviewed interval (the selectbox may have changed since)
    start_job("yahoo:merge", f"merge {res.ticker}", update, s, res.ticker,
              interval={"1m": "1m", "1d": "1d", "1w": "1wk"}[res.timeframe], bars=res.incoming, origin=res.origin)
    st.rerun()
if r["accepted"] == 0 and r["fetched"]:
    st.error("Validation rejected every bar: nothing to merge.", icon=":material/block:")
elif not can_merge and not merged_this:
    st.success("Nothing to merge: every accepted bar is already stored.", icon=":material/check_circle:")


def _merged(mj) -> None:
    out = mj.result.to_json()
    text = (f"Merged {out['new']:,} new bar(s) into {out['ticker']}_{out['timeframe']} → {out['result_rows']:,} rows"
            if out["written"] else "Nothing merged: the master already had every bar")
    if out["quarantine_file"]:
        text += f" · {out['quarantined']} quarantined"
    if not st.session_state.get("yahoo_merged_toast"):
        st.session_state["yahoo_merged_toast"] = True
        st.toast(text, icon=":material/check_circle:")
    st.success(text, icon=":material/check_circle:")
    if out["quarantine_file"]:
        st.caption(f"Quarantine file: `{out['quarantine_file']}`")
    if out["derived_error"]:
        st.warning(f"Derived data: {out['derived_error']}")


if merged_this:
    job_panel("yahoo:merge", title="Merging", failed="Merge failed, nothing was changed: ", on_done=_merged)
