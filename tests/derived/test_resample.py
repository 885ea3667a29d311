"""Upsampling 1m -> 5m/15m/1h/4h against an independent pandas reference (SPEC 8.1)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.derived.resample import TF_MINUTES, label_minutes, upsample, upsample_all
from tests.derived.builders import make_bars

ET = "America/New_York"
CAL = get_calendar("CME Globex Equity")


def reference(bars: pl.DataFrame, tf: str) -> pd.DataFrame:
    """Independent upsample: pandas wall-clock floor of (ET time - 18:00), segment lookup by
    merge_asof, label = max(window start, segment start), then a plain groupby."""
    df = bars.to_pandas()
    df["datetime"] = df["datetime"].dt.as_unit("us")
    seg = CAL.segments(df["datetime"].min().date() - dt.timedelta(days=3),
                       df["datetime"].max().date() + dt.timedelta(days=3)).to_pandas()
    for c in ("start", "end"):
        seg[c] = seg[c].dt.as_unit("us")
    m = pd.merge_asof(df.sort_values("datetime"), seg, left_on="datetime", right_on="start")
    m = m[m["datetime"] < m["end"]].copy()
    local = m["datetime"].dt.tz_convert(ET).dt.tz_localize(None)
    shifted = local - pd.Timedelta(hours=18)
    floor = shifted.dt.floor(f"{TF_MINUTES[tf]}min") + pd.Timedelta(hours=18)
    wstart = floor.dt.tz_localize(ET, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    m["label"] = pd.concat([wstart, m["start"]], axis=1).max(axis=1)
    g = m.groupby("label", sort=True)
    out = pd.DataFrame({"open": g["open"].first(), "high": g["high"].max(), "low": g["low"].min(),
                        "close": g["close"].last(), "volume": g["volume"].sum(), "bars": g.size()})
    return out.reset_index().rename(columns={"label": "datetime"})


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    # DST changes (2019-03-10, 2019-11-03, 2024-03-10, 2024-11-03), holidays and early closes
    # (Thanksgiving 2019, 2024-07-03/04, 2024-11-29, 2024-12-24/25), the pre-2021-06-28
    # 15:15-15:30 CT halt, and planted gaps (2 % of minutes dropped at random).
    parts = [make_bars(dt.date(2010, 3, 10), dt.date(2010, 3, 17), seed=6, drop_frac=0.02),
             make_bars(dt.date(2019, 3, 6), dt.date(2019, 3, 14), seed=1, drop_frac=0.02),
             make_bars(dt.date(2019, 10, 30), dt.date(2019, 12, 3), seed=2, drop_frac=0.02),
             make_bars(dt.date(2024, 3, 6), dt.date(2024, 3, 13), seed=3, drop_frac=0.02),
             make_bars(dt.date(2024, 7, 1), dt.date(2024, 7, 9), seed=4, drop_frac=0.02),
             make_bars(dt.date(2024, 10, 30), dt.date(2024, 12, 31), seed=5, drop_frac=0.02)]
    return pl.concat(parts)


@pytest.mark.parametrize("tf", list(TF_MINUTES))
def test_upsample_matches_an_independent_pandas_reference_across_dst_holidays_and_gaps(bars, tf):
    lab = label_minutes(bars, CAL)
    got = upsample(lab.frame, tf).to_pandas()
    ref = reference(bars, tf)
    assert lab.outside == 0
    assert len(got) == len(ref) > 0
    assert (got["datetime"].dt.as_unit("us").to_numpy() == ref["datetime"].dt.as_unit("us").to_numpy()).all()
    for c in ("open", "high", "low", "close", "volume", "bars"):
        assert (got[c].to_numpy() == ref[c].to_numpy()).all(), c
    assert set(got["source"]) == {"upsampled"}
    assert got["bars"].sum() == bars.height


def test_4h_windows_start_at_18_22_02_06_10_14_et_and_the_old_halt_splits_the_14h_window(bars):
    got = upsample(label_minutes(bars, CAL).frame, "4h")
    et = got.with_columns(pl.col("datetime").dt.convert_time_zone(ET).alias("et"))
    hhmm = et.select(pl.col("et").dt.strftime("%H:%M"), pl.col("et").dt.date().alias("d"))
    modern = hhmm.filter(pl.col("d") >= dt.date(2021, 7, 1))["et"].unique().to_list()
    assert set(modern) == {"18:00", "22:00", "02:00", "06:00", "10:00", "14:00"}
    old = set(hhmm.filter((pl.col("d") < dt.date(2021, 6, 1)) & (pl.col("d") > dt.date(2013, 1, 1)))["et"]
              .unique().to_list())
    # 2012-11-19 .. 2021-06-25: the 15:15-15:30 CT halt (16:15-16:30 ET) cuts the 14:00 window;
    # the part after the halt is its own bar labelled by the reopening minute.
    assert old == {"18:00", "22:00", "02:00", "06:00", "10:00", "14:00", "16:30"}
    # before 2012-11-19 the next session reopened at 15:30 CT (16:30 ET) after the 15:15 CT
    # close and paused 16:30-17:00 CT: its first 4h bar is 16:30-17:30 ET, labelled 16:30.
    oldest = set(hhmm.filter(pl.col("d") < dt.date(2012, 1, 1))["et"].unique().to_list())
    assert oldest == {"16:30", "18:00", "22:00", "02:00", "06:00", "10:00", "14:00"}


def test_no_upsampled_bar_spans_a_session_break_or_a_trading_day(bars):
    lab = label_minutes(bars, CAL).frame
    seg = CAL.segments(dt.date(2010, 3, 1), dt.date(2025, 1, 5))
    starts = seg["start"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    t1 = lab["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
    seg_of_bar = np.searchsorted(starts, t1, side="right") - 1
    for tf in TF_MINUTES:
        up = upsample(lab, tf, keep_td=True)
        assert label_minutes(up, CAL).frame["td"].to_list() == up["td"].to_list()
        labels = up["datetime"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        owner = np.searchsorted(labels, t1, side="right") - 1        # upsampled bar of each 1m bar
        seg_of_label = np.searchsorted(starts, labels, side="right") - 1
        assert (seg_of_bar >= 0).all() and (seg_of_label[owner] == seg_of_bar).all()
        assert (up["bars"] <= TF_MINUTES[tf]).all()


def test_early_close_keeps_the_short_last_window_with_its_bar_count():
    bars = make_bars(dt.date(2025, 7, 3), dt.date(2025, 7, 3), seed=9)   # closes 13:15 ET
    up = upsample(label_minutes(bars, CAL).frame, "4h")
    last = up.row(-1, named=True)
    assert last["datetime"].astimezone(dt.timezone(dt.timedelta(hours=-4))).strftime("%H:%M") == "10:00"
    assert last["bars"] == 195  # 10:00-13:15 ET
    assert up["bars"].sum() == bars.height


def test_bars_outside_every_session_are_counted_and_left_out():
    bars = make_bars(dt.date(2024, 3, 12), dt.date(2024, 3, 12), seed=3)
    stray = bars.tail(1).with_columns(pl.lit(dt.datetime(2024, 3, 12, 21, 30, tzinfo=dt.UTC)).alias("datetime"))
    lab = label_minutes(pl.concat([bars, stray]), CAL)   # 17:30 ET: the daily halt
    assert lab.outside == 1
    assert lab.frame.height == bars.height


def test_cascaded_upsampling_equals_direct_upsampling_from_1m(bars):
    lab = label_minutes(bars, CAL).frame
    cascaded = upsample_all(lab, keep_td=True)
    for tf in TF_MINUTES:
        assert cascaded[tf].equals(upsample(lab, tf, keep_td=True)), tf
