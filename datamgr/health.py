"""Calendar-true health of a bar file: gaps, stray bars, per-day coverage, staleness (SPEC 5).

Definitions (decisions where the spec is silent are marked *decision*):

* **Expected minutes** come from the instrument's session calendar with the data folder's
  ``calendar_overrides.toml`` applied (:func:`datamgr.calendar.calendar_for`).
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
* **Staleness**: expected bars whose minute has fully elapsed after the last bar, and how many
  sessions they belong to; ``next_bar`` is the open time of the first expected bar after now.

Everything is vectorised with numpy ``searchsorted``; no Python loop over bars or days.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from .calendar import MINUTE_US, SessionCalendar
from .timefmt import ET, to_et_iso

_UTC = pl.Datetime("us", "UTC")
_DAY_MARGIN = dt.timedelta(days=3)


def _us(t: dt.datetime) -> int:
    return int((t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) / dt.timedelta(microseconds=1))


def _dt(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(us))


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

    def to_json(self) -> dict[str, Any]:
        d = {"start": to_et_iso(self.start), "end": to_et_iso(self.end), "missing": self.missing,
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

    def to_json(self, max_strays: int = 100) -> dict[str, Any]:
        head = self.strays.head(max_strays)
        return {
            "from": self.first_day.isoformat() if self.first_day else None,
            "to": self.last_day.isoformat() if self.last_day else None,
            "expected": self.expected, "present": self.present,
            "outside_session": self.outside_session,
            "gaps": [g.to_json() for g in self.reported],
            "strays": [{"row": int(r), "datetime": to_et_iso(t)}
                       for r, t in zip(head["row"].to_list(), head["datetime"].to_list(), strict=True)],
        }


def _times(bars: pl.DataFrame | pl.Series) -> np.ndarray:
    s = bars["datetime"] if isinstance(bars, pl.DataFrame) else bars
    return s.cast(_UTC).to_numpy().astype("datetime64[us]").astype("int64")


def _expand(seg: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected minute open times, their day index, and the minutes per segment."""
    starts = seg["start"].to_numpy().astype("datetime64[us]").astype("int64")
    ends = seg["end"].to_numpy().astype("datetime64[us]").astype("int64")
    n = np.maximum((ends - starts) // MINUTE_US, 0)
    day_idx = seg["trading_day"].rank("dense").cast(pl.Int64).to_numpy() - 1
    offsets = np.arange(int(n.sum()), dtype="int64") - np.repeat(np.cumsum(n) - n, n)
    return np.repeat(starts, n) + offsets * MINUTE_US, np.repeat(day_idx, n), n


def _clock_keys(seg: pl.DataFrame, n: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense (month of trading day, ET clock minute) key of every expected minute.

    A segment never straddles a DST switch (those happen at 02:00 on Sunday, when CME and NYSE are
    closed), so one UTC offset per segment gives every minute's ET clock time without converting
    millions of timestamps.
    """
    local = seg.select(
        (pl.col("start").dt.convert_time_zone(ET).dt.replace_time_zone(None).cast(pl.Int64)
         - pl.col("start").cast(pl.Int64)).alias("off"),
        (pl.col("trading_day").dt.year().cast(pl.Int64) * 12 + pl.col("trading_day").dt.month().cast(pl.Int64))
        .alias("month"))
    month = local["month"].to_numpy()
    month = month - month.min()
    off = np.repeat(local["off"].to_numpy(), n)
    clock = ((e + off) // MINUTE_US) % 1440
    return np.repeat(month, n) * 1440 + clock, int(month.max() + 1) * 1440


def _day_range(cal: SessionCalendar, t: np.ndarray) -> tuple[dt.date, dt.date]:
    """Trading days of the first and last bar (a stray belongs to the next session)."""
    lo, hi = _dt(t[0]), _dt(t[-1])
    seg = cal.segments(lo.date() - _DAY_MARGIN, hi.date() + _DAY_MARGIN + _DAY_MARGIN)
    ends = seg["end"].to_numpy().astype("datetime64[us]").astype("int64")
    i0 = min(int(np.searchsorted(ends, t[0], side="right")), seg.height - 1)
    i1 = min(int(np.searchsorted(ends, t[-1], side="right")), seg.height - 1)
    return seg["trading_day"][i0], seg["trading_day"][i1]


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
    """
    t = _times(bars)
    empty_cov = pl.DataFrame(schema={"trading_day": pl.Date, "expected": pl.Int64,
                                     "present": pl.Int64, "outside": pl.Int64,
                                     "coverage": pl.Float64})
    if len(t) == 0 and (start is None or end is None):
        return Continuity(start, end, 0, 0, 0, [], pl.DataFrame(
            schema={"row": pl.Int64, "datetime": _UTC}), empty_cov, min_gap)
    if start is None or end is None:
        d0, d1 = _day_range(cal, t)
        start, end = start or d0, end or d1
    seg = cal.segments(start, end)
    if seg.height == 0:
        return Continuity(start, end, 0, 0, 0, [], pl.DataFrame(
            schema={"row": pl.Int64, "datetime": _UTC}), empty_cov, min_gap)
    days = seg["trading_day"].unique(maintain_order=True).sort()
    e, eday, seg_n = _expand(seg)
    # bars inside the range: from the end of the previous session to the range's last close
    prev = cal.segments(start - _DAY_MARGIN - _DAY_MARGIN, start - dt.timedelta(days=1))
    lo = int(prev["end"].max().timestamp() * 1e6) if prev.height else e[0] - 86_400_000_000
    hi = int(seg["end"].max().timestamp() * 1e6)
    b0, b1 = np.searchsorted(t, lo, "left"), np.searchsorted(t, hi, "left")
    tin = t[b0:b1]
    # present / stray through a bitmap over the absolute minutes of the range: O(n), no sort
    base = e[0] // MINUTE_US
    span = int(max(e[-1], tin[-1] if len(tin) else e[-1]) // MINUTE_US - base + 1)
    has_bar = np.zeros(span + 1, dtype=bool)
    aligned = tin % MINUTE_US == 0
    m_t = np.clip(tin // MINUTE_US - base, -1, span) + 1  # slot 0 = before the first minute
    has_bar[m_t[aligned]] = True
    m_e = e // MINUTE_US - base + 1
    present = has_bar[m_e]
    is_exp = np.zeros(span + 1, dtype=bool)
    is_exp[m_e] = True
    in_sess = aligned & is_exp[m_t]
    stray_pos = np.nonzero(~in_sess)[0]
    strays = pl.DataFrame({"row": (stray_pos + b0).astype("int64"),
                           "datetime": pl.Series(tin[stray_pos].astype("datetime64[us]")).cast(_UTC)})
    # index of the next expected minute of each stray (its session for per-day counts)
    k = np.cumsum(is_exp)[m_t[stray_pos]] if len(stray_pos) else np.zeros(0, "int64")
    # coverage per trading day
    nd = len(days)
    exp_d = np.bincount(eday, minlength=nd)
    pres_d = np.bincount(eday, weights=present, minlength=nd).astype("int64")
    out_d = np.bincount(eday[np.minimum(k, len(e) - 1)], minlength=nd) if len(stray_pos) else np.zeros(nd, "int64")
    coverage = pl.DataFrame({"trading_day": days, "expected": exp_d.astype("int64"),
                             "present": pres_d, "outside": out_d.astype("int64")}).with_columns(
        (pl.col("present") / pl.col("expected")).fill_nan(None).alias("coverage"))
    gaps = _gaps(seg, seg_n, e, eday, present, t, pres_d / np.maximum(exp_d, 1), recurring_ratio,
                 min_sessions)
    if acknowledged:
        gaps = [_ack(g, acknowledged) for g in gaps]
    return Continuity(start, end, int(len(e)), int(present.sum()), int(len(stray_pos)), gaps,
                      strays, coverage, min_gap)


def _ack(g: Gap, acks: tuple) -> Gap:
    last = g.end - dt.timedelta(minutes=1)
    for a in acks:
        if a.start <= g.start and last <= a.end:
            return Gap(g.start, g.end, g.missing, g.cls, g.sessions, True, g.clock)
    return g


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the True runs of ``mask``."""
    d = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]


def _gaps(seg: pl.DataFrame, n: np.ndarray, e: np.ndarray, eday: np.ndarray, present: np.ndarray,
          t: np.ndarray, day_cov: np.ndarray, ratio: float, min_sessions: int) -> list[Gap]:
    missing = ~present
    rs, re_ = _runs(missing)
    if len(rs) == 0:
        return []
    first_bar = t[0] if len(t) else np.iinfo("int64").max
    last_bar = t[-1] if len(t) else np.iinfo("int64").min
    cls = np.full(len(rs), "hole", dtype=object)
    is_edge = (e[re_ - 1] < first_bar) | (e[rs] > last_bar)
    cls[is_edge] = "edge"
    # recurring: (month, ET clock minute) missing on most well-covered sessions of that month
    good = day_cov[eday] >= 0.5
    flag = np.zeros(len(e), dtype=bool)
    if (missing & good).any():
        key, size = _clock_keys(seg, n, e)
        tot = np.bincount(key[good], minlength=size)
        miss = np.bincount(key[good & missing], minlength=size)
        rec_key = (miss >= min_sessions) & (miss >= ratio * tot)
        flag = good & missing & rec_key[key]
    # a run is recurring when every minute is flagged and it stays within one session
    cum = np.concatenate(([0], np.cumsum(flag)))
    all_flag = (cum[re_] - cum[rs]) == (re_ - rs)
    one_day = eday[rs] == eday[re_ - 1]
    is_rec = all_flag & one_day & ~is_edge
    cls[is_rec] = "recurring"
    starts, ends = e[rs], e[re_ - 1] + MINUTE_US
    nsess = eday[re_ - 1] - eday[rs] + 1
    keep = ~is_rec
    out = [Gap(_dt(s), _dt(x), int(n), str(c), int(k))
           for s, x, n, c, k in zip(starts[keep], ends[keep], (re_ - rs)[keep], cls[keep], nsess[keep],
                                    strict=True)]
    if is_rec.any():
        out += _collapse(starts[is_rec], ends[is_rec], (re_ - rs)[is_rec])
    out.sort(key=lambda g: g.start)
    return out


def _collapse(starts: np.ndarray, ends: np.ndarray, n: np.ndarray) -> list[Gap]:
    """One gap per ET clock window (consecutive occurrences) instead of one per session."""
    df = pl.DataFrame({"s": starts.astype("datetime64[us]"), "e": ends.astype("datetime64[us]"),
                       "n": n}).with_columns(pl.col("s", "e").cast(_UTC))
    loc = df.with_columns(pl.col("s").dt.convert_time_zone(ET).dt.strftime("%H:%M").alias("cs"),
                          pl.col("e").dt.convert_time_zone(ET).dt.strftime("%H:%M").alias("ce"))
    agg = loc.group_by("cs", "ce").agg(pl.col("s").min(), pl.col("e").max(), pl.col("n").sum(),
                                       pl.len().alias("k"))
    return [Gap(r["s"], r["e"], int(r["n"]), "recurring", int(r["k"]),
                clock=f"{r['cs']}-{r['ce']} ET") for r in agg.iter_rows(named=True)]


# ---------------------------------------------------------------------- staleness
@dataclass(frozen=True)
class Staleness:
    """Expected bars and sessions between the last stored bar and ``now``."""

    last_bar: dt.datetime | None
    now: dt.datetime
    expected_bars: int
    sessions: int
    next_bar: dt.datetime | None
    verdict: str = field(default="")

    def to_json(self) -> dict[str, Any]:
        return {"last_bar": to_et_iso(self.last_bar), "now": to_et_iso(self.now),
                "expected_bars_behind": self.expected_bars, "sessions_behind": self.sessions,
                "next_bar": to_et_iso(self.next_bar), "verdict": self.verdict}


def staleness(last_bar: dt.datetime | None, cal: SessionCalendar,
              now: dt.datetime | None = None) -> Staleness:
    """How far the file is behind the calendar.

    Parameters
    ----------
    last_bar : datetime or None
        Open time of the last stored bar (aware).
    cal : SessionCalendar
    now : datetime, optional
        Defaults to the current time.
    """
    now = now or dt.datetime.now(dt.UTC)
    start = (last_bar or now).date() - _DAY_MARGIN
    seg = cal.segments(start, now.date() + dt.timedelta(days=10))
    e, eday, _ = _expand(seg) if seg.height else (np.array([], "int64"),) * 3
    now_us, last_us = _us(now), _us(last_bar) if last_bar else None
    done = e + MINUTE_US <= now_us
    behind = done & (e > last_us) if last_us is not None else done
    n = int(behind.sum())
    sessions = len(np.unique(eday[behind])) if n else 0
    nxt = e[e >= now_us]
    next_bar = _dt(nxt[0]) if len(nxt) else None
    if last_bar is None:
        verdict = "no data"
    elif n == 0:
        verdict = "up to date"
    else:
        verdict = f"{sessions} session{'s' if sessions != 1 else ''} behind ({n:,} expected bars)"
    if next_bar is not None:
        verdict += f"; next bar {to_et_iso(next_bar)[:16].replace('T', ' ')} ET"
    return Staleness(last_bar, now, n, sessions, next_bar, verdict)


def quick_flags(settings, ticker: str, meta) -> list[str]:
    """Cheap health flags for the inventory, from a file's footer metadata only.

    Parameters
    ----------
    settings : Settings
    ticker : str
    meta : FileMeta or None
        Footer metadata of the ticker's 1m file (``rows``, ``start``, ``end``).

    Returns
    -------
    list of str
        ``"stale: N sessions behind"`` when the last bar is more than one session old;
        ``"gaps: ~N missing minutes"`` when the file holds fewer rows than the calendar expects
        between its first and last bar (an estimate: stray bars count as rows);
        ``"footer: ..."`` for footer problems. Empty when nothing looks wrong.
    """
    from .calendar import calendar_for

    if meta is None or meta.rows == 0 or meta.start is None or meta.end is None:
        return []
    flags = [f"footer: {p}" for p in getattr(meta, "problems", ())]
    cal = calendar_for(settings, ticker)
    st = staleness(meta.end, cal)
    if st.sessions > 1:
        flags.append(f"stale: {st.sessions} sessions behind")
    seg = cal.segments(meta.start.date() - dt.timedelta(days=1), meta.end.date() + dt.timedelta(days=1))
    s = seg["start"].to_numpy().astype("datetime64[us]").astype("int64")
    x = seg["end"].to_numpy().astype("datetime64[us]").astype("int64")
    lo, hi = _us(meta.start), _us(meta.end) + MINUTE_US
    expected = int(np.clip(np.minimum(x, hi) - np.maximum(s, lo), 0, None).sum() // MINUTE_US)
    if expected > meta.rows:
        flags.append(f"gaps: ~{expected - meta.rows:,} missing minutes")
    return flags
