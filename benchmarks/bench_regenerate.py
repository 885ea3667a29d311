"""Benchmark (issue 13, rows 5-6): full and incremental regeneration vs a naive per-day loop.

Usage (full size = 18 years of ES 1m, about 6.4 M bars)::

    python benchmarks/bench_regenerate.py                       # 2008-2025
    python benchmarks/bench_regenerate.py --start 2024-01-02    # small run
    BENCH_CODE=/work/main python benchmarks/bench_regenerate.py # "before" figures of another checkout

In one process, ``--repeat`` rounds of: write the master without its last week, full rebuild
(timed), write the whole master (the week's import), incremental run (timed); then one check that
the incremental outputs are byte-identical to a full rebuild (JSON apart from ``built_at``,
Parquet content hashes), and the naive baseline once: the same work (upsample 4 timeframes,
HOD/LOD, profiler sessions, level touches, web chunks as JSON) as a Python loop over trading days
(``groupby`` + per-day pandas work). Medians are compared. Goals: full >= 10x naive;
incremental >= 10x faster than full, bytes identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, os.environ.get("BENCH_CODE") or str(Path(__file__).resolve().parent.parent))

from datamgr.core.config import DEFAULT_SESSIONS, Settings  # noqa: E402
from datamgr.derived.regenerate import regenerate  # noqa: E402
from datamgr.ops.demo import make_demo_bars  # noqa: E402
from datamgr.store.store import Store  # noqa: E402

ET = "America/New_York"
TFS = {"5m": 5, "15m": 15, "1h": 60, "4h": 240}


def naive(bars: pd.DataFrame, out: Path) -> int:
    """Per-trading-day loop: the way this is usually written first."""
    df = bars.copy()
    df["et"] = df["datetime"].dt.tz_convert(ET)
    df["td"] = (df["et"] + pd.Timedelta(hours=6)).dt.date
    hod, prof, lev, ups = [], [], [], {tf: [] for tf in TFS}
    prev = None
    for day, g in df.groupby("td", sort=True):
        g = g.set_index("et")
        anchor = pd.Timestamp(f"{day - dt.timedelta(days=1)} 18:00").tz_localize(ET)
        for tf, m in TFS.items():
            r = g.resample(f"{m}min", origin=anchor).agg(
                {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}).dropna()
            ups[tf].append(r)
        rth = g.between_time("09:30", "15:59")
        hod.append({"date": str(day), "high": g["high"].max(), "high_time": g["high"].idxmax().isoformat(),
                    "low": g["low"].min(), "low_time": g["low"].idxmin().isoformat(),
                    "rth_high": rth["high"].max() if len(rth) else None,
                    "rth_low": rth["low"].min() if len(rth) else None})
        row = {"date": str(day)}
        for name, s, e in DEFAULT_SESSIONS:
            w = g[(g.index >= anchor + _off(s)) & (g.index < anchor + _off(s) + _len(s, e))]
            row[name] = None if w.empty else {
                "open": w["open"].iloc[0], "high": w["high"].max(), "low": w["low"].min(),
                "close": w["close"].iloc[-1], "volume": int(w["volume"].sum()),
                "high_time": w["high"].idxmax().isoformat(), "low_time": w["low"].idxmin().isoformat()}
        prof.append(row)
        on = g[g.index < anchor + pd.Timedelta(hours=15, minutes=30)]
        levels = {"onh": on["high"].max(), "onl": on["low"].min()}
        if prev is not None:
            levels.update(pdh=prev["high"].max(), pdl=prev["low"].min(), pdc=prev["close"].iloc[-1])
        touches = {}
        for k, price in levels.items():
            hit = rth[(rth["low"] <= price) & (rth["high"] >= price)]
            touches[k] = {"price": price, "touched": bool(len(hit)),
                          "first_touch": hit.index[0].isoformat() if len(hit) else None}
        lev.append({"date": str(day), "levels": touches})
        prev = g
    for name, obj in (("hod", hod), ("prof", prof), ("lev", lev)):
        (out / f"naive_{name}.json").write_text(json.dumps({"days": obj}, default=float))
    written = 0
    frames = {"1m": df.set_index("et")[["open", "high", "low", "close", "volume"]]}
    frames.update({tf: pd.concat(v) for tf, v in ups.items()})
    for tf, f in frames.items():
        key = f.index.strftime("%Y-%m" if tf == "1m" else "%Y")
        for period, c in f.groupby(key):
            doc = {"t": [int(x.timestamp()) for x in c.index], **{k[0]: c[k].tolist() for k in c.columns}}
            (out / f"naive_{tf}_{period}.json").write_text(json.dumps(doc))
            written += 1
    return written


def _off(hhmm: str) -> pd.Timedelta:
    h, m = map(int, hhmm.split(":"))
    return pd.Timedelta(minutes=(h * 60 + m - 18 * 60) % 1440)


def _len(s: str, e: str) -> pd.Timedelta:
    return pd.Timedelta(minutes=((_off(e) - _off(s)).total_seconds() // 60) % 1440 or 1440)


def _outputs(data_dir: Path, store: Store) -> tuple[dict, dict]:
    import re

    blank = re.compile(rb'"built_at":"[^"]*"')
    files = sorted(list(data_dir.glob("ES1_*.json")) + list((data_dir / "web").rglob("*.json")))
    js = {str(p.relative_to(data_dir)): blank.sub(b"", p.read_bytes()) for p in files}
    return js, {tf: store.read_meta("ES1", tf).content_sha256 for tf in TFS}


def main() -> None:
    import statistics

    ap = argparse.ArgumentParser()
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2008, 1, 2))
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2025, 12, 31))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-naive", action="store_true")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; "
          f"datamgr from {sys.path[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        s = Settings.load(data_dir=Path(tmp) / "data", env={})
        store = Store(s)
        t = time.perf_counter()
        bars = make_demo_bars(a.start, a.end)
        week_ago = bars["datetime"].max() - dt.timedelta(days=7)
        older = bars.filter(bars["datetime"] <= week_ago)
        print(f"data: {bars.height:,} 1m bars {a.start}..{a.end} (built in {time.perf_counter() - t:.1f} s)")
        store.write("ES1", "1m", older, operation="import", backup=False)
        t = time.perf_counter()
        rep = regenerate(s, "ES1", full=True)
        print(f"full regeneration (cold, first run of the process): {time.perf_counter() - t:.2f} s")
        fulls, incs = [], []
        for i in range(a.repeat):
            store.write("ES1", "1m", older, operation="import", backup=False)
            t = time.perf_counter()
            rep = regenerate(s, "ES1", full=True)
            fulls.append(time.perf_counter() - t)
            print(f"  round {i + 1}: full {fulls[-1]:.2f} s  read+fingerprint={rep.prepare_seconds:.2f} "
                  + " ".join(f"{x.step}={x.seconds:.2f}" for x in rep.steps))
            store.write("ES1", "1m", bars, operation="import", backup=False)   # the one-week import
            t = time.perf_counter()
            rep = regenerate(s, "ES1")
            incs.append(time.perf_counter() - t)
            print(f"  round {i + 1}: incremental {incs[-1]:.2f} s ({rep.changed_days} changed days)  "
                  f"read+fingerprint={rep.prepare_seconds:.2f} "
                  + " ".join(f"{x.step}={x.seconds:.2f}/{x.mode}" for x in rep.steps))
        inc_out = _outputs(s.data_dir, store)
        regenerate(s, "ES1", full=True)
        same = _outputs(s.data_dir, store) == inc_out
        full, inc = statistics.median(fulls), statistics.median(incs)
        print(f"\nmedian full {full:.2f} s, median incremental {inc:.2f} s: incremental is {full / inc:.1f}x faster "
              f"(goal 10x); incremental bytes identical to a full rebuild: {'yes' if same else 'NO'}")
        if not a.skip_naive:
            pdf = bars.to_pandas()
            out = Path(tmp) / "naive"
            out.mkdir()
            t = time.perf_counter()
            naive(pdf, out)
            nv = time.perf_counter() - t
            print(f"naive per-day pandas loop: {nv:.2f} s; full regeneration is {nv / full:.1f}x faster (goal 10x)")
        print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
