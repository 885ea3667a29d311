"""The quiet-minute model: how likely an expected minute is to have had no trade (SPEC 5 ``quiet``).

A NinjaTrader minute file prints a bar only for minutes with at least one trade, so in thin hours a
missing minute is usually not missing data. The model is learned from the instrument's own bars:

* **Clock buckets.** Every expected minute gets a bucket ``(era, ET minute of the week)``; eras are
  the calendar's schedule eras (:func:`datamgr.calendar.sessions.era_of`). Per bucket, pooled over
  the ``window`` neighbouring clock minutes on each side (a few weeks give too few sessions per
  single minute), the model counts the sessions in which the minute is absent in a run of at most
  ``long`` minutes (a longer run is an outage or a schedule gap, not evidence of thin trading);
  and, per single clock minute (not pooled: pooling across the cash open or close would lend a
  thin minute its liquid neighbours' volume), the mean volume per expected minute (absent = 0).
* **Trade rate.** Trades are taken as a Poisson process: a bucket whose minute is absent in a share
  ``a`` of the sessions has a rate ``-ln a`` (``a`` smoothed as ``(absent + 0.5) / (n + 1)``).
  Where absences are too rare to measure, the rate follows the bucket's volume through one factor
  per instrument, ``c`` = trades per unit of volume, calibrated as the median of ``-ln a / volume``
  over the buckets whose share of absences in runs of at most ``short`` minutes is measurable
  (2 %..90 %, at least 20 samples); capped at 1
  (a trade is at least one contract or share), and 1 when nothing can be calibrated. The bucket
  rate is ``max(-ln a, c * volume) / m``, where ``m`` >= 1 is the bucket's over-dispersion: the
  mean length of its tradeless runs over the ``1 / (1 - a)`` that independent minutes would give.
  Tradeless minutes come in clusters in real thin markets, so a run of ``L`` minutes holds about
  ``L / m`` independent chances, not ``L``.
* **Volume around the gap.** The rate of each missing minute is scaled by ``r`` = volume of the
  ``around`` expected minutes before the gap / what the buckets expect there, or the same after
  the gap, whichever is smaller (a back-month contract, a holiday afternoon or a thin night trade
  far less than usual, and the model follows; when activity changes across the gap, e.g. a news
  burst right after it, the quieter side describes the gap's minutes). ``r`` is 1 when neither
  side has expected minutes.
* **p_no_trade** of a gap = ``exp(-sum of its minutes' rates)``: the probability that all its
  minutes were tradeless. A gap is ``quiet`` when ``p_no_trade >= threshold``; a long run of
  individually likely minutes is jointly improbable and stays a hole, and so does a single minute
  of a liquid hour (its rate is far above ``-ln threshold``).

Everything is numpy over the expected minutes (``bincount`` and cumulative sums): no loop over
sessions or gaps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

WEEK = 7 * 1440
# 1970-01-01 (minute 0 of the epoch) was a Thursday: + 3 days puts Monday 00:00 at minute 0
_EPOCH_SHIFT = 3 * 1440


@dataclass(frozen=True)
class QuietModel:
    """Parameters of the quiet-minute model (module docstring).

    Attributes
    ----------
    threshold : float
        A gap is ``quiet`` when its ``p_no_trade`` is at least this.
    window : int
        Clock minutes pooled on each side of a bucket.
    around : int
        Expected minutes on each side of a gap whose volume is compared with the buckets'.
    short, long : int
        Absences in runs of at most ``long`` minutes count as evidence of tradeless minutes
        (longer runs are outages or schedule gaps, and would teach the model that a hole's clock
        minutes are quiet); the volume calibration ``c`` uses runs of at most ``short`` minutes
        only (a planted 7-minute hole must not teach that 10 lots a minute is thin).
    """

    threshold: float = 0.001
    window: int = 7
    around: int = 10
    short: int = 5
    long: int = 60

    def __post_init__(self) -> None:
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold {self.threshold!r}: expected a probability strictly between 0 and 1")
        if self.window < 0 or self.around < 1:
            raise ValueError(f"window {self.window!r} / around {self.around!r}: expected window >= 0, around >= 1")


@dataclass(frozen=True)
class MinuteRates:
    """Per expected minute (in expected order): the model's trade rate and the bucket's volume."""

    rate: np.ndarray      # float64: Poisson trade rate of the minute's bucket
    typical: np.ndarray   # float64: mean volume per expected minute of the bucket
    volume: np.ndarray    # float64: this minute's volume (0 when absent)
    calibration: float    # trades per unit of volume (c)


def minute_rates(local_minute: np.ndarray, era: np.ndarray, present: np.ndarray, volume: np.ndarray,
                 model: QuietModel = QuietModel()) -> MinuteRates:
    """Learn the bucket rates from the expected minutes of one file.

    Parameters
    ----------
    local_minute : ndarray of int64
        ET wall-clock minute since the epoch of each expected minute.
    era : ndarray of int
        Era index (0-based) of each expected minute.
    present : ndarray of bool
        Whether the minute has a bar.
    volume : ndarray of float
        The bar's volume (0 where absent).
    model : QuietModel

    Returns
    -------
    MinuteRates
    """
    n_era = int(era.max()) + 1 if len(era) else 1
    mow = (local_minute + _EPOCH_SHIFT) % WEEK
    key = era.astype(np.int64) * WEEK + mow
    size = n_era * WEEK
    n_raw = np.bincount(key, minlength=size).astype(np.float64)
    n = _pool(n_raw, n_era, model.window)
    counted = _short_absences(present, model.long)
    absent = _pool(np.bincount(key, weights=counted.astype(np.float64), minlength=size), n_era, model.window)
    first = counted & ~np.concatenate(([False], counted[:-1]))  # first minute of each counted run
    runs = _pool(np.bincount(key, weights=first.astype(np.float64), minlength=size), n_era, model.window)
    short = _pool(np.bincount(key, weights=_short_absences(present, model.short).astype(np.float64),
                              minlength=size), n_era, model.window)
    vol_raw = np.bincount(key, weights=volume, minlength=size)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (absent + 0.5) / (n + 1.0)
        # the bucket's own volume, not pooled: pooling across the cash open or close would lend a
        # thin minute the volume of its liquid neighbours
        typical = np.where(n_raw > 0, vol_raw / np.maximum(n_raw, 1.0), 0.0)
        lam_abs = -np.log(share)
        s_share = short / np.maximum(n, 1)
        ok = (n >= 20) & (s_share >= 0.02) & (s_share <= 0.9) & (typical > 0)
        c = float(np.median(-np.log(s_share[ok]) / typical[ok])) if ok.any() else 1.0
    c = min(c, 1.0)
    # over-dispersion: mean run length observed / expected of independent minutes (1 / (1 - a))
    cluster = np.maximum(absent / np.maximum(runs, 1.0) * (1.0 - np.minimum(share, 0.999)), 1.0)
    rate = np.maximum(lam_abs, c * typical) / cluster
    return MinuteRates(rate[key], typical[key], volume.astype(np.float64), c)


def _short_absences(present: np.ndarray, short: int) -> np.ndarray:
    """Absent minutes that belong to runs of at most ``short`` consecutive absent minutes."""
    d = np.diff(np.concatenate(([0], (~present).astype(np.int8), [0])))
    a, b = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    keep = (b - a) <= short
    marks = np.zeros(len(present) + 1, dtype=np.int32)
    np.add.at(marks, a[keep], 1)
    np.add.at(marks, b[keep], -1)
    return np.cumsum(marks[:-1]) > 0


def _pool(a: np.ndarray, n_era: int, w: int) -> np.ndarray:
    """Sum over the ``w`` clock minutes on each side (wrapping around the week), per era."""
    if w == 0:
        return a
    grid = a.reshape(n_era, WEEK)
    ext = np.concatenate((grid[:, -w:], grid, grid[:, :w]), axis=1)
    cs = np.concatenate((np.zeros((n_era, 1)), np.cumsum(ext, axis=1)), axis=1)
    return (cs[:, 2 * w + 1:] - cs[:, : WEEK]).ravel()


def gap_p_no_trade(rates: MinuteRates, first: np.ndarray, last: np.ndarray,
                   model: QuietModel = QuietModel()) -> np.ndarray:
    """``p_no_trade`` of each gap given by its first and last expected-minute index (inclusive).

    Parameters
    ----------
    rates : MinuteRates
    first, last : ndarray of int64
        Positions of the gap's first and last minute in the expected sequence.
    model : QuietModel

    Returns
    -------
    ndarray of float64
    """
    if len(first) == 0:
        return np.zeros(0)
    n = len(rates.rate)
    cum_rate = np.concatenate(([0.0], np.cumsum(rates.rate)))
    cum_vol = np.concatenate(([0.0], np.cumsum(rates.volume)))
    cum_typ = np.concatenate(([0.0], np.cumsum(rates.typical)))
    k = model.around
    lo0, lo1 = np.maximum(first - k, 0), first
    hi0, hi1 = last + 1, np.minimum(last + 1 + k, n)
    ratio = np.minimum(_ratio(cum_vol, cum_typ, lo0, lo1), _ratio(cum_vol, cum_typ, hi0, hi1))
    ratio = np.where(np.isfinite(ratio), ratio, 1.0)
    lam = (cum_rate[last + 1] - cum_rate[first]) * ratio
    return np.exp(-lam)


def _ratio(cum_vol: np.ndarray, cum_typ: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Actual / typical volume over expected minutes ``[a, b)``; 1 where nothing is expected
    (a side past the file's range gives no evidence)."""
    actual, typical = cum_vol[b] - cum_vol[a], cum_typ[b] - cum_typ[a]
    ok = (typical > 0) & (b > a)
    return np.where(ok, actual / np.where(ok, typical, 1.0), np.inf)


def quiet_floor(model: QuietModel = QuietModel()) -> float:
    """The summed trade rate above which a gap is a hole (``-ln threshold``)."""
    return -math.log(model.threshold)
