"""Zone / stamp-convention detection and the verify report (SPEC 6).

Which zone an export was written in, and whether its stamps mark the bar's open or close, is
found from the data, never from the file name. For every candidate zone (UTC, Pacific, Central,
Eastern, the configured one) and both stamp conventions the bars are placed in UTC and scored:

``in_session``
    share of bars inside the calendar's sessions (:meth:`SessionCalendar.label`).
``edge_fit``
    share of *run edges* inside sessions. A run is a stretch of bars without a 30-minute hole;
    its first and last bar sit at a session open / close (or a halt) when the placement is right.
    Runs of fewer than 10 bars (weekend stray prints) are left out.
    A one-hour error on a 23-hour CME session moves only ~4 % of the bars out of session, but it
    puts one edge of nearly every run outside (the daily halt hour gets bars and the first hour
    after the open is empty); a one-minute (open vs close stamp) error puts the last bar of every
    session one minute past the close. So ``edge_fit`` drops to about 0.5 for a near miss
    while ``in_session`` barely moves.
``match_rate``
    where the master overlaps the file: share of bars in the master's range whose OHLC equal the
    master's within one tick.

``score = mean(in_session, edge_fit)``, averaged with ``match_rate / best match_rate`` when the
master overlaps at least :data:`MIN_OVERLAP` bars and some candidate matches (relative, so a file
of corrections that matches nowhere is judged by the calendar alone). Separately, a verdict FAILs
when fewer than 90 % of the overlapping bars match (``--force`` overrides). Verification fails unless the chosen (zone, stamp) ranks first by
at least :data:`MARGIN`. Large files are scored on up to ten evenly spread blocks of 20 000 rows.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core.errors import InputError
from datamgr.core.timefmt import to_et_iso
from datamgr.ingest.ninjatrader.parse import ParsedExport, Reject
from datamgr.ingest.ninjatrader.place import Placed, to_bars

log = logging.getLogger(__name__)

CANDIDATE_ZONES = ("UTC", "America/Los_Angeles", "America/Chicago", "America/New_York")
MARGIN = 0.02
MIN_OVERLAP = 20
RUN_GAP_MIN = 30
MIN_RUN = 10  # runs shorter than this are stray prints, not sessions
MATCH_OK = 0.9
_BLOCK, _BLOCKS = 20_000, 10
_PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class ZoneScore:
    """Fit of one (zone, stamp convention) candidate."""

    tz: str
    stamp: str
    score: float
    in_session: float
    edge_fit: float
    match_rate: float | None

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Overlap:
    """Comparison of the placed bars with the master where both have a bar."""

    bars: int = 0
    match_rate: float | None = None
    best_shift_minutes: int | None = None
    volume_ratio: float | None = None

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

    @property
    def ok(self) -> bool:
        return self.verdict == "SUCCESS"

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
        }


# ----------------------------------------------------------------------------- scoring
def _sample(parsed: ParsedExport) -> ParsedExport:
    n = parsed.rows.height
    if n <= _BLOCK * _BLOCKS:
        return parsed
    starts = np.linspace(0, n - _BLOCK, _BLOCKS).astype(int)
    idx = np.concatenate([np.arange(s, s + _BLOCK) for s in starts])
    return ParsedExport(parsed.name, parsed.format, parsed.separator, parsed.decimal_comma,
                        parsed.rows_read, parsed.rows[idx], list(parsed.notes))


def calendar_fit(bars: pl.DataFrame, calendar: SessionCalendar,
                 ins: pl.Series | None = None) -> tuple[float, float, pl.Series]:
    """(in_session share, edge_fit share, in_session mask) of bars placed in UTC.

    ``ins`` (the in-session mask) may be given when it was computed already."""
    if bars.height == 0:
        return 0.0, 0.0, pl.Series(dtype=pl.Boolean)
    if ins is None:
        ins = calendar.label(bars["datetime"])["in_session"]
    t = bars["datetime"]
    gap = pl.duration(minutes=RUN_GAP_MIN)
    edges = pl.DataFrame({"t": t, "ok": ins}).with_columns(
        ((pl.col("t") - pl.col("t").shift(1)) >= gap).fill_null(False).alias("start"),
        ((pl.col("t").shift(-1) - pl.col("t")) >= gap).fill_null(False).alias("end"),
    )
    edges = edges.with_columns((pl.col("start").cum_sum()).alias("run"))
    edges = edges.with_columns(pl.len().over("run").alias("run_len"))
    e = edges.filter((pl.col("start") | pl.col("end")) & (pl.col("run_len") >= MIN_RUN))
    edge = float(e["ok"].mean()) if e.height else float(ins.mean())
    return float(ins.mean()), edge, ins


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
        Existing 1m bars (canonical); used for ``match_rate`` where they overlap.
    tick : float
        Price tolerance for a match.
    interval : str, optional
        Bar interval (``1m``), inferred when None.
    """
    return _rank(parsed, calendar, configured_tz=configured_tz, master=master, tick=tick, interval=interval)[0]


def _rank(parsed: ParsedExport, calendar: SessionCalendar, *, configured_tz: str,
          master: pl.DataFrame | None, tick: float, interval: str | None):
    zones = list(dict.fromkeys([*CANDIDATE_ZONES, configured_tz]))
    stamps = ("open",) if parsed.is_tick else ("close", "open")
    sample = _sample(parsed)
    placed: dict[tuple[str, str], pl.DataFrame] = {}
    for tz in zones:
        for st in stamps:
            try:
                placed[(tz, st)] = to_bars(sample, tz, stamp=st, interval=interval).bars
            except InputError:  # non-existent local times in this zone: it cannot be the zone
                placed[(tz, st)] = None  # type: ignore[assignment]
    # one calendar lookup for every candidate (the session table is built once)
    real = [(k, b) for k, b in placed.items() if b is not None and b.height]
    masks: dict[tuple[str, str], pl.Series] = {}
    if real:
        lab = calendar.label(pl.concat([b["datetime"] for _, b in real]))["in_session"]
        off = 0
        for k, b in real:
            masks[k] = lab.slice(off, b.height)
            off += b.height
    use_match = False
    lo = hi = None
    if master is not None and master.height:
        lo, hi = master["datetime"].min(), master["datetime"].max()
        use_match = any(b is not None and b.filter(pl.col("datetime").is_between(lo, hi)).height >= MIN_OVERLAP
                        for b in placed.values())
    fits: dict[tuple[str, str], tuple[float, float, float | None]] = {}
    for key, bars in placed.items():
        if bars is None:
            fits[key] = (0.0, 0.0, 0.0 if use_match else None)
            continue
        ins, edge, _ = calendar_fit(bars, calendar, masks.get(key))
        mr = None
        if use_match:
            inrange = bars.filter(pl.col("datetime").is_between(lo, hi))
            _, good = match_count(inrange, master, tick) if inrange.height else (0, 0)
            mr = good / inrange.height if inrange.height else 0.0
        fits[key] = (ins, edge, mr)
    best_mr = max((f[2] or 0.0) for f in fits.values())
    out = []
    for (tz, st), (ins, edge, mr) in fits.items():
        score = (ins + edge) / 2
        if mr is not None and best_mr > 0:  # relative: a file of corrections matches nowhere
            score = (score + mr / best_mr) / 2
        out.append(ZoneScore(tz, st, score, ins, edge, mr))
    out.sort(key=lambda z: (-z.score, z.tz != configured_tz, z.stamp != "close"))
    return out, masks, sample is not parsed


def overlap_stats(bars: pl.DataFrame, master: pl.DataFrame | None, tick: float) -> Overlap:
    """Overlap bars, match rate within one tick, best whole-minute shift, median volume ratio."""
    if master is None or master.height == 0 or bars.height == 0:
        return Overlap()
    lo, hi = bars["datetime"].min(), bars["datetime"].max()
    m = master.filter(pl.col("datetime").is_between(lo - _day(), hi + _day()))
    n, good = match_count(bars, m, tick)
    if n == 0:
        return Overlap()
    vol = bars.select("datetime", "volume").join(m.select("datetime", pl.col("volume").alias("mv")),
                                                  on="datetime").filter(pl.col("mv") > 0)
    ratio = float((vol["volume"] / vol["mv"]).median()) if vol.height else None
    sub = bars if bars.height <= 20_000 else bars.sample(20_000, seed=0).sort("datetime")
    shifts = sorted(set(range(-15, 16)) | {60 * h + d for h in range(-14, 15) for d in (-1, 0, 1)})
    best, best_good = 0, -1
    for s in shifts:
        _, g = match_count(sub, m, tick, s)
        if g > best_good or (g == best_good and abs(s) < abs(best)):
            best, best_good = s, g
    return Overlap(n, good / n, best, ratio)


def _day():
    return dt.timedelta(days=1)


# ----------------------------------------------------------------------------- verify
def verify_parsed(parsed: ParsedExport, calendar: SessionCalendar, *, tz: str, stamp: str = "close",
                  interval: str | None = None, master: pl.DataFrame | None = None,
                  tick: float = 0.25) -> tuple[VerifyReport, Placed]:
    """Place the bars in ``tz`` / ``stamp``, rank the zones and compare with the master.

    Returns the report and the placed bars (so import does not parse twice). Writes nothing.
    """
    placed = to_bars(parsed, tz, stamp=stamp, interval=interval)
    bars = placed.bars
    stamp_used = "date" if parsed.is_daily else ("open" if parsed.is_tick else stamp)
    notes: list[str] = list(parsed.notes)
    if placed.interval_inferred:
        notes.append(f"interval inferred from the data: {placed.interval_minutes}m")
    if parsed.is_daily:
        ranking: list[ZoneScore] = []
        outside = 0
        notes.append("daily bars are labelled by date: zone detection does not apply")
    elif parsed.zone_known:  # TradingView times carry their UTC offset
        ranking, outside = [], 0
        if bars.height:
            outside = int(bars.height - calendar.label(bars["datetime"])["in_session"].sum())
        notes.append(f"the file's times carry their zone ({parsed.zone}, bar open times): "
                     "zone detection does not apply")
    else:
        ranking, masks, sampled = _rank(parsed, calendar, configured_tz=tz, master=master, tick=tick,
                                        interval=interval)
        mask = masks.get((tz, stamp_used))
        if sampled or mask is None or mask.len() != bars.height:
            mask = calendar.label(bars["datetime"])["in_session"] if bars.height else pl.Series([], dtype=pl.Boolean)
        outside = int(bars.height - mask.sum())
    ov = overlap_stats(bars, None if parsed.is_daily else master, tick)
    verdict, msg = _verdict(bars, ranking, ov, tz, stamp_used, placed.interval_minutes)
    rep = VerifyReport(
        verdict, msg, tz, stamp_used, placed.interval_minutes, placed.interval_inferred, parsed.format,
        parsed.rows_read, bars.height, placed.rejects, ranking, ov,
        bars["datetime"].min() if bars.height else None, bars["datetime"].max() if bars.height else None,
        outside, notes)
    log.info("verify %s tz=%s stamp=%s: %s", parsed.name, tz, stamp_used, msg)
    return rep, placed


def _verdict(bars: pl.DataFrame, ranking: list[ZoneScore], ov: Overlap, tz: str, stamp: str,
             minutes: int) -> tuple[str, str]:
    if bars.height == 0:
        return "FAIL", "FAIL: no valid bars in the file (every row was rejected)."
    if minutes != 1 and stamp != "date":
        return "FAIL", f"FAIL: bars are {minutes}-minute bars; the master holds 1-minute bars (export 1 Minute)."
    if ranking:
        best = ranking[0]
        mine = next((z for z in ranking if z.tz == tz and z.stamp == stamp), None)
        if mine is None or (best.tz, best.stamp) != (tz, stamp):
            got = f"{mine.score:.3f}" if mine else "n/a"
            return "FAIL", (f"FAIL: the bars fit {best.tz} with {best.stamp} stamps (score {best.score:.3f}), "
                            f"not the given {tz} with {stamp} stamps (score {got}); "
                            f"re-run with --tz \"{best.tz}\" --stamp {best.stamp}.")
        if len(ranking) > 1 and best.score - ranking[1].score < MARGIN:
            nxt = ranking[1]
            return "FAIL", (f"FAIL: cannot tell {tz} ({stamp}) from {nxt.tz} ({nxt.stamp}) apart "
                            f"(scores {best.score:.3f} vs {nxt.score:.3f}); too little data to confirm the zone.")
    if ov.bars >= MIN_OVERLAP and (ov.match_rate or 0) < MATCH_OK:
        shift = f"; best whole-minute shift is {ov.best_shift_minutes:+d} min" if ov.best_shift_minutes else ""
        return "FAIL", (f"FAIL: only {ov.match_rate:.1%} of {ov.bars} overlapping bars match the master "
                        f"within one tick{shift}.")
    return "SUCCESS", "SUCCESS: Data is aligned."
