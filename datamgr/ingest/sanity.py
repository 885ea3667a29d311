"""Price sanity of incoming bars against the stored master and within themselves (SPEC 6, 7).

A file at a tenth of the price, an ETF's prices fed into a futures master or a provider's bars
shifted by 1,000 points all parse and satisfy every bar invariant; only their *level* gives them
away. :func:`check_levels` compares the level of new bars with the master next to them:

``ratio``
    median close of the new bars / median close of the master bars they overlap (or of the
    nearest stored bars when they do not overlap). Outside [:data:`RATIO_LO`, :data:`RATIO_HI`]
    the file is refused whatever else is true: no contract roll moves a price by half.
``overlap offset``
    where both have a bar: the median of ``new close - stored close``. Beyond the bound (below)
    it is refused unless a contract roll explains it (same timing and bar-to-bar shape, constant
    offset: :func:`datamgr.ingest.ninjatrader.verify` finds that and passes ``roll_offset``).
``junction jump``
    no overlap: the jump between the stored bar next to the file and the file's first (or last)
    bar. Bound: :data:`K_1M` (30) median 1-minute ranges of the stored bars there (for daily and
    weekly bars :data:`K_DAILY` median ranges), at least 4 ticks; when the junction spans a closed
    period (more than 15 minutes for minute bars) at least :data:`CLOSED_SHARE` (5 %) of the level
    times the square root of the days elapsed (at least one), since a weekend, a quarterly roll
    or weeks without data legitimately move the price that much.
``within the file``
    consecutive bars whose close ratio leaves [0.5, 2], or (minute bars not more than 15 minutes
    apart) whose open jumps from the previous close by more than 30 of the file's median ranges.

Measured on the real exports (tests/ingest): MES 09-25 median 1m range 1.0 point, largest jump
between bars <= 15 min apart 4.25 points, largest across a weekend 60.75 (1.0 % of the level);
SPY 2011 at most 22 median ranges within 15 minutes. ``--force`` never overrides this check.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

log = logging.getLogger(__name__)

RATIO_LO, RATIO_HI = 0.5, 2.0
K_1M = 30.0
K_DAILY = 5.0
CLOSED_SHARE = 0.05
MIN_OVERLAP = 5
_NEAR = 390  # stored bars next to the junction used for its level and typical range
_SAME_SESSION_MIN = 15


@dataclass(frozen=True)
class PriceCheck:
    """Outcome of :func:`check_levels`; ``message`` names the numbers when refused."""

    ok: bool = True
    message: str = ""
    ratio: float | None = None
    offset: float | None = None
    jump: float | None = None
    bound: float | None = None
    median_range: float | None = None
    explained_by_roll: bool = False

    @property
    def level_refused(self) -> bool:
        """Refused on the level ratio alone (true whatever zone the bars are placed in)."""
        return not self.ok and self.ratio is not None and not RATIO_LO <= self.ratio <= RATIO_HI

    def to_json(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _fmt(x: float) -> str:
    return f"{x:,.6g}" if abs(x) < 1e5 else f"{x:,.0f}"


def _median_range(bars: pl.DataFrame, tick: float) -> float:
    if bars.height == 0:
        return 4 * tick
    m = _median_on_ticks(bars["high"], bars["low"], tick)
    mr = float(((bars["high"] - bars["low"]).median() if m is None else m) or 0.0)
    return max(mr, tick)


_MAX_TICKS = 1 << 20  # ranges counted per tick up to this many ticks


def _median_on_ticks(high: pl.Series, low: pl.Series, tick: float) -> float | None:
    """The median of ``high - low`` counted per whole tick, when every range is exactly a whole
    number of ticks and the two middle ranges are equal (then any median rule gives that value);
    None otherwise (the caller takes polars' median). No frame-sized temporaries."""
    if not tick > 0 or high.null_count() or low.null_count() or high.len() == 0:
        return None
    counts = np.zeros(1, dtype=np.int64)
    for h, lo in _pieces(high, low):
        r = h - lo
        k = np.rint(r / tick)
        if not ((k * tick == r).all() and (k >= 0).all()) or k.max(initial=0) >= _MAX_TICKS:
            return None  # off the tick grid, negative, NaN / inf or too wide: polars' median
        c = np.bincount(k.astype(np.int64))
        if len(c) > len(counts):
            c[:len(counts)] += counts
            counts = c
        else:
            counts[:len(c)] += c
    cum = np.cumsum(counts)
    n = int(cum[-1])
    lower = int(np.searchsorted(cum, (n - 1) // 2, side="right"))
    upper = int(np.searchsorted(cum, n // 2, side="right"))
    return lower * tick if lower == upper else None


def _bound(mr: float, timeframe: str, tick: float) -> float:
    k = K_1M if timeframe == "1m" else K_DAILY
    return max(k * mr, 4 * tick)


_CHUNK = 1 << 16  # rows per numpy pass of :func:`_steps` (its temporaries stay in the CPU cache)


def _pieces(close: pl.Series, open_: pl.Series):
    """Aligned (close, open) numpy pieces of at most :data:`_CHUNK` rows, in order; read in place
    from the columns' chunks when both are chunked alike (no copy of a whole column)."""
    if close.chunk_lengths() == open_.chunk_lengths():
        pairs = [(c.to_numpy(), o.to_numpy()) for c, o in zip(close.get_chunks(), open_.get_chunks())]
    else:
        pairs = [(close.to_numpy(), open_.to_numpy())]
    for c, o in pairs:
        for i in range(0, len(c), _CHUNK):
            yield c[i:i + _CHUNK], o[i:i + _CHUNK]


def _steps(close: pl.Series, open_: pl.Series, bound: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``k`` where ``close[k + 1] / close[k]`` leaves [RATIO_LO, RATIO_HI], and (with a
    ``bound``) where ``|open[k + 1] - close[k]|`` exceeds it; computed piece by piece."""
    bad: list[np.ndarray] = []
    cand: list[np.ndarray] = []
    start, last = 0, None
    for c, o in _pieces(close, open_):
        if len(c) == 0:
            continue
        if last is None:  # the first piece: steps from its own first row
            prev, nxt, nxt_open, k0 = c[:-1], c[1:], o[1:], start
        else:  # later pieces: the first step comes from the previous piece's last close
            prev, nxt, nxt_open, k0 = np.concatenate(([last], c[:-1])), c, o, start - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = nxt / prev
        bad.append(np.flatnonzero((ratio < RATIO_LO) | (ratio > RATIO_HI)) + k0)
        if bound is not None:
            cand.append(np.flatnonzero(np.abs(nxt_open - prev) > bound) + k0)
        last = c[-1]
        start += len(c)
    empty = np.zeros(0, dtype=np.intp)
    return (np.concatenate(bad) if bad else empty), (np.concatenate(cand) if cand else empty)


def _at(s: pl.Series, k: int) -> np.float64:
    """One value of a price column as numpy reads it (null: NaN)."""
    v = s[k]
    return np.float64(np.nan if v is None else v)


def check_within(bars: pl.DataFrame, *, timeframe: str, tick: float, what: str = "the file") -> PriceCheck:
    """Level breaks inside one set of bars (sorted by ``datetime``): ratio or jump beyond the bound."""
    if bars.height < 2:
        return PriceCheck()
    mr = _median_range(bars, tick)
    bound = _bound(mr, timeframe, tick)
    close_s, open_s = bars["close"], bars["open"]
    bad, cand = _steps(close_s, open_s, bound if timeframe == "1m" else None)
    t = bars["datetime"]
    if len(bad):
        k = int(bad[0])
        prev_k, close_k1 = _at(close_s, k), _at(close_s, k + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio_k = close_k1 / prev_k
        msg = (f"prices within {what} change level: close {_fmt(prev_k)} at {t[k]:%Y-%m-%d %H:%M} UTC "
               f"then {_fmt(close_k1)} at {t[k + 1]:%Y-%m-%d %H:%M} UTC (ratio {ratio_k:.3f}, "
               f"outside {RATIO_LO}-{RATIO_HI}); {len(bad)} such step(s)")
        return PriceCheck(False, msg, ratio=float(ratio_k), median_range=mr, bound=bound)
    if timeframe == "1m":
        if len(cand):
            us = t.to_numpy().astype("datetime64[us]").astype("int64")
            dtm = (us[cand + 1] - us[cand]) / 60e6
            cand = cand[dtm <= _SAME_SESSION_MIN]
        if len(cand):
            k = int(cand[0])
            prev_k, open_k1 = _at(close_s, k), _at(open_s, k + 1)
            jump_k = abs(open_k1 - prev_k)
            minutes = int((t[k + 1] - t[k]).total_seconds() // 60)
            msg = (f"prices within {what} jump {_fmt(jump_k)} points from close {_fmt(prev_k)} at "
                   f"{t[k]:%Y-%m-%d %H:%M} UTC to open {_fmt(open_k1)} {minutes} min later "
                   f"(bound {_fmt(bound)} = {K_1M:g} x median 1m range {_fmt(mr)}); {len(cand)} such jump(s)")
            return PriceCheck(False, msg, jump=float(jump_k), bound=bound, median_range=mr)
    return PriceCheck(median_range=mr, bound=bound)


def check_levels(new: pl.DataFrame, master: pl.DataFrame | None, *, timeframe: str, tick: float,
                 roll_offset: float | None = None, what: str = "the file") -> PriceCheck:
    """Is the level of ``new`` consistent with the ``master`` next to it (and with itself)?

    Parameters
    ----------
    new : DataFrame
        Incoming canonical bars, sorted by ``datetime``.
    master : DataFrame, optional
        The stored bars of the same file (canonical). None or empty: only the file itself is checked.
    timeframe : {"1m", "1d", "1w"}
    tick : float
        The instrument's tick size (floor of every bound: 4 ticks).
    roll_offset : float, optional
        A constant offset (new - stored, points) already recognised as a contract roll: an overlap
        at that offset is explained and only the ratio is checked.
    what : str
        How messages name the incoming bars (``"MES 12-25.Last.txt"``).

    Returns
    -------
    PriceCheck
        ``ok`` False with the numbers in ``message`` when refused.
    """
    if new.height == 0:
        return PriceCheck()
    own = check_within(new, timeframe=timeframe, tick=tick, what=what)
    if not own.ok or master is None or master.height == 0:
        return own
    t = pl.col("datetime")
    lo, hi = new["datetime"].min(), new["datetime"].max()
    ov = new.select("datetime", "close").join(master.select("datetime", pl.col("close").alias("m")), on="datetime")
    if ov.height >= MIN_OVERLAP:
        ref = master.filter(t.is_between(lo, hi))
        level_new, level_ref = float(ov["close"].median()), float(ov["m"].median())
        where = f"the {ov.height:,} overlapping stored bars"
    else:
        before = master.filter(t < lo).tail(_NEAR)
        after = master.filter(t > hi).head(_NEAR)
        if before.height == 0 and after.height == 0:
            ref = master.filter(t.is_between(lo, hi))
        else:
            # the nearer side: the file usually follows the master
            gap_b = (lo - before["datetime"].max()) if before.height else None
            gap_a = (after["datetime"].min() - hi) if after.height else None
            ref = before if (gap_a is None or (gap_b is not None and gap_b <= gap_a)) else after
        near_new = new.head(_NEAR) if ref.height and ref["datetime"].max() < lo else new.tail(_NEAR)
        level_new, level_ref = float(near_new["close"].median()), float(ref["close"].median())
        where = f"the stored bars next to it ({ref['datetime'].min():%Y-%m-%d} .. {ref['datetime'].max():%Y-%m-%d})"
    mr = _median_range(ref, tick) if ref.height else own.median_range or tick
    bound = _bound(mr, timeframe, tick)
    ratio = level_new / level_ref if level_ref else None
    unit = "1m" if timeframe == "1m" else timeframe
    if ratio is not None and not RATIO_LO <= ratio <= RATIO_HI:
        msg = (f"price level of {what} is {ratio:.3f} x {where}: median close {_fmt(level_new)} vs "
               f"{_fmt(level_ref)} (allowed ratio {RATIO_LO}-{RATIO_HI}): another instrument or another price scale")
        return PriceCheck(False, msg, ratio=ratio, median_range=mr, bound=bound)
    if ov.height >= MIN_OVERLAP:
        offset = float((ov["close"] - ov["m"]).median())
        if roll_offset is not None and abs(offset - roll_offset) <= bound:
            return PriceCheck(True, "", ratio, offset, None, bound, mr, explained_by_roll=True)
        if abs(offset) > bound:
            msg = (f"prices of {what} are {offset:+,.6g} points off {where} (median close {_fmt(level_new)} vs "
                   f"{_fmt(level_ref)}); bound {_fmt(bound)} = {K_1M if timeframe == '1m' else K_DAILY:g} x median "
                   f"{unit} range {_fmt(mr)}, and no contract roll explains it")
            return PriceCheck(False, msg, ratio, offset, None, bound, mr)
        return PriceCheck(True, "", ratio, offset, None, bound, mr)
    return _junction(new, master, bound, mr, ratio, timeframe, what)


def _junction(new: pl.DataFrame, master: pl.DataFrame, bound: float, mr: float, ratio: float | None,
              timeframe: str, what: str) -> PriceCheck:
    """No overlap: the stored bar next to the file against the file's first (or last) bar."""
    t = pl.col("datetime")
    lo, hi = new["datetime"].min(), new["datetime"].max()
    unit = "1m" if timeframe == "1m" else timeframe
    before = master.filter(t < lo).tail(1)
    after = master.filter(t > hi).head(1)
    checks = []
    if before.height:
        b = before.row(0, named=True)
        f = new.row(0, named=True)
        checks.append((abs(f["open"] - b["close"]), b["close"], b["datetime"], f["open"], f["datetime"]))
    if after.height:
        a = after.row(0, named=True)
        f = new.row(new.height - 1, named=True)
        checks.append((abs(a["open"] - f["close"]), f["close"], f["datetime"], a["open"], a["datetime"]))
    for jump, p0, t0, p1, t1 in checks:
        minutes = (t1 - t0).total_seconds() / 60
        limit = bound
        closed = timeframe != "1m" or minutes > _SAME_SESSION_MIN
        if closed:  # a weekend, a roll or weeks without data move prices: ~ sqrt(elapsed days)
            limit = max(bound, CLOSED_SHARE * min(p0, p1) * math.sqrt(max(1.0, minutes / 1440)))
        if jump > limit:
            why = (f"{CLOSED_SHARE:.0%} of the level x sqrt(days elapsed) across a closed period"
                   if closed and limit > bound
                   else f"{K_1M if timeframe == '1m' else K_DAILY:g} x median {unit} range {_fmt(mr)}")
            msg = (f"junction jump of {_fmt(jump)} points between {_fmt(p0)} at {t0:%Y-%m-%d %H:%M} UTC and "
                   f"{_fmt(p1)} at {t1:%Y-%m-%d %H:%M} UTC ({what} vs the stored bars) exceeds {_fmt(limit)} "
                   f"({why}), and no contract roll explains it")
            return PriceCheck(False, msg, ratio, None, jump, limit, mr)
    jump = max((c[0] for c in checks), default=None)
    return PriceCheck(True, "", ratio, None, jump, bound, mr)
