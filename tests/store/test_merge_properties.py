"""Merge properties (hypothesis): existing bars are never lost, merging is idempotent, source
precedence is respected and every conflict is reported."""

from __future__ import annotations

import datetime as dt

import polars as pl
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from datamgr.store.merge import plan_merge

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
PREC = ("ninjatrader", "smartapi", "yahoo", "upsampled", "demo")
SCHEMA = {"datetime": pl.Datetime("us", "UTC"), "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
          "close": pl.Float64, "volume": pl.Int64, "source": pl.String}


@st.composite
def frames(draw, sources=PREC):
    minutes = sorted(draw(st.sets(st.integers(0, 60), max_size=30)))
    rows = []
    for m in minutes:
        p = draw(st.integers(1, 6)) * 0.25 + 100
        v = draw(st.integers(0, 3))
        rows.append((T0 + dt.timedelta(minutes=m), p, p + 0.5, p - 0.5, p, v, draw(st.sampled_from(sources))))
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def _rows(df: pl.DataFrame) -> dict:
    return {r[0]: r[1:] for r in df.iter_rows()}


@hyp_settings(max_examples=150, deadline=None)
@given(ex=frames(), inc=frames())
def test_merge_never_loses_an_existing_bar_and_follows_precedence(ex, inc):
    plan = plan_merge(ex, inc, precedence=PREC)
    out, old, new = _rows(plan.result), _rows(ex), _rows(inc)
    assert set(out) == set(old) | set(new)
    assert plan.result["datetime"].is_sorted() and plan.result["datetime"].n_unique() == plan.result.height
    rank = {s: i for i, s in enumerate(PREC)}
    n_conf = 0
    for t, row in out.items():
        if t in old and t in new:
            if old[t][:5] == new[t][:5]:
                assert row == old[t]  # identical: a no-op, existing row (and source) untouched
            else:
                n_conf += 1
                want = new[t] if rank[new[t][5]] <= rank[old[t][5]] else old[t]
                assert row == want
        else:
            assert row == (old.get(t) or new.get(t))
    assert plan.conflicts == n_conf == plan.conflict_rows.height == plan.replaced + plan.kept
    assert plan.new == len(set(new) - set(old))
    assert plan.identical == len([t for t in set(old) & set(new) if old[t][:5] == new[t][:5]])
    assert plan.result_rows == plan.rows_before + plan.new


@hyp_settings(max_examples=100, deadline=None)
@given(ex=frames(), inc=frames())
def test_merging_the_same_bars_twice_changes_nothing_the_second_time(ex, inc):
    once = plan_merge(ex, inc, precedence=PREC)
    twice = plan_merge(once.result, inc, precedence=PREC)
    assert twice.result.equals(once.result)
    assert not twice.changed and twice.new == 0 and twice.replaced == 0


@hyp_settings(max_examples=100, deadline=None)
@given(ex=frames(), inc=frames(), a=st.integers(0, 60), b=st.integers(0, 60))
def test_forced_replace_range_takes_incoming_bars_and_keeps_everything_outside(ex, inc, a, b):
    lo, hi = T0 + dt.timedelta(minutes=min(a, b)), T0 + dt.timedelta(minutes=max(a, b))
    plan = plan_merge(ex, inc, precedence=("yahoo", "ninjatrader"), replace_range=(lo, hi))
    out, old, new = _rows(plan.result), _rows(ex), _rows(inc)
    for t in old:
        if not lo <= t <= hi:
            assert t in out  # outside the range nothing existing is lost
    for t, row in new.items():
        if lo <= t <= hi:
            assert out[t] == row
    inside_old_only = [t for t in old if lo <= t <= hi and t not in new]
    assert plan.removed == len(inside_old_only)
    assert all(t not in out for t in inside_old_only)


def test_conflict_with_a_lower_precedence_source_keeps_the_existing_bar():
    ex = pl.DataFrame([(T0, 100.0, 101.0, 99.0, 100.0, 5, "ninjatrader")], schema=SCHEMA, orient="row")
    inc = pl.DataFrame([(T0, 100.25, 101.0, 99.0, 100.0, 5, "yahoo")], schema=SCHEMA, orient="row")
    plan = plan_merge(ex, inc, precedence=PREC)
    assert plan.conflicts == 1 and plan.kept == 1 and plan.replaced == 0
    assert plan.conflict_rows["winner"].to_list() == ["existing"]
    assert plan.result.equals(ex)
