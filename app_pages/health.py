"""Health page: freshness, coverage heatmap, gap table (paged, filtered, bulk acknowledge),
candlesticks, integrity, and the notes grouped one line per kind.

Renders from one cached answer (:func:`datamgr.ops.answers.health_view`, keyed by the master's
state and the overrides): a rerun on unchanged files recomputes nothing; the gap filters and the
candlesticks' few days are cached answers too (only those row groups are read)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from app_pages._common import job, job_panel, settings, start_job, ticker
from datamgr.core.timefmt import to_et_text, zone_label
from datamgr.health.report import ACK_CLASSES, GAP_CLASSES
from datamgr.ops import answers
from datamgr.ops.acknowledge import acknowledge_gaps
from datamgr.plots import health as plots

PAGE_SIZE = 50
CLASS_HELP = {"hole": "missing data: improbable without an outage", "quiet": "likely no trade in those minutes",
              "recurring": "the same clock minutes on >= 3 sessions", "edge": "before the first / after the last bar"}

s = settings()
tk = ticker()
tz = s.display_tz_for(tk)
zl = zone_label(tz)
st.title(f"Health · {tk}")
st.caption("Checked against the exchange session calendar: weekends, the daily break, the pre-2021 "
           f"15:15 CT halt and holiday early closes are never gaps. All times in {tk}'s zone: {tz} ({zl}).")

with st.spinner("Checking gaps, coverage and integrity…"):
    view = answers.health_view(s, tk)
if view.report is None:
    st.info(f"No 1-minute master for {tk} yet. Import a NinjaTrader export or create demo data on the "
            "Inventory page.", icon=":material/info:")
    st.stop()

# the view follows the master's state (file, generation) and the whole overrides file (closed/opened
# periods and acknowledgements): any edit to either gives a new report and a new token
rep = view.report
cont, stale, cov = rep.continuity, rep.staleness, rep.coverage
counts = view.class_counts

# ---- freshness ------------------------------------------------------------------------------
c1, c2, c3, c4, c5, c6 = st.columns(6)
c1.metric("Sessions behind", stale.sessions)
c2.metric("Coverage", f"{100 * cov.coverage:.2f} %" if cov.coverage is not None else "—",
          help="present in-session bars / expected bars; stray prints are not coverage")
c3.metric("Holes", view.holes)
c4.metric("Quiet gaps", f"{counts.get('quiet', 0):,}", help=CLASS_HELP["quiet"])
c5.metric("Stray bars", f"{cont.outside_session:,}")
c6.metric("Integrity findings", len(rep.integrity.findings))
(st.error if rep.stale_problem else st.success if stale.expected_bars == 0 else st.warning)(
    f"Freshness: {stale.verdict}. Last bar {to_et_text(stale.last_bar, tz)}.", icon=":material/schedule:")
if not view.problems:
    st.success("No problems: no holes, no integrity errors, freshness within tolerance.",
               icon=":material/check_circle:")
else:
    with st.expander(f"Problems ({len(view.problems):,}): the check fails", expanded=len(view.problems) <= 5):
        st.text("\n".join(view.problems[:500]) + ("\n…" if len(view.problems) > 500 else ""))

# ---- coverage heatmap -------------------------------------------------------------------------
st.subheader("Coverage per trading day")
cov_days = cont.coverage
years = view.years
year = st.selectbox("Year", years, index=0, key="health_year") if len(years) > 1 else years[0]
fig = plots.coverage_heatmap(cov_days, dt.date(year, 1, 1), dt.date(year, 12, 31))
st.plotly_chart(fig, key="health_heatmap", config={"displayModeBar": False})
st.caption("Grey: no session (weekend days are not drawn, holidays are grey). Hover a day for its "
           "expected and present bars.")

# ---- gap table --------------------------------------------------------------------------------
st.subheader("Gaps")
st.caption(" · ".join(f"**{c}** {counts.get(c, 0):,}: {CLASS_HELP[c]}" for c in GAP_CLASSES))
f1, f2, f3 = st.columns([2, 1, 1])
classes = f1.multiselect("Classes", list(GAP_CLASSES), default=list(GAP_CLASSES), key="health_classes")
min_gap = f2.number_input("Minimum missing minutes", min_value=1, value=1, step=1, key="health_min_gap")
show_acked = f3.checkbox("Show acknowledged", value=True, key="health_show_acked")
gaps = answers.gaps(view, classes, min_missing=int(min_gap), acknowledged=None if show_acked else False)
pages = max(1, -(-len(gaps) // PAGE_SIZE))
page = st.number_input(f"Page (of {pages:,}, {PAGE_SIZE} gaps each)", min_value=1, max_value=pages, value=1,
                       step=1, key=f"health_page_{'-'.join(classes)}_{min_gap}_{show_acked}") if pages > 1 else 1
shown = gaps[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
if not gaps:
    st.success("No gaps with these filters.", icon=":material/check_circle:")
else:
    st.table(plots.gap_table(shown, tz))
    st.caption(f"Gaps {(page - 1) * PAGE_SIZE + 1:,}–{(page - 1) * PAGE_SIZE + len(shown):,} of {len(gaps):,}. "
               "p_no_trade: the probability that every minute of the gap had no trade, learned from "
               "this instrument's own bars.")


def _label(g) -> str:
    return f"{g.cls} · {to_et_text(g.start, tz)} → {to_et_text(g.end, tz)} · {g.missing:,} min"


# ---- acknowledge: a selection of this page, or a rule ------------------------------------------
days = view.days
first, last = days[0], days[-1]
ack_job = job("ack")
busy = ack_job is not None and ack_job.running
ackable = [g for g in shown if g.cls in ACK_CLASSES and not g.acknowledged]
tab_sel, tab_rule = st.tabs(["Acknowledge selected gaps", "Acknowledge by rule"])
with tab_sel:
    if not ackable:
        st.caption("No unacknowledged hole, quiet or edge gap on this page.")
    else:
        idx = list(range(len(ackable)))
        # a new report (after an acknowledge) or another page gets a fresh selection
        pick_key = f"health_ack_pick_{view.token}_{page}"
        st.button("Select every gap on this page", key="health_ack_all_page",
                  on_click=lambda: st.session_state.update({pick_key: idx}))
        chosen = st.multiselect("Gaps on this page", idx, format_func=lambda i: _label(ackable[i]),
                                key=pick_key, placeholder="Choose gaps")
        note = st.text_input("Why are these gaps acceptable?", key="health_ack_note",
                             placeholder="e.g. exchange outage, vendor never had these bars")
        if st.button(f"Acknowledge {len(chosen)} selected gap(s)", key="health_ack_selected", type="primary",
                     disabled=busy or not chosen, help="One write of calendar_overrides.toml (atomic, journaled)"):
            picked = [ackable[i] for i in chosen]
            ack_job = start_job("ack", "acknowledge gaps", acknowledge_gaps, s, tk,
                                [(g.start, g.end - dt.timedelta(minutes=1), g.missing) for g in picked], note,
                                rule=f"{len(picked)} selected gap(s)")
            busy = True
with tab_rule:
    r1, r2, r3 = st.columns(3)
    rule_cls = r1.selectbox("Class", list(ACK_CLASSES), index=list(ACK_CLASSES).index("quiet"), key="health_rule_cls")
    first_day = first - dt.timedelta(days=1)  # the first session opens the evening before
    r_from = r2.date_input("From (ET day)", value=first_day, min_value=first_day, max_value=last,
                           key="health_rule_from")
    r_to = r3.date_input("To (ET day)", value=last, min_value=first_day, max_value=last,
                         key="health_rule_to")
    matching = answers.gaps(view, [rule_cls], start=r_from, end=r_to, acknowledged=False)
    rule_note = st.text_input("Why are these gaps acceptable?", key="health_rule_note",
                              value="quiet minutes: no trade" if rule_cls == "quiet" else "")
    whole = r_from == first_day and r_to == last
    rule_text = f"all {rule_cls} gaps" + ("" if whole else f" from {r_from} to {r_to}")
    if st.button(f"Acknowledge {rule_text} ({len(matching):,})", key="health_ack_rule", type="primary",
                 disabled=busy or not matching, help="One write of calendar_overrides.toml (atomic, journaled)"):
        ack_job = start_job("ack", "acknowledge gaps", acknowledge_gaps, s, tk,
                            [(g.start, g.end - dt.timedelta(minutes=1), g.missing) for g in matching], rule_note,
                            rule=rule_text)
def _acknowledged(j) -> None:
    r = j.result
    st.success(f"Acknowledged {r.added:,} gap(s)" + (f" ({r.already:,} already were)" if r.already else "")
               + f"; written to {r.path.name}.", icon=":material/task_alt:")


job_panel("ack", title="Writing calendar_overrides.toml", failed="Could not acknowledge: ", on_done=_acknowledged)

# ---- candlesticks ---------------------------------------------------------------------------
st.subheader("Bars")
inspect = st.selectbox("Show the bars around a gap of this page", range(len(shown)),
                       format_func=lambda i: _label(shown[i]), index=None, key="health_gap") if shown else None
if inspect is not None:
    d0 = shown[inspect].start.astimezone(dt.UTC).date()
    default = (max(first, d0 - dt.timedelta(days=1)), min(last, d0 + dt.timedelta(days=2)))
else:
    default = (days[max(0, len(days) - 3)], last)
picked = st.date_input("Trading days", value=default, min_value=first, max_value=last,
                       key=f"health_days_{inspect}")
if isinstance(picked, tuple) and len(picked) == 2:
    bars, cal = answers.candle_bars(s, tk, picked[0], picked[1])
    st.plotly_chart(plots.candles(bars, cal, picked[0], picked[1]), key="health_candles")

# ---- integrity --------------------------------------------------------------------------------
st.subheader("Integrity")
if not rep.integrity.findings:
    st.success(f"All {rep.rows:,} rows pass the invariants, the tick grid, the spike and zero-volume checks.",
               icon=":material/verified:")
else:
    st.table(plots.integrity_table(rep.integrity.findings))

# ---- notes: one line per kind, the items behind an expander -----------------------------------
st.subheader("Notes")
st.caption("Information, never a failure.")
for n in view.notes:
    with st.expander(f"Note: {n.text}"):
        if n.items:
            st.text("\n".join(n.items[:200]) + (f"\n… and {n.count - 200:,} more" if n.count > 200 else ""))
        else:
            st.caption("Nothing to list.")
