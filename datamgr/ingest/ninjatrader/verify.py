"""Zone / stamp-convention detection and the verify report (SPEC 6).

Which zone an export was written in, and whether its stamps mark the bar's open or close, is
found from the data, never from the file name. For every candidate zone (UTC, Pacific, Central,
Eastern, the configured one) and both stamp conventions the bars are placed in UTC and scored on
presence **and absence** (:func:`calendar_evidence`):

``in_session``
    share of bars inside the calendar's sessions (:meth:`SessionCalendar.label`).
``closure_fit``
    every scheduled closed period (daily halt, overnight close, weekend, holiday) that lies
    inside the file's span: is it empty (at most a handful of stray prints: 5 % of its minutes,
    at least 1) and do the bars stop on its first minute and resume on its last (the edges,
    which also tell close from open stamps)? A matched closure scores 0.5 + 0.25 per exact edge;
    a closure full of bars scores 0.
``gap_fit``
    every gap of the file (a run of 15 or more missing minutes): explained when at least half of
    it is a scheduled closure, against the candidate when it lies wholly inside a session.
``calendar``
    mean of the three; a component without evidence counts 0.5, so a window that shows no
    closure and no gap is **undecided** (about 0.67), never a perfect fit, and a stray print
    costs a fraction of a bar's share while a matched halt is worth a third of the score.
``shape`` (where the master overlaps)
    correlation of bar-to-bar close changes of the file and the master at the same minutes. Shape
    ignores the level, so the next contract month (prices a constant number of points away) still
    matches, while a wrong zone or stamp (bars shifted by hours or a minute) does not. When some
    candidate's shape is at least :data:`SHAPE_DECIDES` the overlap decides:
    ``score = 0.25 calendar + 0.75 shape / best shape``.
``match_rate``
    share of overlapping bars whose OHLC equal the master's within one tick (the level).

Verification fails unless the chosen (zone, stamp) ranks first by at least :data:`MARGIN`.
Undecided windows pass only with a zone the user gave or remembered (a note says so). A constant
offset with matching shape is another contract (:class:`Overlap` ``contract_offset``), not a
mismatch. Price sanity (:mod:`datamgr.ingest.sanity`) runs on the placed bars; its refusal
(``price_refused``) is not overridable. Large files are scored on up to ten evenly spread
blocks of 20 000 rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core.contracts import contract_from_name
from datamgr.core.errors import InputError
from datamgr.core.timefmt import to_et_iso
from datamgr.ingest.ninjatrader.parse import ParsedExport, Reject
from datamgr.ingest.ninjatrader.place import Placed, to_bars
from datamgr.ingest.sanity import PriceCheck, check_levels

log = logging.getLogger(__name__)

CANDIDATE_ZONES = ("UTC", "America/Los_Angeles", "America/Chicago", "America/New_York")
MARGIN = 0.02
MIN_OVERLAP = 20
GAP_MIN = 15  # a gap of the file: at least this many missing minutes
STRAY_SHARE = 0.05  # a closure holding at most this share of bars (>= 1) is still empty
SHAPE_DECIDES = 0.5
CONTRACT_SHAPE = 0.8
MATCH_OK = 0.9
ZONE_ORIGINS = ("given", "remembered", "default")
_BLOCK, _BLOCKS = 20_000, 10
_PRICES = ("open", "high", "low", "close")
_MIN_US = 60_000_000
_ET = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class ZoneScore:
    """Fit of one (zone, stamp convention) candidate.

    ``edge_fit`` is the share of exact session edges at the closures inside the file's span (the
    in-session share when there is none); ``closures_matched/tested`` and ``gaps_explained/inside``
    count the evidence; ``shape`` and ``offset`` describe the overlap with the master."""

    tz: str
    stamp: str
    score: float
    in_session: float
    edge_fit: float
    match_rate: float | None
    calendar: float = 0.0
    closures_tested: int = 0
    closures_matched: int = 0
    gaps: int = 0
    gaps_explained: int = 0
    gaps_inside: int = 0
    shape: float | None = None
    offset: float | None = None

    @property
    def decided(self) -> bool:
        """The calendar or the overlap says something in this candidate's favour."""
        return bool(self.closures_matched or self.gaps_explained or (self.shape or 0) >= SHAPE_DECIDES)

    def to_json(self) -> dict:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        d["decided"] = self.decided
        return d


@dataclass(frozen=True)
class Overlap:
    """Comparison of the placed bars with the master where both have a bar.

    ``shape`` is the correlation of bar-to-bar close changes; ``offset`` the median of
    ``file close - master close`` (points); ``contract_offset`` is set when the timing and shape
    match but the level differs by that constant: another contract month."""

    bars: int = 0
    match_rate: float | None = None
    best_shift_minutes: int | None = None
    volume_ratio: float | None = None
    shape: float | None = None
    offset: float | None = None
    offset_spread: float | None = None
    contract_offset: float | None = None
    contract: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`; ``to_json()`` is the CLI payload of SPEC 13."""

    verdict: str
    message: str
    tz: str
    stamp: str
    interval_minutes: int
    interval_inferred: bool
    format: str
    rows_read: int
    rows_parsed: int
    rejects: list[Reject]
    zone_ranking: list[ZoneScore]
    overlap: Overlap
    start: object = None
    end: object = None
    outside_session: int = 0
    notes: list[str] = field(default_factory=list)
    zone_decision: str = "decided"  # decided | undecided | overlap | n/a (daily)
    zone_reason: str = ""
    zone_origin: str = "given"
    price: PriceCheck = field(default_factory=PriceCheck)
    contract: str | None = None

    @property
    def ok(self) -> bool:
        return self.verdict == "SUCCESS"

    @property
    def price_refused(self) -> bool:
        """Price sanity refused the bars: no override (``force``) applies."""
        return not self.price.ok

    def to_json(self) -> dict:
        return {
            "verdict": self.verdict, "message": self.message, "tz": self.tz, "stamp": self.stamp,
            "interval": f"{self.interval_minutes}m", "interval_inferred": self.interval_inferred,
            "format": self.format, "rows_read": self.rows_read, "rows_parsed": self.rows_parsed,
            "rejected": len(self.rejects), "rejects": [r.to_json() for r in self.rejects[:50]],
            "zone_ranking": [z.to_json() for z in self.zone_ranking],
            "overlap": self.overlap.to_json(),
            "start": to_et_iso(self.start) if self.start is not None else None,
            "end": to_et_iso(self.end) if self.end is not None else None,
            "outside_session": self.outside_session, "notes": self.notes,
            "zone_decision": self.zone_decision, "zone_reason": self.zone_reason,
            "zone_origin": self.zone_origin, "price_check": self.price.to_json(),
            "price_refused": self.price_refused, "contract": self.contract,
        }


# ----------------------------------------------------------------------------- evidence
@dataclass
class Evidence:
    """Calendar evidence for one placement (see the module doc)."""

    in_session: float = 0.0
    tested: int = 0
    matched: int = 0
    exact_edges: int = 0
    closure_fit: float | None = None
    gaps: int = 0
    explained: int = 0
    inside: int = 0
    #: matched closures: (line of the last bar before, closure start, end (us), gap minutes, exact edges)
    matches: list[tuple[int, int, int, int, int]] = field(default_factory=list)

    @property
    def edge_fit(self) -> float:
        return self.exact_edges / (2 * self.tested) if self.tested else self.in_session

    @property
    def gap_fit(self) -> float | None:
        if not self.gaps:
            return None
        return (self.explained + 0.5 * (self.gaps - self.explained - self.inside)) / self.gaps

    @property
    def calendar(self) -> float:
        parts = (self.in_session, 0.5 if self.closure_fit is None else self.closure_fit,
                 0.5 if self.gap_fit is None else self.gap_fit)
        return sum(parts) / 3


@dataclass(frozen=True)
class _Closed:
    """Open segments of the calendar merged and sorted (UTC microseconds) and the closures between."""

    starts: np.ndarray
    ends: np.ndarray
    cum: np.ndarray
    c_start: np.ndarray
    c_end: np.ndarray

    @classmethod
    def build(cls, calendar: SessionCalendar, lo: dt.datetime, hi: dt.datetime) -> _Closed:
        seg = calendar.segments(lo.date() - dt.timedelta(days=3), hi.date() + dt.timedelta(days=3)).sort("start")
        s = seg["start"].to_numpy().astype("datetime64[us]").astype("int64")
        e = seg["end"].to_numpy().astype("datetime64[us]").astype("int64")
        if len(s):  # merge touching / overlapping segments
            e = np.maximum.accumulate(e)
            new = np.concatenate([[True], s[1:] > e[:-1]])
            s = s[new]
            e = np.maximum.reduceat(e, np.flatnonzero(new))
        cum = np.concatenate([[0], np.cumsum(e - s)])
        cs, ce = e[:-1], s[1:]
        keep = (ce - cs) >= GAP_MIN * _MIN_US
        return cls(s, e, cum, cs[keep], ce[keep])

    def open_before(self, x: np.ndarray) -> np.ndarray:
        """Open (in-session) microseconds before each ``x`` since the first segment."""
        k = np.searchsorted(self.starts, x, side="right") - 1
        kc = np.clip(k, 0, None)
        part = np.clip(x - self.starts[kc], 0, self.ends[kc] - self.starts[kc]) if len(self.starts) else 0
        return np.where(k < 0, 0, self.cum[kc] + part)


def calendar_evidence(t: np.ndarray, lines: np.ndarray, blocks: np.ndarray, ins: np.ndarray, closed: _Closed,
                      interval_min: int = 1) -> Evidence:
    """Presence and absence evidence of bars at UTC open times ``t`` (int64 us, sorted).

    ``blocks`` numbers contiguous stretches of the file (a sampled big file has several; no gap is
    read across two of them); ``ins`` is the in-session mask of ``t``."""
    ev = Evidence(in_session=float(ins.mean()) if len(ins) else 0.0)
    if len(t) < 2:
        return ev
    iv = interval_min * _MIN_US
    cuts = np.flatnonzero(np.diff(blocks)) + 1
    fits: list[float] = []
    for i0, i1 in zip(np.concatenate([[0], cuts]), np.concatenate([cuts, [len(t)]])):
        bt, bl = t[i0:i1], lines[i0:i1]
        if len(bt) < 2:
            continue
        first, last = bt[0], bt[-1]
        # closures inside the span: bars on both sides of them
        k0 = np.searchsorted(closed.c_start, first, side="right")
        k1 = np.searchsorted(closed.c_end, last, side="right")
        if k1 > k0:
            cs, ce = closed.c_start[k0:k1], closed.c_end[k0:k1]
            ok = cs < ce
            cs, ce = cs[ok], ce[ok]
            a, b = np.searchsorted(bt, cs, "left"), np.searchsorted(bt, ce, "left")
            n_in = b - a
            allowed = np.maximum(1, STRAY_SHARE * (ce - cs) / iv)
            matched = n_in <= allowed
            pre_i = np.searchsorted(bt, cs - iv, "left")
            pre = (pre_i < len(bt)) & (bt[np.clip(pre_i, 0, len(bt) - 1)] == cs - iv)
            post = (b < len(bt)) & (bt[np.clip(b, 0, len(bt) - 1)] == ce)
            fit = np.where(matched, 0.5 + 0.25 * pre + 0.25 * post, 0.0)
            fits.extend(fit.tolist())
            ev.tested += len(cs)
            ev.matched += int(matched.sum())
            ev.exact_edges += int((pre & matched).sum() + (post & matched).sum())
            last_before = np.clip(a - 1, 0, len(bt) - 1)
            first_after = np.clip(b, 0, len(bt) - 1)
            for j in np.flatnonzero(matched)[:50]:
                gap = int((bt[first_after[j]] - bt[last_before[j]] - iv) // _MIN_US)
                ev.matches.append((int(bl[last_before[j]]), int(cs[j]), int(ce[j]), gap, int(pre[j]) + int(post[j])))
        # gaps of the file
        d = np.diff(bt)
        g = np.flatnonzero(d >= iv + GAP_MIN * _MIN_US)
        if len(g):
            ga, gb = bt[g] + iv, bt[g + 1]
            opened = closed.open_before(gb) - closed.open_before(ga)
            length = gb - ga
            shut = length - opened
            ev.gaps += len(g)
            ev.explained += int((2 * shut >= length).sum())
            ev.inside += int((shut <= 0).sum())
    if fits:
        ev.closure_fit = float(np.mean(fits))
    return ev


def _closure_kind(cs: int, ce: int) -> str:
    minutes = (ce - cs) / _MIN_US
    if minutes <= 180:
        return "daily halt"
    if minutes >= 40 * 60:
        start = dt.datetime.fromtimestamp(cs / 1e6, dt.UTC).astimezone(_ET)
        return "weekend" if start.weekday() >= 4 else "holiday closure"
    return "overnight close" if minutes <= 24 * 60 else "holiday closure"


def _et_clock(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).astimezone(_ET).strftime("%H:%M")


def _label(tz: str, stamp: str) -> str:
    return f"{tz} ({stamp} stamps)"


# ----------------------------------------------------------------------------- scoring
def _sample(parsed: ParsedExport) -> tuple[ParsedExport, np.ndarray]:
    """Up to ten evenly spread blocks of rows, and the first line number of each block."""
    n = parsed.rows.height
    if n <= _BLOCK * _BLOCKS:
        return parsed, np.array([parsed.rows["line"][0]] if n else [0], dtype=np.int64)
    starts = np.linspace(0, n - _BLOCK, _BLOCKS).astype(int)
    idx = np.concatenate([np.arange(s, s + _BLOCK) for s in starts])
    first_lines = parsed.rows["line"].gather(starts).to_numpy().astype(np.int64)
    return ParsedExport(parsed.name, parsed.format, parsed.separator, parsed.decimal_comma,
                        parsed.rows_read, parsed.rows[idx], list(parsed.notes)), first_lines


def calendar_fit(bars: pl.DataFrame, calendar: SessionCalendar,
                 ins: pl.Series | None = None) -> tuple[float, float, pl.Series]:
    """(in_session share, edge_fit share, in_session mask) of bars placed in UTC (one block).

    ``ins`` (the in-session mask) may be given when it was computed already."""
    if bars.height == 0:
        return 0.0, 0.0, pl.Series(dtype=pl.Boolean)
    if ins is None:
        ins = calendar.label(bars["datetime"])["in_session"]
    t = bars["datetime"].to_numpy().astype("datetime64[us]").astype("int64")
    closed = _Closed.build(calendar, bars["datetime"].min(), bars["datetime"].max())
    ev = calendar_evidence(t, np.arange(len(t)), np.zeros(len(t), dtype=np.int64), ins.to_numpy(), closed)
    return ev.in_session, ev.edge_fit, ins


def match_count(bars: pl.DataFrame, master: pl.DataFrame, tick: float, shift_min: int = 0) -> tuple[int, int]:
    """(bars sharing a time with the master, of which OHLC all within one tick)."""
    b = bars.select("datetime", *_PRICES)
    if shift_min:
        b = b.with_columns(pl.col("datetime") + pl.duration(minutes=shift_min))
    j = b.join(master.select("datetime", *(pl.col(c).alias(f"m_{c}") for c in _PRICES)), on="datetime")
    if j.height == 0:
        return 0, 0
    tol = tick * 1.0001
    ok = pl.all_horizontal([(pl.col(c) - pl.col(f"m_{c}")).abs() <= tol for c in _PRICES])
    return j.height, int(j.select(ok.sum()).item())


def shape_stats(bars: pl.DataFrame, master: pl.DataFrame) -> tuple[int, float | None, float | None, float | None]:
    """(overlapping bars, shape correlation, median offset, median |diff - offset|) of closes.

    Shape = correlation of the bar-to-bar changes of both closes over the shared minutes; None with
    fewer than :data:`MIN_OVERLAP` shared bars or flat prices."""
    j = bars.select("datetime", "close").join(master.select("datetime", pl.col("close").alias("m")),
                                               on="datetime").sort("datetime")
    if j.height == 0:
        return 0, None, None, None
    diff = j["close"] - j["m"]
    offset = float(diff.median())
    spread = float((diff - offset).abs().median())
    if j.height < MIN_OVERLAP:
        return j.height, None, offset, spread
    a = j["close"].diff().drop_nulls().to_numpy()
    b = j["m"].diff().drop_nulls().to_numpy()
    if a.std() == 0 or b.std() == 0:
        return j.height, None, offset, spread
    return j.height, float(np.corrcoef(a, b)[0, 1]), offset, spread


def rank_zones(parsed: ParsedExport, calendar: SessionCalendar, *, configured_tz: str,
               master: pl.DataFrame | None = None, tick: float = 0.25,
               interval: str | None = None) -> list[ZoneScore]:
    """Score every candidate (zone, stamp) and return them best first.

    Parameters
    ----------
    parsed : ParsedExport
    calendar : SessionCalendar
        The instrument's session calendar.
    configured_tz : str
        The instrument's (or given) zone, added to the candidates.
    master : DataFrame, optional
        Existing 1m bars (canonical); used for ``shape`` and ``match_rate`` where they overlap.
    tick : float
        Price tolerance for a match.
    interval : str, optional
        Bar interval (``1m``), inferred when None.
    """
    return _rank(parsed, calendar, configured_tz=configured_tz, master=master, tick=tick, interval=interval)[0]


def _place_all(sample: ParsedExport, configured_tz: str, interval: str | None) -> dict[tuple[str, str], Placed | None]:
    """The sample placed in every candidate (zone, stamp); None where the zone cannot be it."""
    zones = list(dict.fromkeys([*CANDIDATE_ZONES, configured_tz]))
    stamps = ("open",) if sample.is_tick else ("close", "open")
    placed: dict[tuple[str, str], Placed | None] = {}
    for tz in zones:
        for st in stamps:
            try:
                placed[(tz, st)] = to_bars(sample, tz, stamp=st, interval=interval)
            except InputError:  # non-existent local times in this zone: it cannot be the zone
                placed[(tz, st)] = None
    return placed


def _rank(parsed: ParsedExport, calendar: SessionCalendar, *, configured_tz: str,
          master: pl.DataFrame | None, tick: float, interval: str | None):
    sample, block_lines = _sample(parsed)
    placed = _place_all(sample, configured_tz, interval)
    # one calendar lookup for every candidate (the session table is built once)
    real = [(k, p.bars) for k, p in placed.items() if p is not None and p.bars.height]
    masks: dict[tuple[str, str], np.ndarray] = {}
    closed = None
    if real:
        allt = pl.concat([b["datetime"] for _, b in real])
        lab = calendar.in_session(allt)
        closed = _Closed.build(calendar, allt.min(), allt.max())
        off = 0
        for k, b in real:
            masks[k] = lab[off:off + b.height]
            off += b.height
    lo = hi = None
    use_match = False
    if master is not None and master.height:
        lo, hi = master["datetime"].min(), master["datetime"].max()
        use_match = any(b.filter(pl.col("datetime").is_between(lo, hi)).height >= MIN_OVERLAP for _, b in real)
        if use_match and master.height > 2 * sum(b.height for _, b in real):
            # a master much larger than the sample: one pass keeps only the minutes some candidate uses
            keys = pl.concat([b["datetime"] for _, b in real]).unique().to_frame("datetime")
            master = master.join(keys, on="datetime", how="semi")
    fits: dict[tuple[str, str], tuple[Evidence, float | None, float | None, float | None]] = {}
    for key, p in placed.items():
        if p is None or p.bars.height == 0:
            fits[key] = (Evidence(), 0.0 if use_match else None, None, None)
            continue
        bars = p.bars
        t = bars["datetime"].to_numpy().astype("datetime64[us]").astype("int64")
        lines = p.lines.to_numpy().astype(np.int64)
        blocks = np.searchsorted(block_lines, lines, side="right") - 1
        ev = calendar_evidence(t, lines, blocks, masks[key], closed, p.interval_minutes)
        mr = shape = offset = None
        if use_match:
            inrange = bars.filter(pl.col("datetime").is_between(lo, hi))
            m = master.filter(pl.col("datetime").is_between(inrange["datetime"].min(), inrange["datetime"].max())) \
                if inrange.height else master.head(0)
            _, good = match_count(inrange, m, tick) if inrange.height else (0, 0)
            mr = good / inrange.height if inrange.height else 0.0
            _, shape, offset, _ = shape_stats(inrange, m)
        fits[key] = (ev, mr, shape, offset)
    best_shape = max(((f[2] or 0.0) for f in fits.values()), default=0.0)
    out = []
    for (tz, st), (ev, mr, shape, offset) in fits.items():
        cal = ev.calendar
        score = cal
        if best_shape >= SHAPE_DECIDES:  # the overlap decides
            score = 0.25 * cal + 0.75 * max(shape or 0.0, 0.0) / best_shape
        out.append(ZoneScore(tz, st, score, ev.in_session, ev.edge_fit, mr, cal, ev.tested, ev.matched,
                             ev.gaps, ev.explained, ev.inside, shape, offset))
    out.sort(key=lambda z: (-round(z.score, 9), z.tz != configured_tz, z.stamp != "close"))
    evidence = {k: f[0] for k, f in fits.items()}
    return out, masks, sample is not parsed, evidence, best_shape >= SHAPE_DECIDES


def zone_reason(ranking: list[ZoneScore], evidence: dict[tuple[str, str], Evidence], by_overlap: bool) -> str:
    """Why the best candidate wins, in words (``the 60-minute gap at 17:00 ET matches the daily
    halt only in UTC (close stamps)``)."""
    if not ranking:
        return ""
    best = ranking[0]
    if by_overlap:
        others = [z for z in ranking[1:] if (z.shape or 0) >= SHAPE_DECIDES * (best.shape or 1)]
        tail = f"; also {', '.join(_label(z.tz, z.stamp) for z in others)}" if others else ""
        return (f"the overlap with the master moves bar by bar with the file (shape {best.shape:.3f}) only in "
                f"{_label(best.tz, best.stamp)}{tail}")
    ev = evidence.get((best.tz, best.stamp))
    if ev is None or not ev.matches:
        if ev is not None and ev.explained:
            return f"{ev.explained} of the file's {ev.gaps} gap(s) of {GAP_MIN}+ minutes fall on scheduled closures in {_label(best.tz, best.stamp)}"
        return ("no scheduled closure, gap or session edge lies inside this window and it does not overlap the "
                "master: the calendar cannot tell the zone (undecided)")
    line, cs, ce, gap, exact = max(ev.matches, key=lambda m: (m[4], -(m[2] - m[1])))
    same = [z for z in ranking[1:]
            if any(m[0] == line and m[4] >= exact for m in evidence.get((z.tz, z.stamp), Evidence()).matches)]
    where = "only in " + _label(best.tz, best.stamp) if not same else \
        "in " + ", ".join(_label(z.tz, z.stamp) for z in [best, *same])
    return (f"the {gap}-minute gap at {_et_clock(cs)} ET matches the {_closure_kind(cs, ce)} {where}; "
            f"{ev.matched} of {ev.tested} scheduled closure(s) in the window empty, {ev.inside} gap(s) inside sessions")


def overlap_stats(bars: pl.DataFrame, master: pl.DataFrame | None, tick: float) -> Overlap:
    """Overlap bars, match rate within one tick, best whole-minute shift, median volume ratio, and
    the shape / constant offset that tell another contract month."""
    if master is None or master.height == 0 or bars.height == 0:
        return Overlap()
    lo, hi = bars["datetime"].min(), bars["datetime"].max()
    m = master.filter(pl.col("datetime").is_between(lo - _day(), hi + _day()))
    # one join for the match rate, the volume ratio and the shape
    j = bars.select("datetime", *_PRICES, "volume").join(
        m.select("datetime", *(pl.col(c).alias(f"m_{c}") for c in (*_PRICES, "volume"))), on="datetime")
    n = j.height
    if n == 0:
        return Overlap()
    tol = tick * 1.0001
    good = int(j.select(pl.all_horizontal([(pl.col(c) - pl.col(f"m_{c}")).abs() <= tol for c in _PRICES]).sum()
                        ).item())
    vol = j.filter(pl.col("m_volume") > 0)
    ratio = float((vol["volume"] / vol["m_volume"]).median()) if vol.height else None
    _, shape, offset, spread = shape_stats(j.select("datetime", "close"),
                                           j.select("datetime", pl.col("m_close").alias("close")))
    contract_offset = None
    if (n >= MIN_OVERLAP and good / n < MATCH_OK and shape is not None and shape >= CONTRACT_SHAPE
            and offset is not None and abs(offset) >= 2 * tick
            and spread is not None and spread <= max(2 * tick, 0.25 * abs(offset))):
        contract_offset = round(offset / tick) * tick
    sub = bars if bars.height <= 20_000 else bars.sample(20_000, seed=0).sort("datetime")
    if contract_offset is not None:  # compare the other contract at its own level
        sub = sub.with_columns(*(pl.col(c) - contract_offset for c in _PRICES))
    if good / n >= MATCH_OK:  # aligned as placed: no other shift can do better
        return Overlap(n, good / n, 0, ratio, shape, offset, spread, contract_offset)
    shifts = sorted(set(range(-15, 16)) | {60 * h + d for h in range(-14, 15) for d in (-1, 0, 1)})
    best, best_good = 0, -1
    for s in shifts:
        _, g = match_count(sub, m, tick, s)
        if g > best_good or (g == best_good and abs(s) < abs(best)):
            best, best_good = s, g
    return Overlap(n, good / n, best, ratio, shape, offset, spread, contract_offset)


def _day():
    return dt.timedelta(days=1)


# ----------------------------------------------------------------------------- verify
def verify_parsed(parsed: ParsedExport, calendar: SessionCalendar, *, tz: str, stamp: str = "close",
                  interval: str | None = None, master: pl.DataFrame | None = None,
                  tick: float = 0.25, zone_origin: str = "given") -> tuple[VerifyReport, Placed]:
    """Place the bars in ``tz`` / ``stamp``, rank the zones, compare with the master, check prices.

    Parameters
    ----------
    parsed : ParsedExport
    calendar : SessionCalendar
    tz, stamp, interval
        Where and how the export's stamps are read.
    master : DataFrame, optional
        The stored bars of the target file.
    tick : float
    zone_origin : {"given", "remembered", "default"}
        Where ``tz`` came from. A window the calendar cannot decide (no closure, gap or overlap)
        passes with a note for a given or remembered zone and fails for a mere default.

    Returns the report and the placed bars (so import does not parse twice). Writes nothing.
    """
    if zone_origin not in ZONE_ORIGINS:
        raise InputError(f"zone_origin {zone_origin!r} not understood; expected one of {ZONE_ORIGINS}",
                         field="zone_origin")
    placed = to_bars(parsed, tz, stamp=stamp, interval=interval)
    bars = placed.bars
    stamp_used = "date" if parsed.is_daily else ("open" if parsed.is_tick else stamp)
    notes: list[str] = list(parsed.notes)
    if placed.interval_inferred:
        notes.append(f"interval inferred from the data: {placed.interval_minutes}m")
    decision, reason = "n/a", ""
    if parsed.is_daily:
        ranking: list[ZoneScore] = []
        outside = 0
        notes.append("daily bars are labelled by date: zone detection does not apply")
    elif parsed.zone_known:  # TradingView times carry their UTC offset
        ranking, outside = [], 0
        if bars.height:
            outside = bars.height - calendar.count_in_session(bars["datetime"])
        notes.append(f"the file's times carry their zone ({parsed.zone}, bar open times): "
                     "zone detection does not apply")
    else:
        ranking, masks, sampled, evidence, by_overlap = _rank(parsed, calendar, configured_tz=tz, master=master,
                                                              tick=tick, interval=interval)
        mask = masks.get((tz, stamp_used))
        if sampled or mask is None or len(mask) != bars.height:
            outside = bars.height - calendar.count_in_session(bars["datetime"])
        else:
            outside = int(bars.height - mask.sum())
        decision = "overlap" if by_overlap else ("decided" if ranking and ranking[0].decided else "undecided")
        reason = zone_reason(ranking, evidence, by_overlap)
    ov = overlap_stats(bars, None if parsed.is_daily else master, tick)
    contract = contract_from_name(parsed.name)
    price = check_levels(bars, master, timeframe="1d" if parsed.is_daily else "1m", tick=tick,
                         roll_offset=ov.contract_offset, what=parsed.name)
    if ov.contract_offset is not None:
        ov = Overlap(**{**asdict(ov), "contract": str(contract) if contract else None})
        notes.append(f"the overlap is another contract month{f' ({contract})' if contract else ''}: same "
                     f"timing and shape (shape {ov.shape:.3f}), prices {ov.contract_offset:+g} points from the "
                     f"master's; the import switches contract once at the roll (no back-adjustment)")
    verdict, msg = _verdict(bars, ranking, ov, tz, stamp_used, placed.interval_minutes, decision, reason,
                            zone_origin, price)
    if verdict == "FAIL" and price.level_refused and "price sanity" not in msg:
        msg += f" Price sanity refuses these bars too: {price.message}."
    if verdict == "SUCCESS" and decision == "undecided":
        notes.append(f"zone undecided: {reason}; using the {zone_origin} zone {_label(tz, stamp_used)}")
    rep = VerifyReport(
        verdict, msg, tz, stamp_used, placed.interval_minutes, placed.interval_inferred, parsed.format,
        parsed.rows_read, bars.height, placed.rejects, ranking, ov,
        bars["datetime"].min() if bars.height else None, bars["datetime"].max() if bars.height else None,
        outside, notes, decision, reason, zone_origin, price, str(contract) if contract else None)
    log.info("verify %s tz=%s stamp=%s: %s", parsed.name, tz, stamp_used, msg)
    return rep, placed


def _verdict(bars: pl.DataFrame, ranking: list[ZoneScore], ov: Overlap, tz: str, stamp: str,
             minutes: int, decision: str = "decided", reason: str = "", origin: str = "given",
             price: PriceCheck | None = None) -> tuple[str, str]:
    if bars.height == 0:
        return "FAIL", "FAIL: no valid bars in the file (every row was rejected)."
    if minutes != 1 and stamp != "date":
        return "FAIL", f"FAIL: bars are {minutes}-minute bars; the master holds 1-minute bars (export 1 Minute)."
    why = f": {reason}" if reason else ""
    if ranking:
        best = ranking[0]
        mine = next((z for z in ranking if z.tz == tz and z.stamp == stamp), None)
        tied = mine is not None and best.score - mine.score < MARGIN
        if decision == "undecided" and tied:
            if origin == "default":
                return "FAIL", ("FAIL: the zone cannot be decided from this window: it holds no session edge, "
                                "scheduled break or gap and does not overlap the master; give the export's zone "
                                "with --tz (e.g. --tz UTC) and --stamp.")
        elif mine is None or (best.tz, best.stamp) != (tz, stamp):
            got = f"{mine.score:.3f}" if mine else "n/a"
            return "FAIL", (f"FAIL: the bars fit {best.tz} with {best.stamp} stamps (score {best.score:.3f}), "
                            f"not the given {tz} with {stamp} stamps (score {got}){why}; "
                            f"re-run with --tz \"{best.tz}\" --stamp {best.stamp}.")
        elif len(ranking) > 1 and best.score - ranking[1].score < MARGIN:
            nxt = ranking[1]
            return "FAIL", (f"FAIL: cannot tell {tz} ({stamp}) from {nxt.tz} ({nxt.stamp}) apart "
                            f"(scores {best.score:.3f} vs {nxt.score:.3f}); too little data to confirm the zone.")
    # after the zone: bars placed in a wrong zone are compared with the wrong minutes
    if price is not None and not price.ok:
        return "FAIL", f"FAIL: price sanity: {price.message}."
    if ov.bars >= MIN_OVERLAP and (ov.match_rate or 0) < MATCH_OK and ov.contract_offset is None:
        shift = f"; best whole-minute shift is {ov.best_shift_minutes:+d} min" if ov.best_shift_minutes else ""
        return "FAIL", (f"FAIL: only {ov.match_rate:.1%} of {ov.bars} overlapping bars match the master "
                        f"within one tick{shift}.")
    return "SUCCESS", "SUCCESS: Data is aligned."
