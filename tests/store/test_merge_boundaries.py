"""Merge boundaries (issue 15): the tolerance of "identical", unlisted sources, counts under a
forced replace range, and the plan's summary fields, each on a few hand-built bars."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.store.merge import plan_merge

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
PREC = ("ninjatrader", "smartapi", "yahoo", "upsampled", "demo")
SCHEMA = {"datetime": pl.Datetime("us", "UTC"), "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
          "close": pl.Float64, "volume": pl.Int64, "source": pl.String}


def t(m: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=m)


def bars(rows: list[tuple]) -> pl.DataFrame:
    """rows: (minute, open, high, low, close, volume, source)."""
    return pl.DataFrame([(t(r[0]), *r[1:]) for r in rows], schema=SCHEMA, orient="row")


def flat(minutes, price=100.0, vol=5, source="ninjatrader") -> pl.DataFrame:
    return bars([(m, price, price + 0.5, price - 0.5, price, vol, source) for m in minutes])


@pytest.mark.parametrize("col", ["open", "high", "low", "close"])
def test_a_one_cent_correction_on_a_cent_tick_instrument_is_a_conflict_not_identical(col):
    ex = bars([(0, 10.00, 10.05, 9.95, 10.00, 7, "yahoo")])
    inc = ex.with_columns((pl.col(col) + 0.01).alias(col), pl.lit("ninjatrader").alias("source"))
    plan = plan_merge(ex, inc, precedence=PREC)
    assert (plan.identical, plan.conflicts, plan.replaced, plan.kept, plan.new) == (0, 1, 1, 0, 0)
    assert plan.result[col][0] == pytest.approx(inc[col][0])
    assert plan.result["source"].to_list() == ["ninjatrader"]
    assert plan.changed


def test_float_noise_below_1e_9_is_identical_and_keeps_the_existing_row_and_source():
    ex = bars([(0, 0.1 + 0.2, 0.5, 0.1, 0.3, 7, "yahoo")])  # 0.30000000000000004
    inc = bars([(0, 0.3, 0.5, 0.1, 0.3, 7, "ninjatrader")])
    plan = plan_merge(ex, inc, precedence=PREC)
    assert (plan.identical, plan.conflicts, plan.new, plan.replaced) == (1, 0, 0, 0)
    assert plan.result.equals(ex)  # byte-for-byte: the yahoo label stays
    assert not plan.changed


def test_a_volume_difference_alone_is_a_conflict():
    ex = flat([0], vol=7, source="yahoo")
    inc = flat([0], vol=8, source="ninjatrader")
    plan = plan_merge(ex, inc, precedence=PREC)
    assert (plan.identical, plan.conflicts, plan.replaced) == (0, 1, 1)
    assert plan.result["volume"].to_list() == [8]


def test_an_unlisted_existing_source_counts_as_the_users_own_and_ranks_above_every_listed_one():
    # issue 11: bars of unknown source (a legacy master) are the user's own unless configured
    ex = flat([0, 1], price=100.0, source="legacy")
    inc = flat([0, 1], price=100.25, source="ninjatrader")  # even the highest listed source loses
    plan = plan_merge(ex, inc, precedence=PREC)
    assert (plan.conflicts, plan.replaced, plan.kept) == (2, 0, 2)
    assert plan.result.equals(ex)
    assert plan.conflict_rows["winner"].to_list() == ["existing", "existing"]


def test_an_unlisted_incoming_source_beats_a_listed_existing_one():
    ex = flat([0], price=100.0, source="demo")
    inc = flat([0], price=100.25, source="legacy")
    plan = plan_merge(ex, inc, precedence=PREC)
    assert (plan.conflicts, plan.replaced, plan.kept) == (1, 1, 0)
    assert plan.result["source"].to_list() == ["legacy"]
    assert plan.conflict_rows["winner"].to_list() == ["incoming"]
    assert plan.conflict_rows["source_in"].to_list() == ["legacy"]


def test_a_configured_position_for_an_unknown_source_is_respected():
    ex = flat([0], price=100.0, source="legacy")
    inc = flat([0], price=100.25, source="ninjatrader")
    plan = plan_merge(ex, inc, precedence=(*PREC, "legacy"))  # listed last: below every other source
    assert (plan.replaced, plan.kept) == (1, 0) and plan.result["source"].to_list() == ["ninjatrader"]


@pytest.mark.parametrize("src", ["ninjatrader", "yahoo", "legacy"])
def test_equal_precedence_lets_the_newer_export_win(src):
    ex = flat([0], price=100.0, source=src)
    inc = flat([0], price=100.25, source=src)
    plan = plan_merge(ex, inc, precedence=PREC)
    assert (plan.replaced, plan.kept) == (1, 0)
    assert plan.result["close"].to_list() == [100.25]


def test_a_lower_listed_source_loses_to_the_one_just_above_it():
    ex = flat([0], price=100.0, source="smartapi")
    plan = plan_merge(ex, flat([0], price=100.25, source="yahoo"), precedence=PREC)
    assert (plan.replaced, plan.kept) == (0, 1)
    plan = plan_merge(flat([0], price=100.0, source="yahoo"), flat([0], price=100.25, source="smartapi"),
                      precedence=PREC)
    assert (plan.replaced, plan.kept) == (1, 0)


def test_replace_range_counts_new_replaced_and_removed_once_each():
    # existing 0..5; incoming 3..8; forced range 2..6
    ex = flat(range(0, 6), price=100.0, source="ninjatrader")
    inc = flat(range(3, 9), price=99.0, source="yahoo")
    plan = plan_merge(ex, inc, precedence=PREC, replace_range=(t(2), t(6)))
    # 3, 4, 5: existing replaced by force; 2: existing removed; 6, 7, 8: new (6 is inside the range
    # but had no existing bar: it is new, not replaced, and counted once)
    assert (plan.new, plan.replaced, plan.removed, plan.kept, plan.conflicts) == (3, 3, 1, 0, 0)
    assert plan.rows_before + plan.new - plan.removed == plan.result_rows == 8
    out = {r[0]: r[4] for r in plan.result.iter_rows()}
    assert [out[t(m)] for m in (0, 1)] == [100.0, 100.0]
    assert t(2) not in out
    assert [out[t(m)] for m in range(3, 9)] == [99.0] * 6
    assert plan.incoming == 6 and plan.rows_before == 6


def test_replace_range_with_no_incoming_bars_removes_only_the_range():
    ex = flat(range(0, 6))
    empty = ex.clear()
    plan = plan_merge(ex, empty, precedence=PREC, replace_range=(t(1), t(2)))
    assert (plan.new, plan.replaced, plan.removed) == (0, 0, 2)
    assert plan.result["datetime"].to_list() == [t(m) for m in (0, 3, 4, 5)]
    assert plan.changed


def test_replace_range_endpoints_are_inclusive():
    ex = flat(range(0, 5))
    plan = plan_merge(ex, ex.clear(), precedence=PREC, replace_range=(t(1), t(3)))
    assert plan.removed == 3
    assert plan.result["datetime"].to_list() == [t(0), t(4)]


def test_incoming_outside_a_narrow_replace_range_still_follows_precedence():
    ex = flat(range(0, 4), price=100.0, source="ninjatrader")
    inc = flat(range(0, 4), price=99.0, source="yahoo")
    plan = plan_merge(ex, inc, precedence=PREC, replace_range=(t(3), t(3)))
    assert (plan.replaced, plan.kept, plan.removed, plan.new) == (1, 3, 0, 0)
    assert plan.result["close"].to_list() == [100.0, 100.0, 100.0, 99.0]


def test_empty_existing_takes_every_incoming_bar_as_new_and_empty_incoming_changes_nothing():
    inc = flat(range(3))
    plan = plan_merge(inc.clear(), inc, precedence=PREC)
    assert (plan.new, plan.rows_before, plan.result_rows, plan.identical) == (3, 0, 3, 0)
    assert plan.result.equals(inc) and plan.changed
    plan = plan_merge(inc, inc.clear(), precedence=PREC)
    assert (plan.new, plan.rows_before, plan.result_rows) == (0, 3, 3)
    assert plan.result.equals(inc) and not plan.changed
    assert plan.start == t(0) and plan.end == t(2)
    none = plan_merge(inc.clear(), inc.clear(), precedence=PREC)
    assert none.start is None and none.end is None and none.result_rows == 0


def test_bars_outside_the_incoming_range_are_spliced_back_untouched_and_in_order():
    ex = flat(range(0, 10), price=100.0, source="yahoo")
    inc = flat([4, 5], price=101.0, source="ninjatrader")
    plan = plan_merge(ex, inc, precedence=PREC)
    assert plan.result["datetime"].to_list() == [t(m) for m in range(10)]
    assert plan.result["datetime"].is_sorted()
    assert plan.result["close"].to_list() == [100.0] * 4 + [101.0] * 2 + [100.0] * 4
    assert plan.rows_before == 10 and plan.incoming == 2 and plan.replaced == 2


def test_to_json_reports_counts_times_in_et_and_each_conflict_once():
    ex = flat([0, 1], price=100.0, source="yahoo")
    inc = flat([1, 2], price=100.25, source="ninjatrader")
    j = plan_merge(ex, inc, precedence=PREC).to_json()
    assert {k: j[k] for k in ("rows_before", "incoming", "new", "identical", "conflicts", "replaced", "kept",
                              "removed", "result_rows")} == {
        "rows_before": 2, "incoming": 2, "new": 1, "identical": 0, "conflicts": 1, "replaced": 1, "kept": 0,
        "removed": 0, "result_rows": 3}
    assert j["start"] == "2025-03-03T09:30:00-05:00" and j["end"] == "2025-03-03T09:32:00-05:00"
    assert [r["datetime"] for r in j["conflict_rows"]] == ["2025-03-03T09:31:00-05:00"]
    assert j["conflict_rows"][0]["winner"] == "incoming"
    assert j["conflict_rows"][0]["close"] == 100.0 and j["conflict_rows"][0]["close_in"] == 100.25
    assert len(plan_merge(ex, inc, precedence=PREC).to_json(max_conflicts=0)["conflict_rows"]) == 0


def test_the_plan_is_logged_with_every_count(caplog):
    ex = flat(range(0, 4), price=100.0, source="yahoo")
    inc = flat(range(2, 6), price=100.25, source="ninjatrader")
    with caplog.at_level("INFO", logger="datamgr.store.merge"):
        plan_merge(ex, inc.with_columns(pl.when(pl.col("datetime") == t(3)).then(pl.lit("demo"))
                                        .otherwise(pl.col("source")).alias("source")), precedence=PREC)
    assert caplog.messages == ["merge plan: 2 new, 0 identical, 2 conflicts (1 replaced, 1 kept), 0 removed"]
