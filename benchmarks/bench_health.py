"""Benchmark: continuity (gaps, classes with the quiet-minute model, per-day coverage) on an N-year
1m master vs naive pandas loops.

    python benchmarks/bench_health.py               # 18 years (2008-2025), ~6.3M bars
    python benchmarks/bench_health.py --years 2     # quick run

The master is generated with ``datamgr.ops.demo.make_demo_bars`` (CME Globex Equity calendar, all
three session eras) with holes planted every ~40 sessions, and thin nights: between 20:00 and 03:00
ET a minute has no trade (no bar) with probability ``--night-p`` (default 0.05: a known no-trade
model; 0.3 is a stress test with ~90 quiet gaps per session). Both approaches run
in the same process on the same frame, and must find the same number of missing minutes and
per-day counts.

Quiet model: ``continuity`` with the model (the default) vs without it (``model=None``, the floor:
gaps and coverage only) vs a naive per-session loop that learns the same clock buckets session by
session (pandas reindex per session, ``np.add.at`` per session) and then walks every missing run of
every session in Python to sum its minutes' rates.

Naive baseline: the way it is usually written -- for each session of the calendar, build the
expected minute index with ``pd.date_range`` (minus the break), ``reindex`` that day's bars onto
it, count the NaNs and walk the missing runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamgr.calendar import cache as calcache  # noqa: E402
from datamgr.calendar import sessions as calmod  # noqa: E402
from datamgr.calendar.sessions import get_calendar  # noqa: E402
from datamgr.health.gaps import continuity  # noqa: E402
from datamgr.health.quiet import WEEK, QuietModel  # noqa: E402
from datamgr.ops.demo import PlantedGap, make_demo_bars  # noqa: E402


def master(years: int, night_p: float = 0.05) -> tuple[pl.DataFrame, int]:
    end = dt.date(2025, 12, 31)
    start = dt.date(end.year - years + 1, 1, 2)
    cal = get_calendar("CME Globex Equity")
    sess = cal.sessions(start, end)
    rng = np.random.default_rng(0)
    gaps = []
    for i in range(5, sess.height, 40):  # building the test data, not the measured code
        o = sess["open"][i] + dt.timedelta(minutes=int(rng.integers(0, 600)))
        gaps.append(PlantedGap(o, o + dt.timedelta(minutes=int(rng.integers(1, 240)))))
    bars = make_demo_bars(start, end, seed=1)
    loc = bars["datetime"].dt.convert_time_zone("America/New_York")
    et_min = (loc.dt.hour().cast(pl.Int32) * 60 + loc.dt.minute().cast(pl.Int32)).to_numpy()
    night = (et_min >= 20 * 60) | (et_min < 3 * 60)
    keep = ~(night & (rng.random(bars.height) < night_p))  # building the test data, not the measured code
    return bars.filter(pl.Series(keep)), len(gaps)


def naive(bars: pd.DataFrame, sessions: pd.DataFrame) -> tuple[int, int, list[int]]:
    """Per-day Python loop: expected index per session, reindex, count NaN runs."""
    missing_total, n_gaps, per_day = 0, 0, []
    idx = bars.index
    for row in sessions.itertuples():
        if pd.isna(row.break_start):
            expected = pd.date_range(row.open, row.close, freq="1min", inclusive="left")
        else:
            expected = pd.date_range(row.open, row.break_start, freq="1min", inclusive="left").append(
                pd.date_range(row.break_end, row.close, freq="1min", inclusive="left"))
        lo, hi = idx.searchsorted(row.open), idx.searchsorted(row.close)
        day = bars.iloc[lo:hi].reindex(expected)
        miss = day["close"].isna().to_numpy()
        missing_total += int(miss.sum())
        per_day.append(int((~miss).sum()))
        d = np.diff(np.concatenate(([0], miss.astype(np.int8), [0])))
        n_gaps += int((d == 1).sum())
    return missing_total, n_gaps, per_day


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=18)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--night-p", type=float, default=0.05, help="no-trade probability of a night minute")
    args = ap.parse_args()

    t0 = time.perf_counter()
    bars, n_planted = master(args.years, args.night_p)
    first, last = bars["datetime"][0], bars["datetime"][-1]
    print(f"master: {bars.height:,} bars {first:%Y-%m-%d} .. {last:%Y-%m-%d} ({args.years} years), "
          f"generated in {time.perf_counter() - t0:.1f} s")
    # drop planted holes (every 40th session)
    sess = get_calendar("CME Globex Equity").sessions(first.date(), last.date())
    rng = np.random.default_rng(0)
    keep = np.ones(bars.height, bool)
    t = bars["datetime"].to_numpy().astype("datetime64[us]").astype("int64")
    for i in range(5, sess.height, 40):  # test data preparation
        o = sess["open"][i] + dt.timedelta(minutes=int(rng.integers(0, 600)))
        a = int(np.datetime64(o.replace(tzinfo=None), "us").astype("int64"))
        n = int(rng.integers(1, 240))
        keep[np.searchsorted(t, a):np.searchsorted(t, a + n * 60_000_000)] = False
    bars = bars.filter(pl.Series(keep))
    print(f"planted {n_planted} holes; {bars.height:,} bars left")

    def clear() -> None:
        for cache in (calcache._pmc, calmod._schedule, calmod._sessions, calmod._segments):
            cache.cache_clear()

    cme = "CME Globex Equity"
    continuity(bars.head(1000), get_calendar(cme))  # one-time library initialisation, not timed
    pdf = bars.select("datetime", "close").to_pandas().set_index("datetime")
    cold, warm, n_cold, n_warm, t_sched = [], [], [], [], 0.0
    for _ in range(args.repeat):
        clear()  # "cold": the calendar is built from pandas_market_calendars inside the timing
        t0 = time.perf_counter()
        res = continuity(bars, get_calendar(cme))
        cold.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = continuity(bars, get_calendar(cme))
        warm.append(time.perf_counter() - t0)
        clear()
        t0 = time.perf_counter()
        sessions = get_calendar(cme).sessions(res.first_day, res.last_day).to_pandas()
        t_sched = time.perf_counter() - t0
        missing, n_gaps, per_day = naive(pdf, sessions)
        n_cold.append(time.perf_counter() - t0)
        n_warm.append(n_cold[-1] - t_sched)
    t0 = time.perf_counter()
    n_exp = get_calendar(cme).expected_minutes(first.date(), last.date()).len()
    t_exp = time.perf_counter() - t0
    print(f"datamgr continuity+coverage: best of {args.repeat}: {min(cold):.3f} s with the calendar built, "
          f"{min(warm):.3f} s with it cached ({len(res.gaps)} gaps, {res.expected - res.present:,} missing "
          f"minutes, {res.coverage.height:,} trading days)")
    print(f"expected minutes only ({n_exp:,}): {t_exp:.3f} s (calendar cached)")
    print(f"naive pandas per-day reindex loop: best of {args.repeat}: {min(n_cold):.3f} s with the session "
          f"table built, {min(n_warm):.3f} s without ({n_gaps} missing runs, {missing:,} missing minutes)")
    assert missing == res.expected - res.present, (missing, res.expected - res.present)
    assert per_day == res.coverage["present"].to_list()
    print(f"speed-up: {min(n_cold) / min(cold):.1f}x with the calendar built in both, "
          f"{min(n_warm) / min(warm):.1f}x with it cached in both")
    bench_quiet(bars, args.repeat)


def naive_quiet(pdf: pd.DataFrame, sessions: pd.DataFrame, eras: np.ndarray,
                model: QuietModel = QuietModel()) -> tuple[int, int]:
    """The quiet model written per session: learn the buckets session by session, then walk every
    missing run of every session in Python. Returns (gaps, quiet gaps)."""
    n_era = int(eras.max()) + 1
    n = np.zeros(n_era * WEEK)
    absent = np.zeros(n_era * WEEK)
    short = np.zeros(n_era * WEEK)
    runs = np.zeros(n_era * WEEK)
    vol = np.zeros(n_era * WEEK)
    days = []
    idx = pdf.index
    for row, era in zip(sessions.itertuples(), eras, strict=True):
        if pd.isna(row.break_start):
            expected = pd.date_range(row.open, row.close, freq="1min", inclusive="left")
        else:
            expected = pd.date_range(row.open, row.break_start, freq="1min", inclusive="left").append(
                pd.date_range(row.break_end, row.close, freq="1min", inclusive="left"))
        lo, hi = idx.searchsorted(row.open), idx.searchsorted(row.close)
        day = pdf.iloc[lo:hi].reindex(expected)
        v = day["volume"].fillna(0).to_numpy(dtype=float)
        miss = day["volume"].isna().to_numpy()
        loc = expected.tz_convert("America/New_York")
        key = era * WEEK + (loc.day_of_week * 1440 + loc.hour * 60 + loc.minute).to_numpy()
        d = np.diff(np.concatenate(([0], miss.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        counted = np.zeros(len(miss), bool)
        brief = np.zeros(len(miss), bool)
        for a, b in zip(starts, ends, strict=True):  # per run, per session
            if b - a <= model.long:
                counted[a:b] = True
                runs[key[a]] += 1
            if b - a <= model.short:
                brief[a:b] = True
        np.add.at(n, key, 1)
        np.add.at(absent, key, counted)
        np.add.at(short, key, brief)
        np.add.at(vol, key, v)
        days.append((key, v, starts, ends))
    pool = np.ones(2 * model.window + 1)
    def pooled(a: np.ndarray) -> np.ndarray:
        g = a.reshape(n_era, WEEK)
        w = model.window
        return np.stack([np.convolve(np.concatenate((r[-w:], r, r[:w])), pool, "valid") for r in g]).ravel()
    pn, pa, pr, ps = pooled(n), pooled(absent), pooled(runs), pooled(short)
    share = (pa + 0.5) / (pn + 1)
    typical = np.where(n > 0, vol / np.maximum(n, 1), 0.0)
    s_share = ps / np.maximum(pn, 1)
    ok = (pn >= 20) & (s_share >= 0.02) & (s_share <= 0.9) & (typical > 0)
    c = min(float(np.median(-np.log(s_share[ok]) / typical[ok])) if ok.any() else 1.0, 1.0)
    rate = np.maximum(-np.log(share), c * typical) / np.maximum(pa / np.maximum(pr, 1) * (1 - share), 1.0)
    n_gaps = n_quiet = 0
    for key, v, starts, ends in days:
        for a, b in zip(starts, ends, strict=True):  # per missing run
            lam = sum(rate[key[i]] for i in range(a, b))
            before = slice(max(a - model.around, 0), a)
            after = slice(b, min(b + model.around, len(v)))
            ratios = [v[sl].sum() / typical[key[sl]].sum() for sl in (before, after) if typical[key[sl]].sum() > 0]
            p = math.exp(-lam * (min(ratios) if ratios else 1.0))
            n_gaps += 1
            n_quiet += p >= model.threshold
    return n_gaps, n_quiet


def bench_quiet(bars: pl.DataFrame, repeat: int) -> None:
    cme = get_calendar("CME Globex Equity")
    with_m, floor = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = continuity(bars, cme)
        with_m.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        base = continuity(bars, cme, model=None)
        floor.append(time.perf_counter() - t0)
    counts = res.class_counts()
    sess = cme.sessions(res.first_day, res.last_day)
    eras = cme.eras(sess["trading_day"])
    pdf = bars.select("datetime", "volume").to_pandas().set_index("datetime")
    t0 = time.perf_counter()
    n_gaps, n_quiet = naive_quiet(pdf, sess.to_pandas(), eras)
    t_naive = time.perf_counter() - t0
    print(f"quiet model: continuity with it {min(with_m):.3f} s, without it (floor) {min(floor):.3f} s "
          f"(best of {repeat}); classes {counts}; {len(base.gaps):,} gaps without the model")
    print(f"naive per-session quiet loop: {t_naive:.3f} s ({n_gaps:,} per-session runs, {n_quiet:,} quiet)")
    print(f"quiet speed-up: {t_naive / min(with_m):.1f}x vs the naive loop; the model costs "
          f"{min(with_m) - min(floor):.3f} s over the floor; under 2 s: {min(with_m) < 2.0}")


if __name__ == "__main__":
    main()
