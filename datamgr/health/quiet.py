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
EPOCH_SHIFT = 3 * 1440


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
    """The learned model of one file: per bucket its trade rate and volume, per expected minute
    its bucket and volume."""

    key: np.ndarray       # int64 per expected minute: its bucket (era * WEEK + ET minute of week)
    rate: np.ndarray      # float64 per bucket: Poisson trade rate
    typical: np.ndarray   # float64 per bucket: mean volume per expected minute (absent = 0)
    volume: np.ndarray    # float64 per expected minute: its volume (0 when absent)
    calibration: float    # trades per unit of volume (c)


def minute_rates(key: np.ndarray, n_era: int, volume: np.ndarray, missing: np.ndarray,
                 model: QuietModel = QuietModel()) -> MinuteRates:
    """Learn the bucket rates from the expected minutes of one file.

    Parameters
    ----------
    key : ndarray of int64
        Bucket of each expected minute: ``era * WEEK + ET minute of the week`` (Monday 00:00 = 0;
        :func:`bucket_keys`).
    n_era : int
        Number of eras (buckets are ``n_era * WEEK``).
    volume : ndarray of float
        The bar's volume (0 where absent), per expected minute.
    missing : ndarray of int64
        Positions (sorted) of the expected minutes without a bar; only they are looked at one by
        one, so the cost is a few passes over the expected minutes plus the missing ones.
    model : QuietModel

    Returns
    -------
    MinuteRates
    """
    size = n_era * WEEK
    n_raw = np.bincount(key, minlength=size).astype(np.float64)
    vol_raw = np.bincount(key, weights=volume, minlength=size)
    n = _pool(n_raw, n_era, model.window)
    mkey = key[missing]
    rs, re_ = run_bounds(missing)
    length = re_ - rs + 1
    run_of = np.repeat(np.arange(len(rs)), length)
    counted = length[run_of] <= model.long
    brief = length[run_of] <= model.short

    def per_bucket(mask: np.ndarray, keys: np.ndarray = mkey) -> np.ndarray:
        return _pool(np.bincount(keys[mask], minlength=size).astype(np.float64), n_era, model.window)

    absent = per_bucket(counted)
    runs = per_bucket(length <= model.long, mkey[rs])
    short = per_bucket(brief)
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
    return MinuteRates(key, rate, typical, volume.astype(np.float64), c)


def bucket_keys(local_minute: np.ndarray, era: np.ndarray) -> np.ndarray:
    """Buckets of expected minutes from their ET wall-clock minute since the epoch and their era."""
    return era.astype(np.int64) * WEEK + (local_minute + EPOCH_SHIFT) % WEEK


def run_bounds(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indices, into ``positions``, of its runs of consecutive values."""
    if len(positions) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    brk = np.flatnonzero(np.diff(positions) != 1)
    return np.concatenate(([0], brk + 1)), np.concatenate((brk, [len(positions) - 1]))


def _pool(a: np.ndarray, n_era: int, w: int) -> np.ndarray:
    """Sum over the ``w`` clock minutes on each side (wrapping around the week), per era."""
    if w == 0:
        return a
    grid = a.reshape(n_era, WEEK)
    ext = np.concatenate((grid[:, -w:], grid, grid[:, :w]), axis=1)
    cs = np.concatenate((np.zeros((n_era, 1)), np.cumsum(ext, axis=1)), axis=1)
    return (cs[:, 2 * w + 1:] - cs[:, : WEEK]).ravel()


def gap_p_no_trade(rates: MinuteRates, missing: np.ndarray, rs: np.ndarray, re_: np.ndarray,
                   model: QuietModel = QuietModel()) -> np.ndarray:
    """``p_no_trade`` of each gap: a run ``missing[rs[i]] .. missing[re_[i]]`` of expected minutes.

    Parameters
    ----------
    rates : MinuteRates
    missing : ndarray of int64
        Positions of the missing minutes in the expected sequence (sorted).
    rs, re_ : ndarray of int64
        First and last index (inclusive) into ``missing`` of each gap (:func:`run_bounds`).
    model : QuietModel

    Returns
    -------
    ndarray of float64
    """
    if len(rs) == 0:
        return np.zeros(0)
    lam = np.add.reduceat(rates.rate[rates.key[missing]], rs)
    first, last = missing[rs], missing[re_]
    n = len(rates.key)
    k = model.around
    # the neighbourhoods of all gaps: at most 2 * around minutes each, never a full pass
    lo0, hi1 = np.maximum(first - k, 0), np.minimum(last + 1 + k, n)
    before = _window_sums(rates, lo0, first)
    after = _window_sums(rates, last + 1, hi1)
    ratio = np.minimum(_ratio(*before), _ratio(*after))
    ratio = np.where(np.isfinite(ratio), ratio, 1.0)
    return np.exp(-lam * ratio)


def _window_sums(rates: MinuteRates, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Actual and typical volume over expected minutes ``[a, b)`` of each window, and its length."""
    ln = np.maximum(b - a, 0)
    idx = np.repeat(a, ln) + (np.arange(int(ln.sum())) - np.repeat(np.cumsum(ln) - ln, ln))
    starts = np.concatenate(([0], np.cumsum(ln)[:-1]))
    vol = rates.volume[idx]
    typ = rates.typical[rates.key[idx]]
    nz = ln > 0
    actual = np.zeros(len(a))
    typical = np.zeros(len(a))
    if nz.any():
        actual[nz] = np.add.reduceat(vol, starts[nz])
        typical[nz] = np.add.reduceat(typ, starts[nz])
    return actual, typical, ln


def _ratio(actual: np.ndarray, typical: np.ndarray, length: np.ndarray) -> np.ndarray:
    """Actual / typical volume of a window; infinite (no evidence) where nothing is expected."""
    ok = (typical > 0) & (length > 0)
    return np.where(ok, actual / np.where(ok, typical, 1.0), np.inf)


def quiet_floor(model: QuietModel = QuietModel()) -> float:
    """The summed trade rate above which a gap is a hole (``-ln threshold``)."""
    return -math.log(model.threshold)
