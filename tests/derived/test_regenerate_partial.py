"""Incremental regeneration reads only the master's changed row groups and still writes the bytes
of a full rebuild (row groups made small here so a three-month master has many)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from datamgr.derived import lineage as lin
from datamgr.derived import partial, steps
from datamgr.derived.regenerate import regenerate
from datamgr.ops.demo import default_gaps, make_demo_bars
from datamgr.store import store as store_mod
from tests.derived.helpers import json_outputs, parquet_hashes

START, END = dt.date(2024, 1, 2), dt.date(2024, 3, 28)


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(store_mod, "ROW_GROUP", 5_000)
    monkeypatch.setattr(partial, "ROW_GROUP", 5_000)
    monkeypatch.setattr(steps, "ROW_GROUP", 5_000)


@pytest.fixture(scope="module")
def master() -> pl.DataFrame:
    return make_demo_bars(START, END, gaps=default_gaps(START, END))


def before(bars: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    return bars.filter(pl.col("datetime") < dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC))


def spy_tail(monkeypatch) -> list:
    seen = []
    real = partial.read_tail

    def spy(*a, **k):
        t = real(*a, **k)
        seen.append(t)
        return t

    monkeypatch.setattr(partial, "read_tail", spy)
    return seen


def test_a_week_appended_reads_two_row_groups_and_equals_a_full_rebuild(small_groups, dsettings, dstore, master,
                                                                       monkeypatch):
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    dstore.write("ES1", "1m", master, operation="import")
    meta = dstore.read_meta("ES1", "1m")
    assert len(meta.row_group_digests) > 10 and partial.trusted_digests(meta)
    seen = spy_tail(monkeypatch)
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and {s.mode for s in rep.steps} == {"incremental"} and rep.changed_days == 6
    (tail,) = seen
    assert tail is not None and tail.first_group >= len(meta.row_group_digests) - 3
    assert tail.bars.height < master.height / 4  # only the tail was read
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash


def test_a_corrected_bar_in_an_early_row_group_is_found(small_groups, dsettings, dstore, master, monkeypatch):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    fixed = master.with_columns(
        pl.when(pl.col("datetime") == dt.datetime(2024, 2, 6, 15, 0, tzinfo=dt.UTC))
        .then(pl.col("high") + 10).otherwise(pl.col("high")).alias("high"))
    dstore.write("ES1", "1m", fixed, operation="import")
    seen = spy_tail(monkeypatch)
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and rep.changed_days == 1
    assert seen and (seen[0] is None or seen[0].first_row > 0)
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash


def test_a_shorter_master_and_a_missing_output_still_equal_a_full_rebuild(small_groups, dsettings, dstore, master):
    dstore.write("ES1", "1m", master, operation="import")
    regenerate(dsettings, "ES1")
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 11)), operation="restore")
    (dsettings.data_dir / "ES1_profiler.json").unlink()  # that step must rebuild in full
    rep = regenerate(dsettings, "ES1")
    assert rep.ok and rep.steps[2].mode == "full" and rep.steps[0].mode == "incremental"
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash


def test_a_state_from_another_master_is_not_trusted(small_groups, dsettings, dstore, master):
    dstore.write("ES1", "1m", before(master, dt.date(2024, 3, 21)), operation="import")
    regenerate(dsettings, "ES1")
    state = dsettings.data_dir / ".derived" / "ES1.json"
    state.write_text(state.read_text().replace('"row_groups":["', '"row_groups":["00'), encoding="utf-8")
    dstore.write("ES1", "1m", master, operation="import")
    st = lin.load_state(dsettings, "ES1")
    assert partial.read_tail(dstore.path("ES1", "1m"), dstore.read_meta("ES1", "1m"), st) is None
    rep = regenerate(dsettings, "ES1")
    assert rep.ok
    inc, inc_hash = json_outputs(dsettings.data_dir), parquet_hashes(dstore)
    regenerate(dsettings, "ES1", full=True)
    assert json_outputs(dsettings.data_dir) == inc and parquet_hashes(dstore) == inc_hash
