"""The real NinjaTrader MES export: gaps and stray bars as computed independently here (pandas
and the calendar library directly) match :func:`datamgr.health.gaps.continuity`."""

from __future__ import annotations

import pandas as pd
import pandas_market_calendars as mcal
import polars as pl
import pytest

from datamgr.calendar.sessions import get_calendar
from datamgr.health.gaps import continuity
from tests.conftest import real_file


@pytest.fixture(scope="module")
def mes() -> pl.DataFrame:
    """Bars of the export; stamps are the bar CLOSE in UTC (see the break test below)."""
    raw = pl.read_csv(real_file("MES 09-25.Last.txt"), separator=";", has_header=False,
                      new_columns=["ts", "open", "high", "low", "close", "volume"])
    stamp = pl.col("ts").str.strptime(pl.Datetime("us"), "%Y%m%d %H%M%S").dt.replace_time_zone("UTC")
    return raw.with_columns((stamp - pl.duration(minutes=1)).alias("datetime")).drop("ts")


def test_the_export_is_stamped_at_the_bar_close_in_utc(mes):
    # weekdays have no bar opening 21:00-21:59 UTC: the 16:00-17:00 CT (CDT) daily break
    opens = mes.filter(pl.col("datetime").dt.weekday() <= 4)["datetime"]
    hours = opens.dt.hour().cast(pl.Int32)
    assert int((hours == 21).sum()) <= 5  # a few stray prints at most
    assert int((hours == 20).sum()) > 1000


def independent(mes: pl.DataFrame):
    """Expected minutes per session straight from pandas_market_calendars (2025: no halt)."""
    sched = mcal.get_calendar("CME Globex Equity").schedule("2025-06-12", "2025-08-07")
    minutes = pd.DatetimeIndex(pd.concat([
        pd.Series(pd.date_range(o, c, freq="1min", inclusive="left"))
        for o, c in zip(sched["market_open"], sched["market_close"], strict=True)]))
    bars = pd.DatetimeIndex(mes["datetime"].to_pandas())
    expected = minutes.tz_convert("UTC")
    missing = expected.difference(bars)
    strays = bars.difference(expected)
    # runs of consecutive expected minutes (by position in the expected sequence)
    pos = pd.Series(expected.get_indexer(missing))
    run_id = (pos.diff() != 1).cumsum()
    runs = pd.DataFrame({"pos": pos, "run": run_id}).groupby("run")["pos"].agg(["first", "count"])
    gaps = [(expected[f], int(n)) for f, n in zip(runs["first"], runs["count"], strict=True)]
    return len(expected), gaps, list(strays)


def test_gaps_and_strays_of_the_real_mes_export_match_an_independent_computation(mes):
    n_expected, gaps, strays = independent(mes)
    res = continuity(mes, get_calendar("CME Globex Equity"))
    assert res.expected == n_expected
    assert [(pd.Timestamp(g.start), g.missing) for g in res.gaps] == gaps
    assert [pd.Timestamp(t) for t in res.strays["datetime"].to_list()] == strays
    assert res.outside_session == len(strays) == 44
    assert res.present + res.outside_session == mes.height
    # the first and last session are partial: the file starts 00:00 ET and ends 18:50 ET
    assert res.gaps[0].cls == "edge" and res.gaps[-1].cls == "edge"
    # every missing in-session minute is listed with its probability of having had no trade; all
    # of them are 1-2 minute gaps in thin trading (the back-month day 2025-06-12, two night minutes)
    inner = res.gaps[1:-1]
    assert {g.cls for g in inner} == {"quiet"} and res.holes == []
    assert all(g.missing <= 2 and 0.01 <= g.p_no_trade <= 1 for g in inner)
    assert sum(g.missing for g in res.gaps) == res.expected - res.present


def test_the_real_export_shows_the_2025_early_closes_of_the_calendar(mes):
    ct = mes.select(pl.col("datetime").dt.convert_time_zone("America/Chicago").alias("ct")).with_columns(
        pl.col("ct").dt.date().alias("d"), pl.col("ct").dt.strftime("%H:%M").alias("hm"))

    def last_open_before_17(day: str) -> str:
        rows = ct.filter((pl.col("d").cast(pl.String) == day) & (pl.col("hm") < "17:00"))
        return rows["hm"].max()

    # the last bar OPENS one minute before the close
    assert last_open_before_17("2025-07-03") == "12:14"  # 12:15 CT early close
    assert last_open_before_17("2025-07-04") == "11:59"  # 12:00 CT
    assert last_open_before_17("2025-06-19") == "11:59"  # 12:00 CT (Juneteenth)
    regular = ct.filter(pl.col("d").cast(pl.String) == "2025-07-02")["hm"]
    assert "15:59" in regular.to_list()  # regular 16:00 CT close
    assert regular.is_between("15:15", "15:29").sum() == 15  # no 15:15-15:30 halt since 2021
