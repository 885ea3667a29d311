"""Benchmark: continuity + per-day coverage on an N-year 1m master vs a naive pandas loop.

    python benchmarks/bench_health.py               # 18 years (2008-2025), ~6.3M bars
    python benchmarks/bench_health.py --years 2     # quick run

The master is generated with ``datamgr.ops.demo.make_demo_bars`` (CME Globex Equity calendar, all
three session eras) with holes planted every ~40 sessions. Both approaches run in the same
process on the same frame, and must find the same number of missing minutes and per-day counts.

Naive baseline: the way it is usually written -- for each session of the calendar, build the
expected minute index with ``pd.date_range`` (minus the break), ``reindex`` that day's bars onto
it, count the NaNs and walk the missing runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from datamgr.ops.demo import PlantedGap, make_demo_bars  # noqa: E402


def master(years: int) -> tuple[pl.DataFrame, int]:
    end = dt.date(2025, 12, 31)
    start = dt.date(end.year - years + 1, 1, 2)
    cal = get_calendar("CME Globex Equity")
    sess = cal.sessions(start, end)
    rng = np.random.default_rng(0)
    gaps = []
    for i in range(5, sess.height, 40):  # building the test data, not the measured code
        o = sess["open"][i] + dt.timedelta(minutes=int(rng.integers(0, 600)))
        gaps.append(PlantedGap(o, o + dt.timedelta(minutes=int(rng.integers(1, 240)))))
    return make_demo_bars(start, end, seed=1), len(gaps)


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
    args = ap.parse_args()

    t0 = time.perf_counter()
    bars, n_planted = master(args.years)
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


if __name__ == "__main__":
    main()
