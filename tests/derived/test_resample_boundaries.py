"""Upsampling boundaries (issue 15): a bar exactly at a segment end, a segment that a DST change
crosses (only an ``[[opened]]`` override makes one: CME and NYSE are closed at 02:00 on Sundays), and
the 24-hour wall-clock window."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.derived.resample import RTH, TF_MINUTES, a_to_hhmm, label_minutes, upsample, window_offsets

ET = ZoneInfo("America/New_York")
UTC = pl.Datetime("us", "UTC")
CAL = get_calendar("CME Globex Equity")


def at(times: pl.Series) -> pl.DataFrame:
    n = times.len()
    p = 5000 + np.cumsum(np.where(np.arange(n) % 3, 0.25, -0.25))
    return pl.DataFrame({"datetime": times.cast(UTC), "open": p, "high": p + 0.5, "low": p - 0.5, "close": p,
                         "volume": np.arange(n, dtype=np.int64) % 7 + 1, "source": ["demo"] * n})


def reference(bars: pl.DataFrame, cal, tf: str) -> list[tuple[dt.datetime, int]]:
    """(label, bar count) per window from pandas: wall-clock floor of (ET - 18:00), segment by merge_asof.

    The window opened ``local - floor`` of wall-clock time before the bar (in the repeated hour of a
    fall-back night the wall-clock start names two instants: this picks the bar's own pass)."""
    df = bars.to_pandas()
    df["datetime"] = df["datetime"].dt.as_unit("us")
    d0, d1 = df["datetime"].min().date(), df["datetime"].max().date()
    seg = cal.segments(d0 - dt.timedelta(days=3), d1 + dt.timedelta(days=3)).to_pandas()
    for c in ("start", "end"):
        seg[c] = seg[c].dt.as_unit("us")
    m = pd.merge_asof(df.sort_values("datetime"), seg, left_on="datetime", right_on="start")
    m = m[m["datetime"] < m["end"]].copy()
    local = m["datetime"].dt.tz_convert("America/New_York").dt.tz_localize(None)
    floor = (local - pd.Timedelta(hours=18)).dt.floor(f"{TF_MINUTES[tf]}min") + pd.Timedelta(hours=18)
    wstart = m["datetime"] - (local - floor)
    m["label"] = pd.concat([wstart, m["start"]], axis=1).max(axis=1)
    g = m.groupby("label", sort=True).size()
    return [(t.to_pydatetime(), int(n)) for t, n in g.items()]


def test_a_bar_exactly_at_a_segment_end_is_outside_and_the_last_minute_is_inside():
    day = dt.date(2025, 7, 8)
    t = CAL.expected_minutes(day, day)
    close = CAL.sessions(day, day)["close"][0]
    assert t[-1] == close - dt.timedelta(minutes=1)
    bars = at(pl.concat([t, pl.Series([close], dtype=UTC)]))
    lab = label_minutes(bars, CAL)
    assert lab.outside == 1 and lab.frame.height == t.len()
    assert lab.frame["datetime"][-1] == close - dt.timedelta(minutes=1)
    assert lab.frame["a"][-1] == 1380 - 1  # the last wall-clock minute of an 18:00-17:00 ET session
    up = upsample(lab.frame, "1h")
    assert up["bars"].sum() == t.len() and up["bars"][-1] == 60
    assert up["datetime"][-1] == close - dt.timedelta(hours=1)
    # the segment start is inside: the first bar of the session opens the first window
    first = label_minutes(at(pl.Series([CAL.sessions(day, day)["open"][0]], dtype=UTC)), CAL)
    assert first.outside == 0 and first.frame["a"][0] == 0 and first.frame["off"][0] == 0


@pytest.fixture(scope="module")
def fall_back():
    """2025-11-02 00:00 EDT .. 03:00 EST traded (an [[opened]] override): the 01:00 hour happens twice."""
    cal = get_calendar("CME Globex Equity",
                       opened=((dt.datetime(2025, 11, 2, 4, tzinfo=dt.UTC), dt.datetime(2025, 11, 2, 8, tzinfo=dt.UTC),
                                None),))
    day = dt.date(2025, 11, 3)
    return cal, at(cal.expected_minutes(day, day))


def test_a_segment_across_the_fall_back_change_gets_true_wall_clock_offsets(fall_back):
    cal, bars = fall_back
    lab = label_minutes(bars, cal).frame
    assert lab.height == bars.height == 240 + 1380
    anchor = dt.datetime(2025, 11, 2, 18, 0)  # 18:00 ET of the day before trading day 2025-11-03 (naive)
    want = [int((t.astimezone(ET).replace(tzinfo=None) - anchor) / dt.timedelta(microseconds=1))
            for t in bars["datetime"].to_list()]
    assert lab["off"].to_list() == want
    assert set(lab["td"].to_list()) == {dt.date(2025, 11, 3)}


@pytest.mark.parametrize("tf", list(TF_MINUTES))
def test_upsampling_across_the_fall_back_change_matches_the_pandas_reference(fall_back, tf):
    cal, bars = fall_back
    up = upsample(label_minutes(bars, cal).frame, tf)
    assert list(zip(up["datetime"].to_list(), up["bars"].to_list(), strict=True)) == reference(bars, cal, tf)


def test_the_4h_window_holds_both_passes_of_the_repeated_hour(fall_back):
    cal, bars = fall_back
    up = upsample(label_minutes(bars, cal).frame, "4h").head(2)
    # [22:00, 02:00) wall clock: 00:00 EDT .. 01:59 EST = 04:00-06:59 UTC (180 bars, opened at 04:00 UTC);
    # [02:00, 06:00): 02:00-02:59 EST = 07:00-07:59 UTC
    assert list(zip(up["datetime"].to_list(), up["bars"].to_list(), strict=True)) == [
        (dt.datetime(2025, 11, 2, 4, tzinfo=dt.UTC), 180), (dt.datetime(2025, 11, 2, 7, tzinfo=dt.UTC), 60)]


@pytest.mark.parametrize(("start", "end", "want"), [
    ("18:00", "18:00", (0, 1440)),    # a 24-hour window: the whole trading day, not an empty one
    ("09:30", "09:30", (930, 2370)),  # 24 hours from 09:30
    ("18:00", "03:00", (0, 540)),
    ("09:30", "16:00", RTH),
    ("17:00", "18:00", (1380, 1440)),
    ("00:00", "00:01", (360, 361)),
])
def test_window_offsets_including_the_24_hour_window(start, end, want):
    lo, hi = window_offsets(start, end)
    assert (lo, hi) == want
    assert a_to_hhmm(lo) == start and a_to_hhmm(hi) == end


def test_a_24_hour_window_covers_every_bar_of_a_session():
    day = dt.date(2025, 7, 8)
    lab = label_minutes(at(CAL.expected_minutes(day, day)), CAL).frame
    lo, hi = window_offsets("18:00", "18:00")
    assert lab.filter(pl.col("a").is_between(lo, hi - 1)).height == lab.height == 1380
    assert lab["a"].min() == 0 and lab["a"].max() == 1379


def test_the_trading_day_column_is_kept_only_when_asked():
    day = dt.date(2025, 7, 8)
    lab = label_minutes(at(CAL.expected_minutes(day, day)), CAL).frame
    assert upsample(lab, "1h").columns == ["datetime", "open", "high", "low", "close", "volume", "source", "bars"]
    assert upsample(lab, "1h", keep_td=True)["td"].unique().to_list() == [day]


def test_no_bars_label_to_an_empty_frame_with_every_column():
    lab = label_minutes(at(pl.Series([], dtype=UTC)), CAL)
    assert lab.outside == 0 and lab.frame.height == 0
    assert lab.frame.columns == ["datetime", "open", "high", "low", "close", "volume", "td", "seg_start", "off", "a"]
