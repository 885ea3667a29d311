"""Benchmark: the Chart page's data (``ops.ranges.chart_data``) vs the floor vs a naive script.

    python benchmarks/bench_chart.py               # 18 years (2008-2025), ~6.3M 1m bars
    python benchmarks/bench_chart.py --years 3     # quick run

For three ranges of a stored 1m master (the last week, the last year, everything) each approach
must hand the browser at most 3,000 candles:

* ours: ``chart_data`` (store read, calendar window, on-the-fly aggregation, source labels, gaps
  off so the measure is the bars path; the page also shades gaps);
* floor: reading the file with polars and slicing the range (no aggregation at all);
* naive: ``pandas.read_parquet`` of the whole file, a boolean mask and ``resample().agg()``
  at the same candle size.

Ratios are printed for each range (ours / floor, naive / ours) from the same run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamgr.calendar.sessions import calendar_for  # noqa: E402
from datamgr.core.config import Settings  # noqa: E402
from datamgr.ops.demo import make_demo_bars  # noqa: E402
from datamgr.ops.ranges import chart_data  # noqa: E402
from datamgr.store.store import Store  # noqa: E402

PANDAS_RULE = {"1m": "1min", "2m": "2min", "5m": "5min", "10m": "10min", "15m": "15min", "30m": "30min",
               "1h": "1h", "2h": "2h", "4h": "4h", "1d": "1D", "1w": "1W", "1mo": "1MS"}


def best(fn, n: int = 3) -> tuple[float, object]:
    out, times = None, []
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def naive(path: Path, lo: dt.datetime, hi: dt.datetime, candle: str) -> pd.DataFrame:
    df = pd.read_parquet(path)
    df = df[(df["datetime"] >= lo) & (df["datetime"] < hi)].set_index("datetime")
    return df.resample(PANDAS_RULE[candle]).agg({"open": "first", "high": "max", "low": "min", "close": "last",
                                                  "volume": "sum"}).dropna()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=18)
    args = ap.parse_args()
    end = dt.date(2025, 12, 31)
    start = dt.date(end.year - args.years + 1, 1, 2)
    with tempfile.TemporaryDirectory() as tmp:
        s = Settings.load(data_dir=tmp, env={})
        bars = make_demo_bars(start, end, seed=1)
        Store(s).write("ES1", "1m", bars, operation="bench", backup=False)
        path = s.bar_path("ES1", "1m")
        print(f"master: {bars.height:,} 1m bars, {path.stat().st_size / 1e6:.1f} MB ({args.years} years)")
        print(f"{'range':<10} {'stored':>10} {'candle':>6} {'sent':>6} {'ours s':>8} {'floor s':>8} {'naive s':>8} "
              f"{'ours/floor':>10} {'naive/ours':>10}")
        for label, a in (("1 week", end - dt.timedelta(days=7)), ("1 year", end - dt.timedelta(days=365)),
                         ("all", start)):
            t_ours, data = best(lambda a=a: chart_data(s, "ES1", "1m", a, end, gaps=False))
            seg = calendar_for(s, "ES1").segments(a, end)  # the same trading-day window as chart_data
            lo, hi = seg["start"].min(), seg["end"].max()
            t_floor, _ = best(lambda lo=lo, hi=hi: pl.read_parquet(path).filter(
                pl.col("datetime").is_between(lo, hi, closed="left")))
            t_naive, nv = best(lambda lo=lo, hi=hi, c=data.candle: naive(path, lo, hi, c))
            assert data.bars.height <= 3000
            assert abs(int(nv["volume"].sum()) - int(data.bars["volume"].sum())) == 0, "same volume"
            print(f"{label:<10} {data.stored_rows:>10,} {data.candle:>6} {data.bars.height:>6,} {t_ours:>8.3f} "
                  f"{t_floor:>8.3f} {t_naive:>8.3f} {t_ours / t_floor:>10.2f} {t_naive / t_ours:>10.2f}")


if __name__ == "__main__":
    main()
