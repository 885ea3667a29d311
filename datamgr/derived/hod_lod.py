"""Daily HOD/LOD (SPEC 8.2): per trading day, session and RTH high/low with their ET times.

The session is the whole trading day as the calendar has it (18:00 ET the evening before to the
close; before 2012-11-19 the CME session reopened at 16:30 ET the afternoon before); RTH is
09:30-16:00 ET. The time of a high or low repeated later is the first one. A day without RTH
bars has nulls for the ``rth_`` keys.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.derived.resample import RTH, et_iso

PARTIAL_TOLERANCE_MIN = 60

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


def partial_days(lab: pl.DataFrame, cal: SessionCalendar,
                 tolerance_min: int = PARTIAL_TOLERANCE_MIN) -> pl.DataFrame:
    """``td``, ``partial`` for every trading day in ``lab`` (module docstring).

    Parameters
    ----------
    lab : pl.DataFrame
        Labelled 1m bars.
    cal : SessionCalendar
        The instrument's calendar (overrides applied): session open/close and early closes.
    tolerance_min : int
        Minutes the first bar may come after the open (and the last before the close).

    Notes
    -----
    A day's answer depends only on its own bars and the calendar, so an incremental rebuild of
    some days gives the same flags as a full one.
    """
    if lab.height == 0:
        return pl.DataFrame(schema={"td": pl.Date, "partial": pl.Boolean})
    lo, hi = lab["td"].min(), lab["td"].max()
    seg = cal.segments(lo, hi).group_by("trading_day").agg(
        pl.col("start").min().alias("s_open"), pl.col("end").max().alias("s_close"))
    early = cal.early_closes(lo, hi)
    tol = dt.timedelta(minutes=tolerance_min)
    return (lab.group_by("td").agg(pl.col("datetime").min().alias("first"), pl.col("datetime").max().alias("last"))
            .join(seg.rename({"trading_day": "td"}), on="td", how="left")
            .join(early.rename({"trading_day": "td"}), on="td", how="left")
            .select("td", ((pl.col("first") - pl.col("s_open") > tol)
                           | (pl.col("s_close") - (pl.col("last") + dt.timedelta(minutes=1)) > tol)
                           | pl.col("early_close")).fill_null(False).alias("partial"))
            .sort("td"))


def hod_lod_days(lab: pl.DataFrame, ext: pl.DataFrame | None = None,
                 partial: pl.DataFrame | None = None) -> list[dict]:
    """The ``days`` rows of ``<T>_daily_hod_lod.json`` for every trading day in ``lab``.

    Parameters
    ----------
    lab : pl.DataFrame
        Labelled 1m bars (:func:`datamgr.derived.resample.label_minutes`).
    ext : pl.DataFrame, optional
        :func:`day_extremes` of ``lab`` when the caller has it already.
    partial : pl.DataFrame, optional
        :func:`partial_days` of ``lab``; without it ``partial`` is null (no calendar at hand).
    """
    ext = day_extremes(lab) if ext is None else ext
    times = [c for c in ext.columns if c.endswith("_time")]
    ext = _with_partial(ext, partial)
    return ext.select(
        pl.col("td").dt.strftime("%Y-%m-%d").alias("date"),
        *[et_iso(pl.col(c)).alias(c) if c in times else pl.col(c) for c in KEYS[1:]],
        "partial",
    ).to_dicts()


def _with_partial(frame: pl.DataFrame, partial: pl.DataFrame | None) -> pl.DataFrame:
    if partial is None:
        return frame.with_columns(pl.lit(None, pl.Boolean).alias("partial"))
    return frame.join(partial, on="td", how="left").with_columns(pl.col("partial").fill_null(False))
