"""Upsampling 1-minute bars to 5m / 15m / 1h / 4h (SPEC 8.1) and the labelling it rests on.

Windows are ET wall-clock windows anchored at 18:00 ET (the CME session open), closed on the
left and labelled by their open: 4h bars start 18:00, 22:00, 02:00, 06:00, 10:00 and 14:00 ET.
A window never spans a session break (the daily halt, the pre-2021 15:15-15:30 CT halt, a closed
period of the overrides): the part after a break is its own bar, labelled by the time the
segment reopens (``max(window start, segment start)``). Partial windows are kept; the ``bars``
column counts the 1-minute bars inside. OHLCV = first / max / min / last / sum.

Decisions where the spec is silent:

* Bars that fall outside every session (stray prints) are left out of all derived data; their
  count is reported (``LabelledBars.outside``) and the health check lists them.
* Wall-clock arithmetic: ``off`` is the time since 18:00 ET of the calendar day before the
  trading day, in ET wall-clock terms. Within a segment that no DST change crosses (every CME
  and NYSE segment: DST switches at 02:00 on a Sunday, markets closed) it is linear in UTC, so it
  is computed per segment and gathered; segments a DST change does cross are converted row by
  row.

Everything is vectorised (numpy ``searchsorted`` + polars group-bys); no loop over rows or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from datamgr.calendar.sessions import SessionCalendar

ET = "America/New_York"
MINUTE_US = 60_000_000
DAY_MIN = 1440
ANCHOR_MIN = 18 * 60
TF_MINUTES: dict[str, int] = {"5m": 5, "15m": 15, "1h": 60, "4h": 240}
UTC = pl.Datetime("us", "UTC")
_OHLCV = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class LabelledBars:
    """In-session 1m bars with their trading day and wall-clock position.

    ``frame`` columns: ``datetime``, ``open``..``volume``, ``td`` (trading day, Date),
    ``seg_start`` (Int64 us, start of the open segment the bar is in), ``off`` (Int64 us since
    18:00 ET wall clock of the day before ``td``), ``a`` (Int32 minutes, ``off`` floored).
    ``outside`` counts the bars that fell outside every session and were left out.
    """

    frame: pl.DataFrame
    outside: int


def _to_us(s: pl.Series) -> np.ndarray:
    return s.cast(UTC).dt.replace_time_zone(None).cast(pl.Int64).to_numpy()


def _wall_off_us(ts_us: pl.Series, td: pl.Series) -> pl.Series:
    """Wall-clock microseconds since 18:00 ET of ``td - 1`` for UTC instants ``ts_us``."""
    local = ts_us.cast(pl.Datetime("us")).dt.replace_time_zone("UTC").dt.convert_time_zone(ET)
    naive = local.dt.replace_time_zone(None).cast(pl.Int64)
    anchor = (td.cast(pl.Datetime("us")).cast(pl.Int64) - (DAY_MIN - ANCHOR_MIN) * MINUTE_US)
    return (naive - anchor).alias("off")


def label_minutes(bars: pl.DataFrame, cal: SessionCalendar, segments: pl.DataFrame | None = None) -> LabelledBars:
    """Attach trading day, segment start and wall-clock offset to every in-session bar.

    Parameters
    ----------
    bars : pl.DataFrame
        Canonical 1m bars (``datetime`` UTC bar open, sorted).
    cal : SessionCalendar
        The instrument's calendar (``datamgr.calendar.sessions``).
    segments : pl.DataFrame, optional
        ``cal.segments(...)`` covering the bars, when the caller already has them.

    Returns
    -------
    LabelledBars
    """
    cols = ["datetime", *_OHLCV]
    if bars.height == 0:
        empty = bars.select(cols).with_columns(
            pl.lit(None, pl.Date).alias("td"), pl.lit(None, pl.Int64).alias("seg_start"),
            pl.lit(None, pl.Int64).alias("off"), pl.lit(None, pl.Int32).alias("a"))
        return LabelledBars(empty, 0)
    t = _to_us(bars["datetime"])
    lo = dt.datetime.fromtimestamp(int(t[0]) / 1e6, dt.UTC).date()
    hi = dt.datetime.fromtimestamp(int(t[-1]) / 1e6, dt.UTC).date()
    seg = segments if segments is not None else cal.segments(lo - dt.timedelta(days=3), hi + dt.timedelta(days=3))
    starts, ends = _to_us(seg["start"]), _to_us(seg["end"])
    idx = np.searchsorted(starts, t, side="right") - 1
    cidx = np.clip(idx, 0, None)
    ok = (idx >= 0) & (t < ends[cidx]) if len(starts) else np.zeros(len(t), bool)
    # per-segment linear wall-clock offset, checked against a true conversion at both ends
    td_seg = seg["trading_day"]
    anchor_utc = (td_seg.cast(pl.Datetime("us")) - dt.timedelta(minutes=DAY_MIN - ANCHOR_MIN)
                  ).dt.replace_time_zone(ET, ambiguous="earliest").dt.convert_time_zone("UTC")
    anchor = _to_us(anchor_utc)
    true_s = _wall_off_us(pl.Series(starts), td_seg).to_numpy()
    true_e = _wall_off_us(pl.Series(ends - MINUTE_US), td_seg).to_numpy()
    exact = (true_s == starts - anchor) & (true_e == ends - MINUTE_US - anchor)
    sel = np.flatnonzero(ok)
    ci = cidx[sel]
    off = t[sel] - anchor[ci]
    frame = bars.select(cols)[sel] if len(sel) < bars.height else bars.select(cols)
    td = td_seg.gather(ci)
    if not exact.all():
        bad = ~exact[ci]
        if bad.any():
            pos = np.flatnonzero(bad)
            fixed = _wall_off_us(pl.Series(t[sel][pos]), td.gather(pos)).to_numpy()
            off = off.copy()
            off[pos] = fixed
    frame = frame.with_columns(
        td.alias("td"),
        pl.Series("seg_start", starts[ci], dtype=pl.Int64),
        pl.Series("off", off, dtype=pl.Int64),
        pl.Series("a", off // MINUTE_US, dtype=pl.Int64).cast(pl.Int32),
    )
    return LabelledBars(frame, int(len(t) - len(sel)))


def _aggregate(lab: pl.DataFrame, tf: str, weight: pl.Expr) -> pl.DataFrame:
    """Group labelled bars (1m, or finer upsampled bars with ``off``/``seg_start``) into ``tf``."""
    width = TF_MINUTES[tf] * MINUTE_US
    t = pl.col("datetime").dt.replace_time_zone(None).cast(pl.Int64)
    label = pl.max_horizontal(t - pl.col("off") % width, pl.col("seg_start"))
    return (
        lab.lazy()
        .with_columns(label.alias("label"), weight.alias("_n"))
        .with_columns((pl.col("off") - (t - pl.col("label"))).alias("_off"))
        .group_by("label", maintain_order=True)
        .agg(
            pl.col("open").first(), pl.col("high").max(), pl.col("low").min(),
            pl.col("close").last(), pl.col("volume").sum(), pl.col("_n").sum().cast(pl.Int32).alias("bars"),
            pl.col("td").first(), pl.col("seg_start").first(),
            pl.col("_off").first().alias("off"),
        )
        .with_columns(pl.col("label").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("datetime"))
        .collect()
    )


def _finish(agg: pl.DataFrame, keep_td: bool) -> pl.DataFrame:
    return agg.select("datetime", *_OHLCV, pl.lit("upsampled").alias("source"), "bars",
                      *(["td"] if keep_td else [])).with_columns(pl.col("volume").cast(pl.Int64))


def upsample(lab: pl.DataFrame, tf: str, *, keep_td: bool = False) -> pl.DataFrame:
    """Aggregate labelled 1m bars (:func:`label_minutes`) into ``tf`` bars.

    Returns a canonical bar frame with ``source="upsampled"`` and a ``bars`` Int32 column
    (plus the trading day ``td`` when ``keep_td``).
    """
    return _finish(_aggregate(lab, tf, pl.lit(1, pl.Int32)), keep_td)


def upsample_all(lab: pl.DataFrame, timeframes: tuple[str, ...] = tuple(TF_MINUTES), *,
                 keep_td: bool = False) -> dict[str, pl.DataFrame]:
    """:func:`upsample` for several timeframes, each built from the previous one (5m from 1m,
    15m from 5m, 1h from 15m, 4h from 1h): every window nests in the next coarser one, since all
    are aligned at 18:00 ET and cut at the same segment starts, so the result is identical and
    only the first pass touches every 1m bar."""
    out: dict[str, pl.DataFrame] = {}
    src, weight = lab, pl.lit(1, pl.Int32)
    for tf in sorted(timeframes, key=TF_MINUTES.__getitem__):
        agg = _aggregate(src, tf, weight)
        out[tf] = _finish(agg, keep_td)
        src, weight = agg, pl.col("bars")
    return {tf: out[tf] for tf in timeframes}


# ---------------------------------------------------------------------- wall-clock helpers
RTH = (9 * 60 + 30 - ANCHOR_MIN + DAY_MIN, 16 * 60 - ANCHOR_MIN + DAY_MIN)  # a-minutes [930, 1320)


def window_offsets(start: str, end: str) -> tuple[int, int]:
    """ET wall-clock window ``"HH:MM"-"HH:MM"`` as ``a``-minutes ``[lo, hi)`` of a trading day.

    A window that starts at or after 18:00 opens on the evening before the trading day
    (``18:00-03:00`` -> ``[0, 540)``); an end at or before the start wraps past midnight.
    """
    s, e = _hhmm(start), _hhmm(end)
    lo = (s - ANCHOR_MIN) % DAY_MIN
    length = (e - s) % DAY_MIN or DAY_MIN
    return lo, lo + length


def _hhmm(text: str) -> int:
    h, m = str(text).split(":")
    return int(h) * 60 + int(m)


def a_to_hhmm(a: int) -> str:
    """``a``-minutes back to ET wall clock ``"HH:MM"``."""
    m = (a + ANCHOR_MIN) % DAY_MIN
    return f"{m // 60:02d}:{m % 60:02d}"


def et_iso(expr: pl.Expr) -> pl.Expr:
    """UTC datetime expression -> ISO 8601 string in ET with offset (``2024-03-08T09:30:00-05:00``)."""
    return expr.dt.convert_time_zone(ET).dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
