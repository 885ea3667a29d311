"""Health page: freshness, coverage heatmap, gap table (acknowledge), candlesticks, integrity."""

from __future__ import annotations

import datetime as dt

import polars as pl
import streamlit as st

from app_pages._common import job, settings, start_job, ticker
from datamgr.calendar.overrides import load_overrides
from datamgr.calendar.sessions import calendar_for
from datamgr.core.timefmt import to_et_text, zone_label
from datamgr.health.report import HealthReport, check_health
from datamgr.ops.acknowledge import acknowledge_gap
from datamgr.plots import health as plots
from datamgr.store.store import Store

s = settings()
tk = ticker()
tz = s.display_tz_for(tk)
zl = zone_label(tz)
st.title(f"Health · {tk}")
st.caption("Checked against the exchange session calendar: weekends, the daily break, the pre-2021 "
           f"15:15 CT halt and holiday early closes are never gaps. All times in {tk}'s zone: {tz} ({zl}).")

store = Store(s)
meta = store.read_meta(tk, "1m")
if meta is None or not meta.rows:
    st.info(f"No 1-minute master for {tk} yet. Import a NinjaTrader export or create demo data on the "
            "Inventory page.", icon=":material/info:")
    st.stop()

acks = load_overrides(s.overrides_path).acknowledged_for(tk)
key = (str(s.data_dir), tk, meta.mtime.isoformat(), meta.size_bytes, repr(acks))


@st.cache_data(show_spinner="Checking gaps, coverage and integrity…", max_entries=4)
def _report(cache_key: tuple) -> HealthReport:
    return check_health(s, tk)


@st.cache_resource(max_entries=2)
def _bars(cache_key: tuple) -> pl.DataFrame:
    return store.read(tk, "1m")


rep = _report(key)
cont, stale = rep.continuity, rep.staleness

# ---- freshness ------------------------------------------------------------------------------
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Sessions behind", stale.sessions)
c2.metric("Coverage", f"{100 * cont.present / cont.expected:.2f} %" if cont.expected else "—")
c3.metric("Holes", len(cont.holes))
c4.metric("Stray bars", f"{cont.outside_session:,}")
c5.metric("Integrity findings", len(rep.integrity.findings))
(st.success if stale.expected_bars == 0 else st.warning)(
    f"Freshness: {stale.verdict}. Last bar {to_et_text(stale.last_bar, tz)}.", icon=":material/schedule:")

# ---- coverage heatmap -------------------------------------------------------------------------
st.subheader("Coverage per trading day")
cov = cont.coverage
years = sorted({d.year for d in cov["trading_day"].to_list()}, reverse=True)
year = st.selectbox("Year", years, index=0, key="health_year") if len(years) > 1 else years[0]
fig = plots.coverage_heatmap(cov, dt.date(year, 1, 1), dt.date(year, 12, 31))
st.plotly_chart(fig, key="health_heatmap", config={"displayModeBar": False})
st.caption("Grey: no session (weekend days are not drawn, holidays are grey). Hover a day for its "
           "expected and present bars.")

# ---- gap table --------------------------------------------------------------------------------
st.subheader("Gaps")
f1, f2 = st.columns([1, 2])
min_gap = f1.number_input("Minimum missing minutes", min_value=1, value=1, step=1, key="health_min_gap")
classes = f2.multiselect("Classes", ["hole", "recurring", "edge"], default=["hole", "recurring", "edge"],
                         key="health_classes")
gaps = [g for g in cont.gaps if g.missing >= min_gap and g.cls in classes]
LIMIT = 200
rows = pl.DataFrame({
    "class": [g.cls for g in gaps],
    f"start ({zl})": [to_et_text(g.start, tz) for g in gaps],
    f"end ({zl})": [to_et_text(g.end, tz) for g in gaps],
    "missing minutes": [g.missing for g in gaps],
    "sessions": [g.sessions for g in gaps],
    "clock": [g.clock or "" for g in gaps],
    "acknowledged": ["yes" if g.acknowledged else "" for g in gaps],
}, schema={"class": pl.String, f"start ({zl})": pl.String, f"end ({zl})": pl.String, "missing minutes": pl.Int64,
           "sessions": pl.Int64, "clock": pl.String, "acknowledged": pl.String})
if not gaps:
    st.success("No gaps with these filters.", icon=":material/check_circle:")
else:
    st.table(rows.head(LIMIT).to_pandas())
    if len(gaps) > LIMIT:
        st.caption(f"Showing the first {LIMIT} of {len(gaps):,} gaps; raise the minimum to narrow the list.")

labels = [f"{g.cls} · {to_et_text(g.start, tz)} → {to_et_text(g.end, tz)} · {g.missing:,} min" for g in gaps[:LIMIT]]
chosen = st.selectbox("Inspect or acknowledge a gap", range(len(labels)), format_func=lambda i: labels[i],
                      index=None, key="health_gap") if labels else None
ack_job = job("ack")
if chosen is not None:
    g = gaps[chosen]
    with st.form("ack_form"):
        note = st.text_input("Why is this gap acceptable?", key="health_ack_note",
                             placeholder="e.g. exchange outage, vendor never had these bars")
        submitted = st.form_submit_button("Acknowledge gap", disabled=g.acknowledged,
                                          help="Writes the gap into calendar_overrides.toml (atomic, journaled)")
    if submitted:
        last = g.end - dt.timedelta(minutes=1)
        ack_job = start_job("ack", "acknowledge gap", acknowledge_gap, s, tk, g.start, last, g.missing, note)
if ack_job is not None and ack_job.running:
    @st.fragment(run_every=0.5)
    def _poll() -> None:
        if not job("ack").running:
            st.rerun()
        st.progress(0.5, text="Writing calendar_overrides.toml…")
    _poll()
elif ack_job is not None and ack_job.state == "failed":
    st.error(f"Could not acknowledge the gap: {ack_job.error_text}")
elif ack_job is not None and ack_job.state == "done":
    st.success(f"Acknowledged; written to {ack_job.result}.", icon=":material/task_alt:")

if cont.outside_session:
    with st.expander(f"Stray bars outside the sessions ({cont.outside_session:,})"):
        strays = cont.strays.head(500).with_columns(
            pl.col("datetime").dt.convert_time_zone(tz).dt.strftime(f"%Y-%m-%d %H:%M {zl}").alias(f"time ({zl})"))
        st.dataframe(strays.select("row", f"time ({zl})"), hide_index=True)

# ---- candlesticks ---------------------------------------------------------------------------
st.subheader("Bars")
days = cov["trading_day"]
if chosen is not None:
    g = gaps[chosen]
    d0 = g.start.astimezone(dt.UTC).date()
    default = (max(days.min(), d0 - dt.timedelta(days=1)), min(days.max(), d0 + dt.timedelta(days=2)))
else:
    default = (days[max(0, len(days) - 3)], days.max())
picked = st.date_input("Trading days", value=default, min_value=days.min(), max_value=days.max(),
                       key=f"health_days_{chosen}")
if isinstance(picked, tuple) and len(picked) == 2:
    cal = calendar_for(s, tk)
    st.plotly_chart(plots.candles(_bars(key), cal, picked[0], picked[1]), key="health_candles")

# ---- integrity --------------------------------------------------------------------------------
st.subheader("Integrity")
if not rep.integrity.findings:
    st.success(f"All {rep.rows:,} rows pass the invariants, the tick grid, the spike and zero-volume checks.",
               icon=":material/verified:")
else:
    st.table(pl.DataFrame({
        "severity": [f.severity for f in rep.integrity.findings],
        "rule": [f.rule for f in rep.integrity.findings],
        "rows": [f.count for f in rep.integrity.findings],
        "first rows": [", ".join(map(str, f.rows[:5])) for f in rep.integrity.findings],
        "first times (ET)": [", ".join(t[:16] for t in f.times[:3]) for f in rep.integrity.findings],
    }).to_pandas())
for w in rep.warnings:
    st.caption(f"Note: {w}")
