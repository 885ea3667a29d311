"""Benchmark (issue 13, rows 3-4): NinjaTrader import vs its polars floor vs a naive pandas script.

Usage::

    python benchmarks/bench_import.py                 # 18 years (~6.6 M lines, ~330 MB), one week
    python benchmarks/bench_import.py --years 1       # quick run
    python benchmarks/bench_import.py --code /work/main   # "before" figures of another checkout

Cases (each measured in its own child process, so the peak memory figure is that step's alone;
every case runs ``--repeat`` times, interleaved, and the medians are compared):

* ``datamgr full``  -- import the N-year export into an empty data folder (parse, zone detection,
  verify, merge plan, validated + read-back atomic write, journal; no derived data)
* ``naive full``    -- pandas: read_csv, to_datetime, tz_localize, concat, drop_duplicates,
  sort_values, to_parquet (no validation, backup, fsync or zone detection)
* ``write once``    -- ``Store.write`` of the N-year master into an empty folder: the cost of
  rewriting the file, which any change to a single-file master pays
* ``datamgr week``  -- import a one-week export (3 days overlapping, the rest new) into a copy of
  the N-year master (includes the verified backup of the old master)
* ``naive week``    -- the pandas script doing the same
* ``floor full``    -- the fastest way to do the full import's work: polars ``read_csv`` (fixed
  schema, multi-threaded) + ``strptime`` + zone conversion + close->open shift +
  ``write_parquet`` (zstd, statistics) — no verification, backup, fsync or read-back
* ``floor week``    -- polars: read the master + read the week + concat + unique + sort + write

Targets (issue 13): full <= 1.5x floor full; week <= 1.5x floor week.

Earlier targets (issue 3): full >= 8x naive; week <= 2x write-once and >= 5x naive; peak < 4 GB.
The generated exports are cached in ``benchmarks/.cache/`` (git-ignored); nothing big is committed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = Path(os.environ.get("BENCH_CODE", HERE.parent))  # the checkout whose datamgr is measured
sys.path.insert(0, str(ROOT))
CACHE = HERE / ".cache"
TZ = "America/Los_Angeles"
END = dt.date(2024, 12, 31)


# ----------------------------------------------------------------------------- data
def _bars(first: dt.date, last: dt.date):
    import polars as pl

    from datamgr.calendar.sessions import get_calendar

    t = get_calendar("CME Globex Equity").expected_minutes(first, last)
    n = t.len()
    import numpy as np

    rng = np.random.default_rng(42)
    steps = rng.integers(-4, 5, n).cumsum()
    close = 1500.0 + (steps - steps.min()) * 0.25
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = rng.integers(0, 4, n) * 0.25
    return pl.DataFrame({
        "datetime": t, "open": open_, "high": np.maximum(open_, close) + spread,
        "low": np.minimum(open_, close) - spread, "close": close, "volume": rng.integers(1, 3000, n),
    })


def _write_export(bars, path: Path) -> None:
    import polars as pl

    lines = bars.select(
        (pl.col("datetime") + pl.duration(minutes=1)).dt.convert_time_zone(TZ).dt.strftime("%Y%m%d %H%M%S"),
        *(pl.col(c).cast(pl.String) for c in ("open", "high", "low", "close")), pl.col("volume").cast(pl.String),
    ).select(pl.concat_str(pl.all(), separator=";").alias("x"))
    tmp = path.with_suffix(".part")
    lines.write_csv(tmp, include_header=False, quote_style="never", line_terminator="\r\n")
    tmp.replace(path)


def make_exports(years: int) -> tuple[Path, Path]:
    """The N-year export and the one-week export (cached)."""
    CACHE.mkdir(exist_ok=True)
    full = CACHE / f"ES {years}y.Last.txt"
    week = CACHE / f"ES week after {years}y.Last.txt"
    if not (full.is_file() and week.is_file()):
        import polars as pl

        bars = _bars(END.replace(year=END.year - years + 1, month=1, day=1), END + dt.timedelta(days=6))
        cut = dt.datetime.combine(END, dt.time(22), dt.UTC)
        first = dt.datetime.combine(END - dt.timedelta(days=4), dt.time(), dt.UTC)
        _write_export(bars.filter(pl.col("datetime") < cut), full)
        _write_export(bars.filter(pl.col("datetime") >= first), week)
    return full, week


# ----------------------------------------------------------------------------- children
def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024  # Linux: KiB


def _floor(export: Path, folder: Path, master: Path | None) -> dict:
    import polars as pl

    df = pl.read_csv(export, separator=";", has_header=False, quote_char=None,
                     schema={"dt": pl.String, "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
                             "close": pl.Float64, "volume": pl.Int64})
    df = df.select(
        (pl.col("dt").str.strptime(pl.Datetime("us"), "%Y%m%d %H%M%S")
         .dt.replace_time_zone(TZ, ambiguous="earliest").dt.convert_time_zone("UTC")
         - pl.duration(minutes=1)).alias("datetime"),
        "open", "high", "low", "close", "volume", pl.lit("ninjatrader").alias("source"))
    if master is not None:
        old = pl.read_parquet(master).with_columns(pl.col("source").cast(pl.String))
        df = pl.concat([old.select(df.columns), df]).unique("datetime", keep="last").sort("datetime")
    folder.mkdir(parents=True, exist_ok=True)
    df.write_parquet(folder / "ES1_1m.parquet", compression="zstd", statistics=True)
    return {"rows": df.height}


def _naive(export: Path, folder: Path, master: Path | None) -> dict:
    import pandas as pd

    df = pd.read_csv(export, sep=";", header=None, names=["dt", "open", "high", "low", "close", "volume"])
    df["datetime"] = (pd.to_datetime(df.pop("dt"), format="%Y%m%d %H%M%S")
                      .dt.tz_localize(TZ, ambiguous="infer", nonexistent="raise").dt.tz_convert("UTC")
                      - pd.Timedelta(minutes=1))
    df["source"] = "ninjatrader"
    existing = pd.read_parquet(master) if master is not None and master.is_file() else df.iloc[0:0]
    out = pd.concat([existing, df[existing.columns]]).drop_duplicates("datetime", keep="last")
    out = out.sort_values("datetime")
    folder.mkdir(parents=True, exist_ok=True)
    out.to_parquet(folder / "ES1_1m.parquet", index=False)
    return {"rows": len(out)}


def child(case: str, export: Path, folder: Path, master: Path | None) -> dict:
    # library import time is not import work: load the modules before the clock starts
    if case.startswith(("naive", "floor")):
        import pandas  # noqa: F401
        import polars  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    else:
        import pandas_market_calendars  # noqa: F401

        import datamgr.ops.import_export  # noqa: F401
    t0 = time.perf_counter()
    if case.startswith("datamgr"):
        from datamgr.core.config import Settings
        from datamgr.ops.import_export import import_export

        s = Settings.load(data_dir=folder, env={})
        marks: list[tuple[str, float]] = [("start", t0)]

        def progress(done: int, total: int, msg: str) -> None:
            marks.append((msg, time.perf_counter()))

        res = import_export(s, "ES1", export.read_bytes(), export.name, tz=TZ, no_derived=True, progress=progress)
        marks.append(("end", time.perf_counter()))
        stages = {a[0].split(" ")[0]: round(b[1] - a[1], 2) for a, b in zip(marks, marks[1:])}
        extra = {"new": res.plan.new, "identical": res.plan.identical, "rows": res.plan.result_rows,
                 "verdict": res.verify.verdict, "stages": stages}
    elif case.startswith("naive"):
        extra = _naive(export, folder, master)
    elif case.startswith("floor"):
        extra = _floor(export, folder, master)
    elif case == "write once":
        from datamgr.core.config import Settings
        from datamgr.store.store import Store

        src = Store(Settings.load(data_dir=master.parent, env={})).read("ES1", "1m")
        t0 = time.perf_counter()
        Store(Settings.load(data_dir=folder, env={})).write("ES1", "1m", src, operation="bench")
        extra = {"rows": src.height}
    else:
        raise SystemExit(f"unknown case {case}")
    return {"case": case, "seconds": time.perf_counter() - t0, "peak_gb": _peak_gb(), **extra}


def run_child(case: str, export: Path, folder: Path, master: Path | None) -> dict:
    if case != "datamgr week":  # that one runs in a copy of the full import's folder
        shutil.rmtree(folder, ignore_errors=True)
    cmd = [sys.executable, __file__, "--child", case, "--export", str(export), "--folder", str(folder)]
    if master is not None:
        cmd += ["--master", str(master)]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env={**os.environ, "BENCH_CODE": str(ROOT)})
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{case} failed:\n{out.stderr}")
    # CPU seconds of the whole child (library imports and data generation included): a second
    # view, less disturbed by other load on a shared machine than the wall clock
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "cpu_child": round(cpu, 2)}


# ----------------------------------------------------------------------------- main
def main() -> None:
    global ROOT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=18)
    ap.add_argument("--repeat", type=int, default=3, help="runs per case, interleaved; medians compared")
    ap.add_argument("--code", help="checkout whose datamgr is measured (default: this one)")
    ap.add_argument("--work", default=str(HERE / "out" / "work"), help="scratch folder (deleted first)")
    ap.add_argument("--child")
    ap.add_argument("--export")
    ap.add_argument("--folder")
    ap.add_argument("--master")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, Path(a.export), Path(a.folder), Path(a.master) if a.master else None)))
        return
    if a.code:
        ROOT = Path(a.code).resolve()
    t = time.perf_counter()
    full, week = make_exports(a.years)
    lines = sum(1 for _ in open(full, "rb"))
    print(f"exports: {full.name}: {lines:,} lines, {full.stat().st_size / 1e6:,.0f} MB; "
          f"{week.name}: {week.stat().st_size / 1e3:,.0f} kB (generated/cached in {time.perf_counter() - t:.1f} s); "
          f"datamgr from {ROOT}")
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    runs: dict[str, list[dict]] = {}
    master = work / "dm_full" / "ES1_1m.parquet"
    for _ in range(a.repeat):
        for case, exp, folder, m in (("datamgr full", full, "dm_full", None), ("floor full", full, "floor_full", None),
                                     ("naive full", full, "naive_full", None),
                                     ("write once", full, "write_once", master)):
            runs.setdefault(case, []).append(run_child(case, exp, work / folder, m))
        shutil.rmtree(work / "dm_week", ignore_errors=True)
        for case, folder, m in (("datamgr week", "dm_week", None), ("floor week", "floor_week", master),
                                ("naive week", "naive_week", master)):
            if case == "datamgr week":
                shutil.copytree(work / "dm_full", work / "dm_week", ignore=shutil.ignore_patterns(".datamgr.lock*"))
            runs.setdefault(case, []).append(run_child(case, week, work / folder, m))
    r = {k: {**v[-1], "seconds": statistics.median(x["seconds"] for x in v),
             "cpu_child": statistics.median(x["cpu_child"] for x in v),
             "all": [round(x["seconds"], 2) for x in v]} for k, v in runs.items()}
    print(f"\n{'case':<14} {'median s':>9} {'peak GB':>8}  runs / details")
    for k, v in r.items():
        det = {x: y for x, y in v.items() if x not in ("case", "seconds", "peak_gb")}
        print(f"{k:<14} {v['seconds']:>9.2f} {v['peak_gb']:>8.2f}  {det}")
    sec = {k: v["seconds"] for k, v in r.items()}
    full_f = sec["datamgr full"] / sec["floor full"]
    week_f = sec["datamgr week"] / sec["floor week"]
    print(f"\nfull import: {full_f:5.2f}x the polars floor (target <= 1.5x) {'OK' if full_f <= 1.5 else 'MISSED'}; "
          f"{sec['naive full'] / sec['datamgr full']:.1f}x faster than naive pandas")
    print(f"week import: {week_f:5.2f}x its polars floor (target <= 1.5x) {'OK' if week_f <= 1.5 else 'MISSED'}; "
          f"{sec['naive week'] / sec['datamgr week']:.1f}x faster than naive pandas; "
          f"{sec['datamgr week'] / sec['write once']:.2f}x one verified write of the master")
    print(f"full import peak memory: {r['datamgr full']['peak_gb']:.2f} GB")
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / f"bench_import_{a.years}y.json").write_text(json.dumps(r, indent=2))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
