"""Benchmark (issue 13, rows 1-2): ``python -m datamgr status --json`` vs its floor vs a naive script.

All three are fresh processes (what a person typing the command sees), run interleaved in one
run, ``--repeat`` times; the medians of wall time and of CPU time (user + system of the child:
less disturbed by other load on a shared machine) are printed with the ratios.

* ours: ``python -m datamgr status --json`` (footers, lineage of the derived files, coverage and
  health flags from the session calendar cache, warm: one status call runs before timing);
* floor: a bare script that imports only ``pyarrow.parquet`` and reads every footer (row counts,
  ``datetime`` min/max statistics) — nothing less can answer "what is in the folder";
* naive: ``pandas.read_parquet`` of every file, then min / max / len of ``datetime``.

Folders: eleven 18-year ES-like 1m masters (``make_demo_bars`` 2008-2025, written through the
store, copied; built once under ``benchmarks/.cache/``), and the demo folder (``demo ES1``: a
master, its upsampled files, analysis JSON and web chunks, so status shows health flags and
lineage). Target: ours <= 1.5x the floor on both.

Usage::

    python benchmarks/bench_status.py                 # 11 x 18 years + demo
    python benchmarks/bench_status.py --years 2       # small
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TICKERS = ("ES1", "NQ1", "YM1", "RTY1", "MES1", "MNQ1", "MYM1", "M2K1", "GC1", "CL1", "SI1")
LAST_DAY = dt.date(2025, 12, 31)

FLOOR = """
import sys, pathlib, pyarrow.parquet as pq
rows = 0
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.parquet")):
    md = pq.ParquetFile(p).metadata
    rows += md.num_rows
    i = md.schema.names.index("datetime")
    for g in range(md.num_row_groups):
        s = md.row_group(g).column(i).statistics
        lo, hi = s.min_raw, s.max_raw
print(rows)
"""

NAIVE = """
import sys, pathlib, pandas as pd
rows = 0
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.parquet")):
    df = pd.read_parquet(p)
    rows += len(df); df["datetime"].min(); df["datetime"].max()
print(rows)
"""


def build_masters(cache: Path, years: int) -> Path:
    """A folder of eleven copies of one ``years``-year master (built once)."""
    from datamgr.core.config import Settings
    from datamgr.ops.demo import make_demo_bars
    from datamgr.store.store import Store

    folder = cache / f"eleven_{years}y"
    if all((folder / f"{t}_1m.parquet").is_file() for t in TICKERS):
        return folder
    src = cache / f"src_{years}y"
    src.mkdir(parents=True, exist_ok=True)
    master = src / "ES1_1m.parquet"
    if not master.is_file():
        t0 = time.perf_counter()
        bars = make_demo_bars(dt.date(LAST_DAY.year - years + 1, 1, 1), LAST_DAY, seed=2008, source="ninjatrader")
        Store(Settings.load(data_dir=src, env={})).write("ES1", "1m", bars, operation="benchmark", backup=False)
        print(f"built {master} ({bars.height:,} bars) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    for t in TICKERS:
        shutil.copyfile(master, folder / f"{t}_1m.parquet")
    return folder


def build_demo(cache: Path) -> Path:
    folder = cache / "demo"
    if not (folder / "ES1_1m.parquet").is_file():
        subprocess.run([sys.executable, "-m", "datamgr", "--data-dir", str(folder), "demo", "ES1"],
                       check=True, capture_output=True, cwd=REPO)
    return folder


CODE = REPO  # the checkout whose ``datamgr`` is measured (--code: a "before" figure from another one)


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall and CPU seconds of a fresh process, and its stdout."""
    # bytecode on, as in an installed package (a sandbox may set PYTHONDONTWRITEBYTECODE, which
    # would charge every start with compiling datamgr's sources: not what a user pays)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}, "PYTHONPATH": str(CODE)}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=CODE, text=True)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime), res.stdout


def compare(label: str, folder: Path, repeat: int, naive: bool) -> dict:
    py = sys.executable
    cases = {"ours": [py, "-m", "datamgr", "status", "--json", "--data-dir", str(folder)],
             "floor": [py, "-c", FLOOR, str(folder)]}
    if naive:
        cases["naive"] = [py, "-c", NAIVE, str(folder)]
    timed(cases["ours"])  # warm: the session cache is built by the first status of a folder
    wall = {k: [] for k in cases}
    cpu = {k: [] for k in cases}
    for _ in range(repeat):
        for k, cmd in cases.items():
            w, c, _ = timed(cmd)
            wall[k].append(w)
            cpu[k].append(c)
    med = {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in cases}
    print(f"\n{label}: medians of {repeat} interleaved runs")
    print(f"  {'case':<8} {'wall s':>8} {'cpu s':>8} {'wall/floor':>11} {'cpu/floor':>10}")
    for k, (w, c) in med.items():
        print(f"  {k:<8} {w:>8.3f} {c:>8.3f} {w / med['floor'][0]:>10.2f}x {c / med['floor'][1]:>9.2f}x")
    ok = med["ours"][0] <= 1.5 * med["floor"][0]
    print(f"  target ours <= 1.5x floor (wall): {'met' if ok else 'NOT met'}")
    return med


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=18, help="years per master file (default 18)")
    ap.add_argument("--repeat", type=int, default=7, help="interleaved runs per case (default 7)")
    ap.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache")
    ap.add_argument("--code", type=Path, default=REPO, help="checkout to measure (default: this one)")
    args = ap.parse_args(argv)
    global CODE
    CODE = args.code
    masters = build_masters(args.cache, args.years)
    demo = build_demo(args.cache)
    rows = sum(1 for _ in masters.glob("*_1m.parquet"))
    compare(f"{rows} masters of {args.years} years", masters, args.repeat, naive=True)
    compare("demo folder (health flags, lineage, web chunks)", demo, args.repeat, naive=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
