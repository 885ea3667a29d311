"""Calendar-true health of a bar file: gaps, stray bars, per-day coverage, staleness (SPEC 5).

Definitions (decisions where the spec is silent are marked *decision*):

* **Expected minutes** come from the instrument's session calendar with the data folder's
  ``calendar_overrides.toml`` applied (:func:`datamgr.calendar.sessions.calendar_for`).
* A **gap** is a maximal run of expected minutes without a bar. Runs are taken in the sequence of
  expected minutes, so one run may cross a break, a weekend or a holiday (an outage from Friday
  15:00 to Monday 03:00 is one gap). ``start`` is the open time of the first missing bar and
  ``end`` the close time of the last missing bar (exclusive), both shown in ET.
* Classes: ``edge`` = before the file's first bar or after its last bar; ``recurring`` = every
  minute of the run is a clock minute (ET) missing on at least half (``recurring_ratio``) and at
  least ``min_sessions`` of the well-covered sessions (coverage >= 50 %) of the same calendar month,
  the run lies in one session (*decision*: month = the period), and the run's exact ET clock
  window is missing on at least ``min_sessions`` sessions and on ``recurring_ratio`` of the good
  sessions of the months it occurs in; the runs of one clock window are collapsed into one
  reported gap with ``sessions`` = how many sessions it hit.
* ``quiet``: the quiet-minute model (:mod:`datamgr.health.quiet`) gives the run a probability of
  having had no trade (``p_no_trade``) of at least its threshold. Everything else is a ``hole``.
* A gap inside an acknowledged range of the overrides file is reported with
  ``acknowledged: true`` and is not a problem.
* **Stray bars** are bars whose open time is not an expected minute. For per-day coverage a stray
  is counted on the trading day of the next session (*decision*).
* **Staleness** lives in :mod:`datamgr.health.staleness` (re-exported here): expected bars whose minute
  has fully elapsed after the last bar, and how many sessions they belong to.
* :func:`quick_flags` gives the inventory cheap staleness flags from a file's footer only.

Everything is vectorised with numpy ``searchsorted``; no Python loop over bars or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl

from datamgr.calendar.sessions import MINUTE_US, SessionCalendar, calendar_for
from datamgr.core.timefmt import ET, to_et_iso
from datamgr.health.quiet import (
    EPOCH_SHIFT,
    WEEK,
    MinuteRates,
    QuietModel,
    gap_p_no_trade,
    minute_rates,
    run_bounds,
)
from datamgr.health.staleness import Staleness, _dt, _us, _us_col, staleness

__all__ = ["Continuity", "Gap", "Staleness", "continuity", "quick_flags", "staleness"]

_UTC = pl.Datetime("us", "UTC")
_DAY_MARGIN = dt.timedelta(days=3)


@dataclass(slots=True)
class Gap:
    """A maximal run of missing expected minutes (times aware UTC; ``end`` exclusive).

    Not frozen: a thin 18-year file has 100k+ gaps and a frozen dataclass costs ~5x more to build;
    treat instances as values (:func:`dataclasses.replace` to change one)."""

    start: dt.datetime
    end: dt.datetime
    missing: int
    cls: str
    sessions: int = 1
    acknowledged: bool = False
    clock: str | None = None
    p_no_trade: float | None = None

    def to_json(self, tz: str = ET) -> dict[str, Any]:
        d = {"start": to_et_iso(self.start, tz), "end": to_et_iso(self.end, tz), "missing": self.missing,
             "class": self.cls, "sessions": self.sessions, "acknowledged": self.acknowledged,
             "p_no_trade": None if self.p_no_trade is None else float(f"{self.p_no_trade:.4g}")}
        if self.clock:
            d["clock"] = self.clock
        return d


@dataclass
class Continuity:
    """Result of :func:`continuity`."""

    first_day: dt.date | None
    last_day: dt.date | None
    expected: int
    present: int
    outside_session: int
    gaps: list[Gap]
    strays: pl.DataFrame  # row (position in the file), datetime
    coverage: pl.DataFrame  # trading_day, expected, present, outside, coverage
    min_gap: int = 1
    calibration: float | None = None  # the quiet model's trades per unit of volume
    findings: list[str] = field(default_factory=list)  # failures besides holes ("no bars in 2008")

    @property
    def reported(self) -> list[Gap]:
        return [g for g in self.gaps if g.missing >= self.min_gap]

    @property
    def holes(self) -> list[Gap]:
        """Unacknowledged ``hole`` gaps of at least ``min_gap`` minutes: the failures."""
        return [g for g in self.reported if g.cls == "hole" and not g.acknowledged]

    @property
    def ok(self) -> bool:
        """No hole and no finding: ``continuity`` exits 0."""
        return not self.holes and not self.findings

    @property
    def coverage_ratio(self) -> float | None:
        """THE coverage figure (SPEC 5): present in-session bars / expected bars, strays excluded."""
        return self.present / self.expected if self.expected else None

    def class_counts(self) -> dict[str, int]:
        """Reported gaps per class (``hole``, ``quiet``, ``recurring``, ``edge``)."""
        out: dict[str, int] = {}
        for g in self.reported:
            out[g.cls] = out.get(g.cls, 0) + 1
        return out

    def to_json(self, max_strays: int = 100, tz: str = ET) -> dict[str, Any]:
        head = self.strays.head(max_strays)
        return {
            "from": self.first_day.isoformat() if self.first_day else None,
            "to": self.last_day.isoformat() if self.last_day else None,
            "expected": self.expected, "present": self.present,
            "outside_session": self.outside_session,
            "coverage": None if self.coverage_ratio is None else round(self.coverage_ratio, 6),
            "holes": len(self.holes), "gap_counts": self.class_counts(),
            "ok": self.ok, "findings": list(self.findings),
            "gaps": [g.to_json(tz) for g in self.reported],
            "strays": [{"row": int(r), "datetime": to_et_iso(t, tz)}
                       for r, t in zip(head["row"].to_list(), head["datetime"].to_list(), strict=True)],
        }


def _times(bars: pl.DataFrame | pl.Series) -> np.ndarray:
    s = bars["datetime"] if isinstance(bars, pl.DataFrame) else bars
    return s.cast(_UTC).cast(pl.Int64).to_numpy()


def _day_range(cal: SessionCalendar, t: np.ndarray) -> tuple[dt.date, dt.date]:
    """Trading days of the first and last bar (a stray belongs to the next session)."""
    lo, hi = _dt(t[0]), _dt(t[-1])
    seg = cal.segments(lo.date() - _DAY_MARGIN, hi.date() + _DAY_MARGIN + _DAY_MARGIN)
    ends = _us_col(seg, "end")
    i0 = min(int(np.searchsorted(ends, t[0], side="right")), seg.height - 1)
    i1 = min(int(np.searchsorted(ends, t[-1], side="right")), seg.height - 1)
    return seg["trading_day"][i0], seg["trading_day"][i1]


def _empty(start, end, min_gap) -> Continuity:
    cov = pl.DataFrame(schema={"trading_day": pl.Date, "expected": pl.Int64, "present": pl.Int64,
                               "outside": pl.Int64, "coverage": pl.Float64})
    return Continuity(start, end, 0, 0, 0, [], pl.DataFrame(schema={"row": pl.Int64, "datetime": _UTC}),
                      cov, min_gap)


def classify_like(ranged: Continuity, wide: Continuity) -> Continuity:
    """Give the gaps of a range check the classes the wider check found for the same gaps.

    The quiet-minute model learns from the bars it is given: a three-day window knows too little
    to call a 45-minute gap in liquid hours a hole. Callers that check a range (``--year``, the
    chart's window) also run :func:`continuity` over the whole file (or a wide margin around the
    range) and take each gap's class and ``p_no_trade`` from there, so a gap is classed the same
    wherever it is looked at. Edge gaps of the range keep their class (they are cut by the range).
    """
    by_span = {(g.start, g.end): g for g in wide.gaps}
    for i, g in enumerate(ranged.gaps):
        w = by_span.get((g.start, g.end))
        if w is not None and g.cls != "edge" and (w.cls, w.p_no_trade, w.sessions) != (g.cls, g.p_no_trade, g.sessions):
            ranged.gaps[i] = replace(g, cls=w.cls, p_no_trade=w.p_no_trade, sessions=w.sessions, clock=w.clock)
    return ranged


def continuity(bars: pl.DataFrame | pl.Series, cal: SessionCalendar, *,
               start: dt.date | None = None, end: dt.date | None = None, min_gap: int = 1,
               acknowledged: tuple = (), recurring_ratio: float = 0.5,
               min_sessions: int = 3, model: QuietModel | None = QuietModel()) -> Continuity:
    """Gaps, stray bars and per-day coverage of ``bars`` against ``cal``.

    Parameters
    ----------
    bars : DataFrame or Series
        Canonical bars (``datetime`` = bar open, UTC, strictly increasing) or the datetimes.
    cal : SessionCalendar
        The instrument's calendar (overrides applied).
    start, end : date, optional
        Trading days to check; default the trading days of the first and last bar.
    min_gap : int
        Report only gaps of at least this many missing expected minutes (``--gap N``).
    acknowledged : tuple of AckGap
        Acknowledged gaps from the overrides file.
    recurring_ratio, min_sessions
        Thresholds of the ``recurring`` class (module docstring).
    model : QuietModel or None
        The quiet-minute model (:mod:`datamgr.health.quiet`); ``None`` turns it off (no gap is
        ``quiet`` and ``p_no_trade`` is null).

    Returns
    -------
    Continuity

    Notes
    -----
    Works on bitmaps over the absolute minutes of the range (one byte per minute: 9.5 MB for 18
    years): bars and expected minutes are marked by fancy indexing, so nothing is sorted or
    searched per bar and the expected minutes are never materialised; only the (few) missing
    minutes are looked at individually.
    """
    t = _times(bars)
    if len(t) == 0 and (start is None or end is None):
        return _empty(start, end, min_gap)
    if start is None or end is None:
        d0, d1 = _day_range(cal, t)
        start, end = start or d0, end or d1
    seg = cal.segments(start, end)
    if seg.height == 0:
        return _empty(start, end, min_gap)
    s_us, x_us = _us_col(seg, "start"), _us_col(seg, "end")
    n = (x_us - s_us) // MINUTE_US
    seg_day = seg["trading_day"].rank("dense").cast(pl.Int64).to_numpy() - 1
    days = seg["trading_day"].unique().sort()
    nd = len(days)
    # bars of the range: after the previous session's close, before the range's last close
    prev = cal.segments(start - _DAY_MARGIN - _DAY_MARGIN, start - dt.timedelta(days=1))
    lo = int(_us_col(prev, "end").max()) if prev.height else int(s_us[0]) - 86_400_000_000
    b0, b1 = np.searchsorted(t, lo, "left"), np.searchsorted(t, int(x_us.max()), "left")
    tin = t[b0:b1]
    # slot i+1 <-> minute base+i; slot 0 holds anything earlier
    base = int(s_us[0]) // MINUTE_US
    last = int(x_us.max()) // MINUTE_US
    if len(tin):
        last = max(last, int(tin[-1]) // MINUTE_US + 1)
    span = last - base + 2
    edges = np.zeros(span + 1, dtype=np.int8)
    np.add.at(edges, s_us // MINUTE_US - base + 1, 1)
    np.add.at(edges, x_us // MINUTE_US - base + 1, -1)
    is_exp = np.cumsum(edges, dtype=np.int8)[:span] > 0
    aligned = tin % MINUTE_US == 0
    m_t = np.clip(tin // MINUTE_US - base, -1, span - 2) + 1
    has_bar = np.zeros(span, dtype=bool)
    has_bar[m_t[aligned]] = True
    vol_slot = np.zeros(span if model is not None else 0, dtype=np.float64)
    if model is not None and isinstance(bars, pl.DataFrame) and "volume" in bars.columns:
        vol_slot[m_t[aligned]] = bars["volume"].cast(pl.Float64).fill_null(0).to_numpy()[b0:b1][aligned]
    elif model is not None:  # datetimes only: a bar stands for one unit of volume
        vol_slot[m_t[aligned]] = 1.0
    exp_cum = np.cumsum(is_exp, dtype=np.int64)
    n_exp = int(exp_cum[-1])
    miss_slot = np.flatnonzero(is_exp & ~has_bar)
    # strays: bars that are not on an expected minute
    stray_pos = np.flatnonzero(~(aligned & is_exp[m_t]))
    strays = pl.DataFrame({"row": (stray_pos + b0).astype("int64"),
                           "datetime": pl.Series(tin[stray_pos], dtype=pl.Int64).cast(_UTC)})
    # per trading day: expected from segments, missing and strays from their few positions
    seg_cum = np.cumsum(n)
    exp_d = np.bincount(seg_day, weights=n, minlength=nd).astype("int64")
    miss_t = (miss_slot - 1 + base) * MINUTE_US
    miss_seg = np.searchsorted(s_us, miss_t, "right") - 1
    miss_day = seg_day[miss_seg]
    pres_d = exp_d - np.bincount(miss_day, minlength=nd)
    nxt = np.minimum(np.searchsorted(seg_cum, exp_cum[m_t[stray_pos]], "right"), len(n) - 1)
    out_d = np.bincount(seg_day[nxt], minlength=nd)
    coverage = pl.DataFrame({"trading_day": days, "expected": exp_d, "present": pres_d,
                             "outside": out_d.astype("int64")}).with_columns(
        (pl.col("present") / pl.col("expected")).fill_nan(None).alias("coverage"))
    off = _et_offsets(seg)
    rates = None
    if model is not None and len(miss_slot):
        rates = _rates(cal, seg, s_us, n, is_exp, exp_cum, miss_slot, vol_slot, base, off, model)
    gaps = _gaps(seg, seg_day, miss_t, miss_seg, exp_cum[miss_slot], t,
                 pres_d / np.maximum(exp_d, 1), recurring_ratio, min_sessions, off, rates, model)
    if acknowledged and gaps:
        gaps = _acknowledge(gaps, acknowledged)
    return Continuity(start, end, n_exp, n_exp - len(miss_slot), len(stray_pos), gaps, strays,
                      coverage, min_gap, rates.calibration if rates is not None else None)


def _et_offsets(seg: pl.DataFrame) -> np.ndarray:
    """ET - UTC offset (us) of each segment (a segment never straddles a DST switch: the switch is
    at 02:00 on a Sunday, when CME and NYSE are closed)."""
    return seg.select(
        (pl.col("start").dt.convert_time_zone(ET).dt.replace_time_zone(None).cast(pl.Int64)
         - pl.col("start").cast(pl.Int64)).alias("off"))["off"].to_numpy()


def _rates(cal: SessionCalendar, seg: pl.DataFrame, s_us: np.ndarray, n: np.ndarray, is_exp: np.ndarray,
           exp_cum: np.ndarray, miss_slot: np.ndarray, vol_slot: np.ndarray, base: int, off: np.ndarray,
           model: QuietModel) -> MinuteRates:
    """The quiet model's per-minute rates over the expected minutes of the range."""
    exp_slot = np.flatnonzero(is_exp)
    era = cal.eras(seg["trading_day"])
    # per segment: slot -> ET minute of the week shift, and the era's first bucket
    shift = base - 1 + off // MINUTE_US + EPOCH_SHIFT
    if int(n.sum()) == len(exp_slot):  # segments do not overlap: expected order = segment order
        key = (exp_slot + np.repeat(shift, n)) % WEEK + np.repeat(era * WEEK, n)
    else:
        seg_of = np.searchsorted(s_us, (exp_slot - 1 + base) * MINUTE_US, "right") - 1
        key = (exp_slot + shift[seg_of]) % WEEK + era[seg_of] * WEEK
    return minute_rates(key, int(era.max()) + 1, vol_slot[exp_slot], exp_cum[miss_slot] - 1, model)


def _acknowledge(gaps: list[Gap], acks: tuple) -> list[Gap]:
    """Mark the gaps that lie inside an acknowledged range (vectorised: a bulk acknowledge can
    write thousands of entries)."""
    a_start = np.array([_us(a.start) for a in acks], dtype=np.int64)
    a_end = np.array([_us(a.end) for a in acks], dtype=np.int64)
    order = np.argsort(a_start, kind="stable")
    a_start, reach = a_start[order], np.maximum.accumulate(a_end[order])
    g_start = np.array([_us(g.start) for g in gaps], dtype=np.int64)
    g_last = np.array([_us(g.end) - MINUTE_US for g in gaps], dtype=np.int64)
    i = np.searchsorted(a_start, g_start, side="right") - 1  # last range starting at or before the gap
    covered = (i >= 0) & (reach[np.maximum(i, 0)] >= g_last)
    return [replace(g, acknowledged=True) if c else g for g, c in zip(gaps, covered, strict=True)]


def _gaps(seg: pl.DataFrame, seg_day: np.ndarray, miss_t: np.ndarray, miss_seg: np.ndarray,
          miss_idx: np.ndarray, t: np.ndarray, day_cov: np.ndarray, ratio: float,
          min_sessions: int, off: np.ndarray, rates: MinuteRates | None,
          model: QuietModel | None) -> list[Gap]:
    """Maximal runs of missing minutes (consecutive in the expected sequence), classified."""
    if len(miss_t) == 0:
        return []
    rs, re_ = run_bounds(miss_idx)  # inclusive
    first_bar = t[0] if len(t) else np.iinfo("int64").max
    last_bar = t[-1] if len(t) else np.iinfo("int64").min
    cls = np.full(len(rs), "hole", dtype=object)
    is_edge = (miss_t[re_] < first_bar) | (miss_t[rs] > last_bar)
    flag = _recurring_minutes(seg, seg_day, miss_t, miss_seg, day_cov, ratio, min_sessions, off)
    cum = np.concatenate(([0], np.cumsum(flag)))
    mday = seg_day[miss_seg]
    starts, ends, count = miss_t[rs], miss_t[re_] + MINUTE_US, re_ - rs + 1
    is_rec = ((cum[re_ + 1] - cum[rs]) == count) & (mday[rs] == mday[re_]) & ~is_edge
    # a recurring clock window needs at least min_sessions occurrences; fewer fall back to quiet/hole
    cs = ((starts + off[miss_seg[rs]]) // MINUTE_US) % 1440
    ce = ((ends + off[miss_seg[re_]]) // MINUTE_US) % 1440
    if is_rec.any():
        is_rec = _same_window_often(is_rec, cs * 1441 + ce, seg, seg_day[miss_seg[rs]], day_cov, ratio,
                                    min_sessions)
    p = (gap_p_no_trade(rates, miss_idx - 1, rs, re_, model) if rates is not None and model
         else np.full(len(rs), np.nan))
    if model is not None:
        cls[p >= model.threshold] = "quiet"
    cls[is_rec] = "recurring"
    cls[is_edge] = "edge"
    nsess = mday[re_] - mday[rs] + 1
    keep = ~is_rec
    # one conversion per column (polars), then plain Python values: a long thin file has 100k+ gaps
    t0 = pl.Series(starts[keep], dtype=pl.Int64).cast(_UTC).to_list()
    t1 = pl.Series(ends[keep], dtype=pl.Int64).cast(_UTC).to_list()
    q = [None if x != x else x for x in p[keep].tolist()]  # NaN (no model) -> None
    out = [Gap(a, b, c, k, m, p_no_trade=x)
           for a, b, c, k, m, x in zip(t0, t1, count[keep].tolist(), cls[keep].tolist(), nsess[keep].tolist(), q,
                                       strict=True)]
    if is_rec.any():
        out += _collapse(starts[is_rec], ends[is_rec], count[is_rec], p[is_rec])
    out.sort(key=lambda g: g.start)
    return out


def _same_window_often(is_rec: np.ndarray, window: np.ndarray, seg: pl.DataFrame, run_day: np.ndarray,
                       day_cov: np.ndarray, ratio: float, min_sessions: int) -> np.ndarray:
    """Keep a recurring candidate only when its exact ET clock window is missing on at least
    ``min_sessions`` sessions and on at least ``ratio`` of the well-covered sessions of the months
    it occurs in (random tradeless minutes of a thin market rarely repeat one exact window)."""
    days = seg["trading_day"].unique(maintain_order=True).sort()
    month = (days.dt.year().cast(pl.Int64) * 12 + days.dt.month().cast(pl.Int64)).to_numpy()
    month = month - month.min()
    good_per_month = np.bincount(month, weights=(day_cov >= 0.5).astype(np.float64))
    idx = np.flatnonzero(is_rec)
    _, grp, cnt = np.unique(window[idx], return_inverse=True, return_counts=True)
    pairs = np.unique(np.stack([grp, month[run_day[idx]]], axis=1), axis=0)
    good = np.bincount(pairs[:, 0], weights=good_per_month[pairs[:, 1]], minlength=len(cnt))
    ok = (cnt >= min_sessions) & (cnt >= ratio * good)
    out = is_rec.copy()
    out[idx[~ok[grp]]] = False
    return out


def _recurring_minutes(seg: pl.DataFrame, seg_day: np.ndarray, miss_t: np.ndarray, miss_seg: np.ndarray,
                       day_cov: np.ndarray, ratio: float, min_sessions: int, off: np.ndarray) -> np.ndarray:
    """Which missing minutes fall on a (month, ET clock minute) missing on most good sessions.

    One UTC offset per segment gives every minute's ET clock time (:func:`_et_offsets`). How many
    good sessions of a month cover each clock minute is counted per segment with a difference
    array, not per minute.
    """
    good_seg = day_cov[seg_day] >= 0.5
    good = good_seg[miss_seg]
    if not good.any():
        return np.zeros(len(miss_t), dtype=bool)
    month = seg.select(
        (pl.col("trading_day").dt.year().cast(pl.Int64) * 12 + pl.col("trading_day").dt.month().cast(pl.Int64))
        .alias("month"))["month"].to_numpy()
    month = month - month.min()
    nm, w = int(month.max()) + 1, 1441
    s_us, x_us = _us_col(seg, "start"), _us_col(seg, "end")
    c0 = ((s_us + off) // MINUTE_US) % 1440
    c1 = c0 + (x_us - s_us) // MINUTE_US  # may pass midnight (< 2 * 1440)
    row = month * w
    edges = np.zeros(nm * w + 1, dtype=np.int64)
    g = good_seg
    np.add.at(edges, row[g] + c0[g], 1)
    np.add.at(edges, row[g] + np.minimum(c1[g], 1440), -1)
    wrap = g & (c1 > 1440)
    np.add.at(edges, row[wrap], 1)
    np.add.at(edges, row[wrap] + (c1[wrap] - 1440), -1)
    tot = np.cumsum(edges)[: nm * w].reshape(nm, w)[:, :1440].ravel()
    clock = ((miss_t + off[miss_seg]) // MINUTE_US) % 1440
    key = month[miss_seg] * 1440 + clock
    miss = np.bincount(key[good], minlength=nm * 1440)
    rec_key = (miss >= min_sessions) & (miss >= ratio * np.maximum(tot, 1))
    return good & rec_key[key]


def _collapse(starts: np.ndarray, ends: np.ndarray, n: np.ndarray, p: np.ndarray) -> list[Gap]:
    """One gap per ET clock window (consecutive occurrences) instead of one per session;
    ``p_no_trade`` is the mean over the occurrences."""
    df = pl.DataFrame({"s": pl.Series(starts, dtype=pl.Int64), "e": pl.Series(ends, dtype=pl.Int64),
                       "n": n, "p": pl.Series(p, dtype=pl.Float64).fill_nan(None)}).with_columns(
        pl.col("s", "e").cast(_UTC))
    loc = df.with_columns(pl.col("s").dt.convert_time_zone(ET).dt.strftime("%H:%M").alias("cs"),
                          pl.col("e").dt.convert_time_zone(ET).dt.strftime("%H:%M").alias("ce"))
    agg = loc.group_by("cs", "ce").agg(pl.col("s").min(), pl.col("e").max(), pl.col("n").sum(),
                                       pl.col("p").mean(), pl.len().alias("k"))
    return [Gap(r["s"], r["e"], int(r["n"]), "recurring", int(r["k"]),
                clock=f"{r['cs']}-{r['ce']} ET", p_no_trade=r["p"]) for r in agg.iter_rows(named=True)]


def quick_flags(settings, ticker: str, meta, now: dt.datetime | None = None) -> list[str]:
    """Cheap health flags for the inventory, from a file's footer metadata only.

    Parameters
    ----------
    settings : Settings
    ticker : str
    meta : FileMeta or None
        Footer metadata of the ticker's 1m file (``rows``, ``start``, ``end``).
    now : datetime, optional
        The clock for staleness (UTC-aware); the wall clock when omitted.

    Returns
    -------
    list of str
        ``"behind: N sessions"`` when the last bar is more than one session old;
        ``"footer: ..."`` for footer problems. Empty when nothing looks wrong. Gaps and coverage
        are not estimated from the footer (stray prints would count as coverage): the inventory
        takes them from :func:`datamgr.health.report.master_coverage`.
    """
    if meta is None or meta.rows == 0 or meta.start is None or meta.end is None:
        return []
    flags = [f"footer: {p}" for p in getattr(meta, "problems", ())]
    cal = calendar_for(settings, ticker)
    st = staleness(meta.end, cal, now=now)
    if st.sessions > 1:
        flags.append(f"behind: {st.sessions} sessions")
    return flags
