"""Integrity scan: invariants, off-tick prices, spikes and zero-volume runs, with rows and times."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from datamgr.health.integrity import scan
from datamgr.ops.demo import make_demo_bars


def demo() -> pl.DataFrame:
    return make_demo_bars(dt.date(2025, 6, 2), dt.date(2025, 6, 6), seed=3)


def put(df: pl.DataFrame, row: int, **values) -> pl.DataFrame:
    idx = pl.int_range(pl.len()) == row
    return df.with_columns([pl.when(idx).then(pl.lit(v)).otherwise(pl.col(k)).alias(k) for k, v in values.items()])


def rules(rep) -> dict[str, tuple[int, ...]]:
    return {f.rule: f.rows for f in rep.findings}


def test_clean_demo_bars_have_no_findings():
    rep = scan(demo(), 0.25)
    assert rep.ok and rep.findings == []
    assert rep.to_json()["ok"] is True


def test_broken_invariants_are_reported_with_their_rows():
    df = demo()
    df = put(df, 10, low=df["high"][10] + 1.0)
    df = put(df, 20, volume=-5)
    found = rules(scan(df, 0.25))
    assert found["invariant: low > high"] == (10,)
    assert found["invariant: volume < 0"] == (20,)


def test_off_tick_prices_are_reported_with_their_rows():
    df = demo()
    df = put(df, 100, close=df["close"][100] + 0.1, high=df["high"][100] + 0.1)
    rep = scan(df, 0.25)
    assert rules(rep)["off-tick price"] == (100,)
    f = next(f for f in rep.findings if f.rule == "off-tick price")
    assert f.times[0].endswith("-04:00")  # ET with offset


def test_off_tick_finds_every_row_of_an_off_grid_value_in_any_column_but_not_a_nan_row():
    df = demo()
    v = float(df["open"][10]) + 0.1                       # one off-grid value, on three rows, two columns
    df = put(df, 10, open=v)
    df = put(df, 20, low=v, open=max(v, float(df["open"][20])), close=max(v, float(df["close"][20])))
    df = put(df, 30, open=v, close=float("nan"))        # a NaN price is an invariant finding, not off-tick
    rep = scan(df, 0.25)
    assert rules(rep)["off-tick price"] == (10, 20)
    assert rules(rep)["invariant: NaN or inf price"] == (30,)


def test_an_isolated_spike_is_found_but_a_lasting_move_is_not():
    df = demo()
    c = df["close"][500]
    df = put(df, 500, high=c + 60.0)                     # one wild print, then back
    jump = np.zeros(df.height)
    jump[900:] = 40.0                                      # a level shift that lasts
    df = df.with_columns([(pl.col(k) + pl.Series(jump)).alias(k) for k in ("open", "high", "low", "close")])
    assert rules(scan(df, 0.25)).get("spike") == (500,)


def test_zero_volume_runs_of_five_or_more_bars_are_reported_at_their_first_row():
    df = demo()
    vol = df["volume"].to_numpy().copy()
    vol[50:58] = 0   # run of 8
    vol[70:72] = 0   # run of 2: too short
    found = scan(df.with_columns(pl.Series("volume", vol)), 0.25)
    assert rules(found)["zero-volume run (>= 5 bars)"] == (50,)
