"""Builders for the Yahoo tests: a master, Yahoo's view of the same market, planted bad candles."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.ops.demo import make_demo_bars

UTC = dt.UTC
# a pinned "now": Friday 2025-03-07 17:00 ET, after the close
NOW = dt.datetime(2025, 3, 7, 22, 0, tzinfo=UTC)
SPLIT = dt.datetime(2025, 3, 5, 15, 0, tzinfo=UTC)  # the master ends here


def market() -> pl.DataFrame:
    """The week's true 1m bars (source demo)."""
    return make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7), seed=1)


def master_and_yahoo() -> tuple[pl.DataFrame, pl.DataFrame]:
    """A ninjatrader master up to SPLIT, and Yahoo's bars of the whole week."""
    m = market()
    master = m.filter(pl.col("datetime") < SPLIT).with_columns(pl.lit("ninjatrader").alias("source"))
    return master, m.with_columns(pl.lit("yahoo").alias("source"))


def daily(bars: pl.DataFrame) -> pl.DataFrame:
    """Daily bars by trading day (labelled by the trading date at 00:00 UTC)."""
    lab = get_calendar("CME Globex Equity").label(bars["datetime"])
    return (bars.with_columns(lab["trading_day"].alias("d")).group_by("d", maintain_order=True)
            .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
                 pl.col("volume").sum(), pl.col("source").first())
            .with_columns(pl.col("d").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("datetime"))
            .select("datetime", "open", "high", "low", "close", "volume", "source").sort("datetime"))


def at(df: pl.DataFrame, when: dt.datetime) -> dict:
    return df.filter(pl.col("datetime") == when).row(0, named=True)


def plant(yahoo: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, dt.datetime]]:
    """Yahoo bars with one of each bad candle planted; returns the frame and where each is."""
    spots = {
        "spike": dt.datetime(2025, 3, 6, 15, 40, tzinfo=UTC),
        "off_tick": dt.datetime(2025, 3, 6, 16, 10, tzinfo=UTC),
        "broken": dt.datetime(2025, 3, 6, 17, 0, tzinfo=UTC),
        "disagree": dt.datetime(2025, 3, 5, 14, 30, tzinfo=UTC),  # inside the ninjatrader master
        "outside": dt.datetime(2025, 3, 6, 22, 30, tzinfo=UTC),  # 17:30 ET: the daily halt
    }
    y = yahoo
    spike = at(y, spots["spike"])
    off = at(y, spots["off_tick"])
    br = at(y, spots["broken"])
    dis = at(y, spots["disagree"])

    def setrow(df, when, **vals):
        return df.with_columns(
            [pl.when(pl.col("datetime") == when).then(pl.lit(v)).otherwise(pl.col(k)).alias(k) for k, v in vals.items()])

    y = setrow(y, spots["spike"], high=spike["high"] + 80.0, close=spike["close"] + 60.0)
    y = setrow(y, spots["off_tick"], close=off["close"] + 0.13)
    y = setrow(y, spots["broken"], low=br["high"] + 1.0)
    y = setrow(y, spots["disagree"], high=dis["high"] + 2.0, close=dis["close"] + 1.5)
    stray = pl.DataFrame([{**at(y, spots["broken"] - dt.timedelta(minutes=1)), "datetime": spots["outside"]}],
                         schema=y.schema)
    y = pl.concat([y, stray]).sort("datetime")
    return y, spots


def yf_csv(bars: pl.DataFrame, path: Path) -> Path:
    """A saved yfinance frame as ``Ticker.history().to_csv()`` writes it (exchange-time index)."""
    pdf = bars.select("datetime", "open", "high", "low", "close", "volume").to_pandas()
    pdf = pdf.rename(columns={"datetime": "Datetime", "open": "Open", "high": "High", "low": "Low",
                              "close": "Close", "volume": "Volume"}).set_index("Datetime")
    pdf.index = pdf.index.tz_convert("America/New_York")
    pdf["Dividends"] = 0.0
    pdf["Stock Splits"] = 0.0
    if path.suffix == ".parquet":
        pdf.to_parquet(path)
    else:
        pdf.to_csv(path)
    return path
