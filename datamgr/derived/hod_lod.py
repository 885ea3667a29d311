"""Daily HOD/LOD (SPEC 8.2): per trading day, session and RTH high/low with their ET times.

The session is the whole trading day as the calendar has it (18:00 ET the evening before to the
close; before 2012-11-19 the CME session reopened at 16:30 ET the afternoon before); RTH is
09:30-16:00 ET. The time of a high or low repeated later is the first one. A day without RTH
bars has nulls for the ``rth_`` keys.
"""

from __future__ import annotations

import polars as pl

from datamgr.derived.resample import RTH, et_iso

KEYS = ("date", "high", "high_time", "low", "low_time",
        "rth_high", "rth_high_time", "rth_low", "rth_low_time")


def _extremes(lab: pl.DataFrame, prefix: str = "") -> pl.DataFrame:
    return lab.group_by("td", maintain_order=True).agg(
        pl.col("high").max().alias(f"{prefix}high"),
        pl.col("datetime").get(pl.col("high").arg_max()).alias(f"{prefix}high_time"),
        pl.col("low").min().alias(f"{prefix}low"),
        pl.col("datetime").get(pl.col("low").arg_min()).alias(f"{prefix}low_time"),
    )


def day_extremes(lab: pl.DataFrame) -> pl.DataFrame:
    """Per trading day ``td``: high/low (+ times, UTC datetimes) of the day and of RTH."""
    day = _extremes(lab)
    rth = _extremes(lab.filter((pl.col("a") >= RTH[0]) & (pl.col("a") < RTH[1])), "rth_")
    return day.join(rth, on="td", how="left").sort("td")


def hod_lod_days(lab: pl.DataFrame, ext: pl.DataFrame | None = None) -> list[dict]:
    """The ``days`` rows of ``<T>_daily_hod_lod.json`` for every trading day in ``lab``.

    Parameters
    ----------
    lab : pl.DataFrame
        Labelled 1m bars (:func:`datamgr.derived.resample.label_minutes`).
    ext : pl.DataFrame, optional
        :func:`day_extremes` of ``lab`` when the caller has it already.
    """
    ext = day_extremes(lab) if ext is None else ext
    times = [c for c in ext.columns if c.endswith("_time")]
    return ext.select(
        pl.col("td").dt.strftime("%Y-%m-%d").alias("date"),
        *[et_iso(pl.col(c)).alias(c) if c in times else pl.col(c) for c in KEYS[1:]],
    ).to_dicts()
