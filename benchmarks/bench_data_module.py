"""Benchmark: the data module's intraday update end to end, and ``resample_data`` on a year of 1m bars.

    python benchmarks/bench_data_module.py             # 5 runs of the update, 1 year of bars
    python benchmarks/bench_data_module.py --runs 3

1. ``update_intraday_data`` for one full day of 1m NIFTY (375 candles) after the close, against
   the loopback SmartAPI server of the tests (login, getCandleData, parse, validate, merge into
   the 1m master through the store with backup + read-back + journal, CSV export, resample six
   timeframes and store each): the target is under 1.5 s. Floor: the login + fetch alone.
   Naive: the usual script (requests + pandas: fetch, concat with the CSV, drop duplicates, write
   the CSV, ``DataFrame.resample`` each timeframe per day and write six CSVs), no safety.
2. ``DataProcessor.resample_data`` of one year of NSE 1m bars into 3/5/10/15/30min/1H vs the naive
   pandas per-day loop (``groupby(date)`` + ``resample(origin=<that day's open>)``) and the floor
   (one pandas ``resample`` over the whole series with a fixed 09:15 offset, which is only right
   because NSE sessions all open at 09:15). Target: at least 10x the naive loop. Both must agree.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import datamgr.data_module as dm  # noqa: E402
from datamgr.core.config import Settings  # noqa: E402
from datamgr.data_module.processor import RESAMPLED, DataProcessor  # noqa: E402
from datamgr.ingest.smartapi import SmartApiHistory  # noqa: E402
from tests.data_module.smartapi_rest import ENV, SmartApiRest  # noqa: E402

IST = ZoneInfo("Asia/Kolkata")
AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def _manager(root: Path, now: dt.datetime) -> dm.HistoricalDataManager:
    settings = Settings.load(data_dir=root, env={})
    dm.configure(settings=settings, clock=lambda: now, history_source=SmartApiHistory(min_interval=0.0))
    return dm.get_historical_manager()


def bench_update(runs: int) -> dict[str, float]:
    import os

    import requests  # the naive script's HTTP client

    ours, floor, naive = [], [], []
    with SmartApiRest() as server:
        os.environ.update(ENV, DATAMGR_SMARTAPI_URL=server.url)
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "data"
                root.mkdir()
                _manager(root, dt.datetime(2024, 1, 15, 18, 0, tzinfo=IST)).update_intraday_data("NIFTY", "99926000")
                mgr = _manager(root, dt.datetime(2024, 1, 16, 18, 0, tzinfo=IST))
                t = time.perf_counter()
                df = mgr.update_intraday_data("NIFTY", "99926000")
                ours.append(time.perf_counter() - t)
                assert (df["timestamp"].dt.day == 16).sum() == 375
                t = time.perf_counter()
                client = SmartApiHistory(min_interval=0.0)
                client.candles("NSE", "99926000", "ONE_MINUTE", dt.datetime(2024, 1, 16, 9, 15), dt.datetime(2024, 1, 16, 15, 30))
                floor.append(time.perf_counter() - t)
                t = time.perf_counter()
                _naive_update(requests, server.url, Path(tmp) / "naive")
                naive.append(time.perf_counter() - t)
    dm.configure()
    return {"ours": statistics.median(ours), "floor": statistics.median(floor), "naive": statistics.median(naive)}


def _naive_update(requests, url: str, folder: Path) -> None:
    """The usual script: no lock, no backup, no validation, CSV rewritten in place."""
    import pyotp  # the naive script logs in the same way

    folder.mkdir(exist_ok=True)
    h = {"X-PrivateKey": ENV["DATAMGR_SMARTAPI_API_KEY"], "Content-Type": "application/json"}
    login = requests.post(url + "/rest/auth/angelbroking/user/v1/loginByPassword", headers=h, json={
        "clientcode": ENV["DATAMGR_SMARTAPI_CLIENT_CODE"], "password": ENV["DATAMGR_SMARTAPI_PIN"],
        "totp": pyotp.TOTP(ENV["DATAMGR_SMARTAPI_TOTP_SECRET"]).now()}).json()
    h["Authorization"] = login["data"]["jwtToken"]
    rows = requests.post(url + "/rest/secure/angelbroking/historical/v1/getCandleData", headers=h, json={
        "exchange": "NSE", "symboltoken": "99926000", "interval": "ONE_MINUTE", "fromdate": "2024-01-16 09:15",
        "todate": "2024-01-16 15:30"}).json()["data"]
    new = pd.DataFrame(rows, columns=["timestamp", "open", "high", "low", "close", "volume"])
    new["timestamp"] = pd.to_datetime(new["timestamp"]).dt.tz_localize(None)
    path = folder / "NIFTY_ONE_MINUTE.csv"
    old = pd.read_csv(path, parse_dates=["timestamp"]) if path.exists() else new.iloc[:0]
    df = pd.concat([old, new]).drop_duplicates("timestamp", keep="last").sort_values("timestamp")
    df.to_csv(path, index=False)
    for tf in RESAMPLED:
        parts = [g.set_index("timestamp").resample(tf.replace("H", "h"), origin=g["timestamp"].min()).agg(AGG).dropna()
                 for _, g in df.groupby(df["timestamp"].dt.date)]
        pd.concat(parts).reset_index().to_csv(folder / f"NIFTY_{tf}.csv", index=False)


def year_of_minutes() -> pd.DataFrame:
    import pandas_market_calendars as mcal  # the benchmark's data follows the NSE calendar

    sched = mcal.get_calendar("XNSE").schedule("2024-01-01", "2024-12-31")
    stamps = pd.DatetimeIndex(np.concatenate([pd.date_range(o, c, freq="1min", inclusive="left").tz_convert("UTC")
                                              .tz_localize(None).to_numpy()
                                              for o, c in zip(sched["market_open"], sched["market_close"])]))
    n = len(stamps)
    rng = np.random.default_rng(0)
    close = 21_000 + np.cumsum(rng.normal(0, 2, n))
    opn = np.concatenate([[close[0]], close[:-1]])
    return pd.DataFrame({"timestamp": pd.DatetimeIndex(stamps).tz_localize("UTC").tz_convert(IST), "open": opn,
                         "high": np.maximum(opn, close) + 1, "low": np.minimum(opn, close) - 1, "close": close,
                         "volume": rng.integers(100, 1000, n)})


def naive_resample(df: pd.DataFrame, tf: str) -> pd.DataFrame:
    parts = [g.set_index("timestamp").resample(tf.replace("H", "h"), origin=g["timestamp"].iloc[0]).agg(AGG).dropna()
             for _, g in df.groupby(df["timestamp"].dt.date)]
    return pd.concat(parts).reset_index()


def floor_resample(df: pd.DataFrame, tf: str) -> pd.DataFrame:
    return df.set_index("timestamp").resample(tf.replace("H", "h"), offset="15min").agg(AGG).dropna().reset_index()


def bench_resample() -> tuple[int, dict[str, dict[str, float]]]:
    df = year_of_minutes()
    with tempfile.TemporaryDirectory() as tmp:
        proc = DataProcessor(Settings.load(data_dir=Path(tmp), env={}))
        proc.resample_data(df.head(1000), "5min")  # calendar loaded once, as in any real process
        out = {}
        for tf in RESAMPLED:
            t = time.perf_counter()
            ours = proc.resample_data(df, tf)
            a = time.perf_counter() - t
            t = time.perf_counter()
            naive = naive_resample(df, tf)
            b = time.perf_counter() - t
            t = time.perf_counter()
            floor_resample(df, tf)
            c = time.perf_counter() - t
            assert len(ours) == len(naive) and np.allclose(ours["close"], naive["close"]), tf
            out[tf] = {"ours": a, "naive": b, "floor": c}
    return len(df), out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args()
    u = bench_update(args.runs)
    print(f"update_intraday_data, one day of 1m NIFTY end to end (median of {args.runs}):")
    print(f"  ours {u['ours']:.3f} s (target < 1.5 s) | floor (login + fetch) {u['floor']:.3f} s | "
          f"naive script {u['naive']:.3f} s")
    n, r = bench_resample()
    print(f"resample_data, one year of NSE 1m bars ({n:,} bars):")
    for tf, v in r.items():
        print(f"  {tf:>5}: ours {v['ours'] * 1000:7.1f} ms | naive per-day loop {v['naive'] * 1000:8.1f} ms "
              f"({v['naive'] / v['ours']:5.1f}x) | floor {v['floor'] * 1000:6.1f} ms")
    total = {k: sum(v[k] for v in r.values()) for k in ("ours", "naive", "floor")}
    print(f"  all six: ours {total['ours']:.3f} s, naive {total['naive']:.3f} s ({total['naive'] / total['ours']:.1f}x), "
          f"floor {total['floor']:.3f} s")



if __name__ == "__main__":
    main()
