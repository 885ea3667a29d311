"""Level touches (SPEC 8.4): per trading day, did RTH (09:30-16:00 ET) touch the key levels?

Levels of trading day D (P = the previous trading day on the exchange calendar):

* ``pdh`` / ``pdl``: high / low of P's whole trading-day session (the calendar's session, as in
  HOD/LOD: 18:00 ET the evening before to the close; before 2012-11-19 it reopened at 16:30 ET);
  null when P has no bars.
* ``pdc``: P's daily settlement close from ``<T>_1d.parquet`` when that file has P (a daily bar's
  date is the UTC date of its ``datetime``, which is the trading date for midnight-UTC,
  midnight-ET and close-time stamps); otherwise the last 1m close of P. ``source`` says which.
* ``onh`` / ``onl``: overnight high / low of D, 18:00-09:30 ET (wall clock).
* ``rth_open``: open of D's first RTH bar.

A level is *touched* when an RTH bar's range contains it (``low <= level <= high``);
``first_touch`` is that bar's open time (ET). ``rth_open`` counts only from the second RTH bar on
(the opening bar always contains its own open). Without RTH bars ``touched`` is null; without a
price the level is all null. Summary: ``days`` = days with a price and RTH bars, ``touch_rate`` =
touched / days (0-1).
"""

from __future__ import annotations

import polars as pl

from datamgr.derived.resample import RTH, et_iso

LEVELS = ("pdh", "pdl", "pdc", "onh", "onl", "rth_open")


def level_prices(lab: pl.DataFrame, calendar_days: pl.Series, daily: pl.DataFrame | None) -> pl.DataFrame:
    """Per calendar trading day ``td``: the price of every level and the ``pdc`` source."""
    day = lab.group_by("td").agg(pl.col("high").max().alias("dh"), pl.col("low").min().alias("dl"),
                                 pl.col("close").last().alias("dc"))
    on = lab.filter((pl.col("a") >= 0) & (pl.col("a") < RTH[0])).group_by("td").agg(
        pl.col("high").max().alias("onh"), pl.col("low").min().alias("onl"))
    rth = lab.filter((pl.col("a") >= RTH[0]) & (pl.col("a") < RTH[1]))
    ro = rth.group_by("td").agg(pl.col("open").first().alias("rth_open"),
                                pl.col("datetime").first().alias("rth_t0"))
    cal = pl.DataFrame({"td": calendar_days}).sort("td").with_columns(pl.col("td").shift(1).alias("prev"))
    out = cal.join(day.rename({"td": "prev"}), on="prev", how="left")
    if daily is not None and daily.height:
        settle = daily.select(pl.col("datetime").dt.date().alias("prev"), pl.col("close").alias("settle"))
        out = out.join(settle, on="prev", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("settle"))
    return (out.join(on, on="td", how="left").join(ro, on="td", how="left")
            .with_columns(pl.col("dh").alias("pdh"), pl.col("dl").alias("pdl"),
                          pl.coalesce("settle", "dc").alias("pdc"),
                          pl.when(pl.col("settle").is_not_null()).then(pl.lit("1d"))
                          .when(pl.col("dc").is_not_null()).then(pl.lit("1m")).alias("pdc_source"))
            .select("td", *LEVELS, "pdc_source", "rth_t0"))


def level_days(lab: pl.DataFrame, calendar_days: pl.Series, daily: pl.DataFrame | None) -> list[dict]:
    """The ``days`` rows of ``<T>_level_touches.json`` for the trading days with bars in ``lab``."""
    prices = level_prices(lab, calendar_days, daily)
    rth = (lab.filter((pl.col("a") >= RTH[0]) & (pl.col("a") < RTH[1]))
           .select("td", "datetime", "high", "low").join(prices, on="td", how="left"))
    aggs = []
    for lv in LEVELS:
        hit = (pl.col("low") <= pl.col(lv)) & (pl.col("high") >= pl.col(lv))
        if lv == "rth_open":
            hit = hit & (pl.col("datetime") > pl.col("rth_t0"))
        aggs.append(pl.col("datetime").filter(hit).first().alias(f"{lv}_ft"))
    touches = rth.group_by("td").agg(pl.len().alias("rth_bars"), *aggs)
    present = lab.select(pl.col("td").unique())
    df = present.join(prices, on="td", how="left").join(touches, on="td", how="left").sort("td")
    cols = [pl.col("td").dt.strftime("%Y-%m-%d").alias("date")]
    for lv in LEVELS:
        has = pl.col(lv).is_not_null() & pl.col("rth_bars").is_not_null()
        fields = [pl.col(lv).alias("price"),
                  pl.when(has).then(pl.col(f"{lv}_ft").is_not_null()).alias("touched"),
                  et_iso(pl.col(f"{lv}_ft")).alias("first_touch")]
        if lv == "pdc":
            fields.append(pl.col("pdc_source").alias("source"))
        cols.append(pl.struct(fields).alias(lv))
    rows = df.select(*cols).to_dicts()
    return [{"date": r["date"], "levels": {lv: r[lv] for lv in LEVELS}} for r in rows]


def summary_inputs(days: list[dict]) -> pl.DataFrame:
    """One row per ``days`` row: each level's ``touched`` flag (null when unknown), what
    :func:`summary` counts (kept beside the file for incremental runs, :mod:`datamgr.derived.rowsdoc`)."""
    return pl.DataFrame({lv: [d["levels"][lv]["touched"] for d in days] for lv in LEVELS},
                        schema=dict.fromkeys(LEVELS, pl.Boolean))


def summary(days: list[dict]) -> dict:
    """Per level: ``days`` (price known and RTH traded) and ``touch_rate`` (0-1)."""
    return summary_of(summary_inputs(days))


def summary_of(inputs: pl.DataFrame) -> dict:
    """:func:`summary` from :func:`summary_inputs` of the days (rows in any order)."""
    out = {}
    for lv in LEVELS:
        col = inputs[lv]
        n = col.len() - col.null_count()
        hit = int(col.sum()) if n else 0
        out[lv] = {"days": n, "touched": hit, "touch_rate": round(hit / n, 4) if n else None}
    return out
