"""Session profiler (SPEC 8.3): per trading day and session window OHLCV, range, high/low times,
whether the session took out the previous session's high/low, and a summary.

Decisions where the spec is silent:

* Session windows come from ``Instrument.sessions`` (ET wall clock); a window that starts at or
  after 18:00 opens the evening before the trading day, so ``asia 18:00-03:00`` belongs to the
  trading day that the 18:00 session opens.
* "Previous session" is the previous window in time on the exchange calendar: for the first
  window of a day it is the last window of the previous *calendar* trading day. If either
  session has no bars, ``took_prev_high`` / ``took_prev_low`` are null. "Took out" means traded
  strictly beyond (``high > prev high``, ``low < prev low``).
* A session with no bars on a day is ``null`` in that day's row.
* "Set the day's high/low": the session contains the first bar that made the trading day's high
  (the whole trading day, as in HOD/LOD), stored per row as ``sets_day_high``/``sets_day_low``.
  Percentages are over the days the session has bars, so they need not add up to 100 (the
  16:00-17:00 ET hour is in no default window).
* Histograms count high/low times in 30-minute ET wall-clock buckets, labelled ``"HH:MM"`` and
  listed from the window's start.
* Partial days (:func:`datamgr.derived.hod_lod.partial_days`): the day row and each of its session
  records carry ``partial``; the summary skips partial days unless ``include_partial`` (setting
  ``[derived] include_partial``), and says how many it skipped (``partial_days_excluded``).
"""

from __future__ import annotations

import polars as pl

from datamgr.derived.hod_lod import _with_partial, day_extremes
from datamgr.derived.resample import a_to_hhmm, et_iso, window_offsets

FIELDS = ("open", "high", "low", "close", "range", "volume", "high_time", "low_time",
          "took_prev_high", "took_prev_low", "sets_day_high", "sets_day_low")


def windows(sessions: tuple[tuple[str, str, str], ...]) -> list[tuple[str, int, int]]:
    """``(name, lo, hi)`` in ``a``-minutes, ordered by start."""
    return sorted(((n, *window_offsets(s, e)) for n, s, e in sessions), key=lambda w: (w[1], w[2]))


def session_frame(lab: pl.DataFrame, sessions, calendar_days: pl.Series,
                  ext: pl.DataFrame | None = None) -> pl.DataFrame:
    """Long frame: one row per (calendar trading day, session) with the session's aggregates.

    ``calendar_days`` lists the calendar's trading days covering ``lab`` (for "previous
    session" across days without data); ``ext`` is :func:`~datamgr.derived.hod_lod.day_extremes`
    of ``lab`` when the caller has it already.
    """
    win = windows(sessions)
    parts = []
    for i, (_name, lo, hi) in enumerate(win):  # a handful of windows, not days
        sub = lab.filter((pl.col("a") >= lo) & (pl.col("a") < hi))
        parts.append(sub.group_by("td").agg(
            pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
            pl.col("close").last(), pl.col("volume").sum(),
            pl.col("datetime").get(pl.col("high").arg_max()).alias("high_time"),
            pl.col("datetime").get(pl.col("low").arg_min()).alias("low_time"),
        ).with_columns(pl.lit(i, pl.Int32).alias("sidx")))
    agg = pl.concat(parts)
    grid = (pl.DataFrame({"td": calendar_days}).join(
        pl.DataFrame({"sidx": pl.Series(range(len(win)), dtype=pl.Int32),
                      "session": [w[0] for w in win]}), how="cross"))
    ext = (day_extremes(lab) if ext is None else ext).select("td", pl.col("high_time").alias("dht"), pl.col("low_time").alias("dlt"))
    out = (grid.join(agg, on=["td", "sidx"], how="left").sort("td", "sidx")
           .with_columns(
               (pl.col("high") - pl.col("low")).round(8).alias("range"),
               (pl.col("high") > pl.col("high").shift(1)).alias("took_prev_high"),
               (pl.col("low") < pl.col("low").shift(1)).alias("took_prev_low"))
           .join(ext, on="td", how="left")
           .with_columns((pl.col("high_time") == pl.col("dht")).alias("sets_day_high"),
                         (pl.col("low_time") == pl.col("dlt")).alias("sets_day_low")))
    return out.with_columns(et_iso(pl.col("high_time")).alias("high_time"),
                            et_iso(pl.col("low_time")).alias("low_time"))


def profiler_days(lab: pl.DataFrame, sessions, calendar_days: pl.Series,
                  ext: pl.DataFrame | None = None, partial: pl.DataFrame | None = None) -> list[dict]:
    """The ``days`` rows of ``<T>_profiler.json`` for the trading days that have bars in ``lab``.

    ``partial`` is :func:`~datamgr.derived.hod_lod.partial_days` of ``lab`` (null flags without it).
    """
    long = session_frame(lab, sessions, calendar_days, ext)
    present = lab["td"].unique()
    long = _with_partial(long.filter(pl.col("td").is_in(present.implode())), partial)
    names = [w[0] for w in windows(sessions)]
    fields = (*FIELDS, "partial")
    rows: dict[str, dict] = {}
    # one pass over at most days*sessions small dicts to nest them (no per-day computation)
    for rec in long.select(pl.col("td").dt.strftime("%Y-%m-%d").alias("date"), "session",
                           *fields).iter_rows(named=True):
        day = rows.setdefault(rec["date"], {"date": rec["date"], "partial": rec["partial"],
                                            **{n: None for n in names}})
        if rec["open"] is not None:
            day[rec["session"]] = {k: rec[k] for k in fields}
    return list(rows.values())


def _bucket(t: str | None) -> int | None:
    """The 30-minute ET wall-clock bucket (minutes after midnight) of an ISO time string."""
    return None if t is None else (int(t[11:13]) * 60 + int(t[14:16])) // 30 * 30


def summary_inputs(days: list[dict], sessions) -> pl.DataFrame:
    """One row per ``days`` row: what :func:`summary` needs of it, per session ``<name>.has``,
    ``.range``, ``.sh``, ``.sl``, ``.hb``, ``.lb`` (high/low time buckets), and ``partial``.

    Kept beside the profiler file (:mod:`datamgr.derived.rowsdoc`) so an incremental run can
    summarise every day without parsing the whole file again."""
    cols: dict[str, list] = {"partial": [bool(d.get("partial")) for d in days]}
    schema: dict[str, pl.DataType] = {"partial": pl.Boolean}
    for name, _lo, _hi in windows(sessions):
        vals = [d.get(name) or None for d in days]
        cols[f"{name}.has"] = [v is not None for v in vals]
        cols[f"{name}.range"] = [v["range"] if v else None for v in vals]
        cols[f"{name}.sh"] = [v["sets_day_high"] if v else None for v in vals]
        cols[f"{name}.sl"] = [v["sets_day_low"] if v else None for v in vals]
        cols[f"{name}.hb"] = [_bucket(v["high_time"]) if v else None for v in vals]
        cols[f"{name}.lb"] = [_bucket(v["low_time"]) if v else None for v in vals]
        schema.update({f"{name}.has": pl.Boolean, f"{name}.range": pl.Float64, f"{name}.sh": pl.Boolean,
                       f"{name}.sl": pl.Boolean, f"{name}.hb": pl.Int32, f"{name}.lb": pl.Int32})
    return pl.DataFrame(cols, schema=schema)


def summary(days: list[dict], sessions, include_partial: bool = False) -> dict:
    """Per session: days, share setting the day high/low (%), range percentiles, time histograms.

    Partial days (``partial: true``) are left out unless ``include_partial``; each session says how
    many of its days were left out (``partial_days_excluded``).
    """
    return summary_of(summary_inputs(days, sessions), sessions, include_partial)


def summary_of(inputs: pl.DataFrame, sessions, include_partial: bool = False) -> dict:
    """:func:`summary` from :func:`summary_inputs` of the days (rows in any order)."""
    out: dict[str, dict] = {}
    partial = inputs["partial"]
    for name, lo, hi in windows(sessions):
        has = inputs[f"{name}.has"]
        use = has if include_partial else has & ~partial
        skipped = 0 if include_partial else int((has & partial).sum())
        df = inputs.filter(use)
        n = df.height
        buckets = [a_to_hhmm(b) for b in range(lo - lo % 30, hi, 30)]

        def hist(col: str, df=df, buckets=buckets) -> dict[str, int]:
            counts = dict(df[col].value_counts().iter_rows())
            return {b: int(counts.get(int(b[:2]) * 60 + int(b[3:]), 0)) for b in buckets}

        def q(p: float, df=df, n=n, name=name) -> float | None:
            return None if n == 0 else round(float(df[f"{name}.range"].quantile(p, "linear")), 8)

        out[name] = {
            "days": n,
            "sets_day_high_pct": round(100.0 * df[f"{name}.sh"].sum() / n, 4) if n else None,
            "sets_day_low_pct": round(100.0 * df[f"{name}.sl"].sum() / n, 4) if n else None,
            "range_p25": q(0.25), "range_p50": q(0.5), "range_p75": q(0.75),
            "high_time_hist": hist(f"{name}.hb"), "low_time_hist": hist(f"{name}.lb"),
            "partial_days_excluded": skipped,
        }
    return out
