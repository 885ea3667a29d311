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
  and the run lies in one session (*decision*: month = the period); the runs of one clock window
  in consecutive months are collapsed into one reported gap with ``sessions`` = how many
  sessions it hit. Everything else is a ``hole``.
* A gap inside an acknowledged range of the overrides file is reported with
  ``acknowledged: true`` and is not a problem.
* **Stray bars** are bars whose open time is not an expected minute. For per-day coverage a stray
  is counted on the trading day of the next session (*decision*).
* **Staleness** lives in :mod:`datamgr.health.staleness` (re-exported here): expected bars whose minute
  has fully elapsed after the last bar, and how many sessions they belong to.
* :func:`quick_flags` gives the inventory cheap flags from a file's footer only.

Everything is vectorised with numpy ``searchsorted``; no Python loop over bars or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from datamgr.calendar.sessions import MINUTE_US, SessionCalendar, calendar_for
from datamgr.core.timefmt import ET, to_et_iso
from datamgr.health.staleness import Staleness, _dt, _us, _us_col, staleness

__all__ = ["Continuity", "Gap", "Staleness", "continuity", "quick_flags", "staleness"]

_UTC = pl.Datetime("us", "UTC")
_DAY_MARGIN = dt.timedelta(days=3)


@dataclass(frozen=True)
class Gap:
    """A maximal run of missing expected minutes (times aware UTC; ``end`` exclusive)."""

    start: dt.datetime
    end: dt.datetime
    missing: int
    cls: str
    sessions: int = 1
    acknowledged: bool = False
    clock: str | None = None

    def to_json(self, tz: str = ET) -> dict[str, Any]:
        d = {"start": to_et_iso(self.start, tz), "end": to_et_iso(self.end, tz), "missing": self.missing,
             "class": self.cls, "sessions": self.sessions, "acknowledged": self.acknowledged}
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

    @property
    def reported(self) -> list[Gap]:
        return [g for g in self.gaps if g.missing >= self.min_gap]

    @property
    def holes(self) -> list[Gap]:
        return [g for g in self.reported if g.cls == "hole" and not g.acknowledged]

    def to_json(self, max_strays: int = 100, tz: str = ET) -> dict[str, Any]:
        head = self.strays.head(max_strays)
        return {
            "from": self.first_day.isoformat() if self.first_day else None,
            "to": self.last_day.isoformat() if self.last_day else None,
            "expected": self.expected, "present": self.present,
            "outside_session": self.outside_session,
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


def continuity(bars: pl.DataFrame | pl.Series, cal: SessionCalendar, *,
               start: dt.date | None = None, end: dt.date | None = None, min_gap: int = 1,
               acknowledged: tuple = (), recurring_ratio: float = 0.5,
               min_sessions: int = 3) -> Continuity:
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
    gaps = _gaps(seg, seg_day, miss_t, miss_seg, exp_cum[miss_slot], t,
                 pres_d / np.maximum(exp_d, 1), recurring_ratio, min_sessions)
    if acknowledged:
        gaps = [_ack(g, acknowledged) for g in gaps]
    return Continuity(start, end, n_exp, n_exp - len(miss_slot), len(stray_pos), gaps, strays,
                      coverage, min_gap)


def _ack(g: Gap, acks: tuple) -> Gap:
    last = g.end - dt.timedelta(minutes=1)
    for a in acks:
        if a.start <= g.start and last <= a.end:
            return Gap(g.start, g.end, g.missing, g.cls, g.sessions, True, g.clock)
    return g


def _gaps(seg: pl.DataFrame, seg_day: np.ndarray, miss_t: np.ndarray, miss_seg: np.ndarray,
          miss_idx: np.ndarray, t: np.ndarray, day_cov: np.ndarray, ratio: float,
          min_sessions: int) -> list[Gap]:
    """Maximal runs of missing minutes (consecutive in the expected sequence), classified."""
    if len(miss_t) == 0:
        return []
    brk = np.flatnonzero(np.diff(miss_idx) != 1)
    rs = np.concatenate(([0], brk + 1))
    re_ = np.concatenate((brk, [len(miss_t) - 1]))  # inclusive
    first_bar = t[0] if len(t) else np.iinfo("int64").max
    last_bar = t[-1] if len(t) else np.iinfo("int64").min
    cls = np.full(len(rs), "hole", dtype=object)
    is_edge = (miss_t[re_] < first_bar) | (miss_t[rs] > last_bar)
    cls[is_edge] = "edge"
    flag = _recurring_minutes(seg, seg_day, miss_t, miss_seg, day_cov, ratio, min_sessions)
    cum = np.concatenate(([0], np.cumsum(flag)))
    mday = seg_day[miss_seg]
    is_rec = ((cum[re_ + 1] - cum[rs]) == (re_ - rs + 1)) & (mday[rs] == mday[re_]) & ~is_edge
    cls[is_rec] = "recurring"
    starts, ends, count = miss_t[rs], miss_t[re_] + MINUTE_US, re_ - rs + 1
    nsess = mday[re_] - mday[rs] + 1
    keep = ~is_rec
    out = [Gap(_dt(a), _dt(b), int(c), str(k), int(m))
           for a, b, c, k, m in zip(starts[keep], ends[keep], count[keep], cls[keep], nsess[keep], strict=True)]
    if is_rec.any():
        out += _collapse(starts[is_rec], ends[is_rec], count[is_rec])
    out.sort(key=lambda g: g.start)
    return out


def _recurring_minutes(seg: pl.DataFrame, seg_day: np.ndarray, miss_t: np.ndarray, miss_seg: np.ndarray,
                       day_cov: np.ndarray, ratio: float, min_sessions: int) -> np.ndarray:
    """Which missing minutes fall on a (month, ET clock minute) missing on most good sessions.

    A segment never straddles a DST switch (02:00 on Sunday, when CME and NYSE are closed), so one
    UTC offset per segment gives every minute's ET clock time. How many good sessions of a month
    cover each clock minute is counted per segment with a difference array, not per minute.
    """
    good_seg = day_cov[seg_day] >= 0.5
    good = good_seg[miss_seg]
    if not good.any():
        return np.zeros(len(miss_t), dtype=bool)
    local = seg.select(
        (pl.col("start").dt.convert_time_zone(ET).dt.replace_time_zone(None).cast(pl.Int64)
         - pl.col("start").cast(pl.Int64)).alias("off"),
        (pl.col("trading_day").dt.year().cast(pl.Int64) * 12 + pl.col("trading_day").dt.month().cast(pl.Int64))
        .alias("month"))
    off, month = local["off"].to_numpy(), local["month"].to_numpy()
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


def _collapse(starts: np.ndarray, ends: np.ndarray, n: np.ndarray) -> list[Gap]:
    """One gap per ET clock window (consecutive occurrences) instead of one per session."""
    df = pl.DataFrame({"s": pl.Series(starts, dtype=pl.Int64), "e": pl.Series(ends, dtype=pl.Int64),
                       "n": n}).with_columns(pl.col("s", "e").cast(_UTC))
    loc = df.with_columns(pl.col("s").dt.convert_time_zone(ET).dt.strftime("%H:%M").alias("cs"),
                          pl.col("e").dt.convert_time_zone(ET).dt.strftime("%H:%M").alias("ce"))
    agg = loc.group_by("cs", "ce").agg(pl.col("s").min(), pl.col("e").max(), pl.col("n").sum(),
                                       pl.len().alias("k"))
    return [Gap(r["s"], r["e"], int(r["n"]), "recurring", int(r["k"]),
                clock=f"{r['cs']}-{r['ce']} ET") for r in agg.iter_rows(named=True)]


def expected_between(cal, start: dt.datetime, end: dt.datetime) -> int:
    """Expected 1-minute bars whose open lies in ``[start, end]`` (the file's first and last bar)."""
    seg = cal.segments(start.date() - dt.timedelta(days=1), end.date() + dt.timedelta(days=1))
    s = seg["start"].to_numpy().astype("datetime64[us]").astype("int64")
    x = seg["end"].to_numpy().astype("datetime64[us]").astype("int64")
    lo, hi = _us(start), _us(end) + MINUTE_US
    return int(np.clip(np.minimum(x, hi) - np.maximum(s, lo), 0, None).sum() // MINUTE_US)


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
        ``"gaps: ~N missing minutes"`` when the file holds fewer rows than the calendar expects
        between its first and last bar (an estimate: stray bars count as rows);
        ``"footer: ..."`` for footer problems. Empty when nothing looks wrong.
    """
    if meta is None or meta.rows == 0 or meta.start is None or meta.end is None:
        return []
    flags = [f"footer: {p}" for p in getattr(meta, "problems", ())]
    cal = calendar_for(settings, ticker)
    st = staleness(meta.end, cal, now=now)
    if st.sessions > 1:
        flags.append(f"behind: {st.sessions} sessions")
    expected = expected_between(cal, meta.start, meta.end)
    if expected > meta.rows:
        flags.append(f"gaps: ~{expected - meta.rows:,} missing minutes")
    return flags
