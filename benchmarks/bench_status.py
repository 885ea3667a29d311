"""Benchmark: ``status`` (inventory.scan, footers only) vs a naive pandas full read.

Builds (once, cached under ``benchmarks/.cache/``) an ES-like 1m master of ``--years`` years
(``make_demo_bars`` from 2008-01-01 to 2025-12-31 for 18 years, ``source=ninjatrader``), written
through the store, and copies it into a folder of ten files (ES1, NQ1, ...). In the same run it
times:

* ``inventory.scan(settings)``: the work of ``python -m datamgr status``;
* a naive script: ``pd.read_parquet`` of every file, then min / max / len of ``datetime``;

and ``inventory.scan`` on a folder of ten 1-year files, to show the status time does not grow
with the rows. Each figure is the best of ``--repeat`` runs (warm OS cache for both sides); the
first status call of the process, which also builds the session calendar, is shown on its own.

Usage::

    python benchmarks/bench_status.py              # full size: 18 years x 10 files
    python benchmarks/bench_status.py --years 2    # small
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pandas as pd  # noqa: E402

from datamgr.core.config import Settings  # noqa: E402
from datamgr.ops.demo import make_demo_bars  # noqa: E402
from datamgr.ops.inventory import scan  # noqa: E402
from datamgr.store.store import Store, read_footer  # noqa: E402

TICKERS = ("ES1", "NQ1", "YM1", "RTY1", "MES1", "MNQ1", "MYM1", "M2K1", "GC1", "CL1")
LAST_DAY = dt.date(2025, 12, 31)


def build_folder(cache: Path, years: int) -> Path:
    """A folder of ten copies of one ``years``-year master (cached: built once)."""
    folder = cache / f"ten_{years}y"
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


def naive(folder: Path) -> tuple[int, object, object]:
    """What a script without footers does: read every file fully."""
    rows, lo, hi = 0, None, None
    for p in sorted(folder.glob("*.parquet")):
        df = pd.read_parquet(p)
        rows += len(df)
        a, b = df["datetime"].min(), df["datetime"].max()
        lo = a if lo is None or a < lo else lo
        hi = b if hi is None or b > hi else hi
    return rows, lo, hi


def status(folder: Path) -> tuple[int, object, object]:
    files = scan(Settings.load(data_dir=folder, env={}))
    return (sum(f.rows or 0 for f in files), min(f.start for f in files), max(f.end for f in files))


def footers(folder: Path) -> tuple[int, object, object]:
    """The footer part of status alone (no calendar coverage)."""
    metas = [read_footer(p) for p in sorted(folder.glob("*.parquet"))]
    return sum(m.rows for m in metas), min(m.start for m in metas), max(m.end for m in metas)


NAIVE_SCRIPT = """
import sys, pathlib, pandas as pd
rows = 0
for p in sorted(pathlib.Path(sys.argv[1]).glob("*.parquet")):
    df = pd.read_parquet(p)
    rows += len(df); df["datetime"].min(); df["datetime"].max()
print(rows)
"""


def new_process(cmd: list[str]) -> float:
    """Wall time of a fresh process (interpreter start, imports, calendar set-up included)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env, cwd=REPO)
    return time.perf_counter() - t0


def best(fn, folder: Path, repeat: int) -> tuple[float, tuple]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn(folder)
        times.append(time.perf_counter() - t0)
    return min(times), out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--years", type=int, default=18, help="years per master file (default 18)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is kept (default 3)")
    ap.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache")
    args = ap.parse_args(argv)

    big = build_folder(args.cache, args.years)
    small = build_folder(args.cache, 1)
    t0 = time.perf_counter()
    status(big)  # first call of the process: includes building the session calendar (cached after)
    t_cold = time.perf_counter() - t0
    t_status, s_out = best(status, big, args.repeat)
    t_naive, n_out = best(naive, big, args.repeat)
    t_small, _ = best(status, small, args.repeat)
    t_foot_big, _ = best(footers, big, args.repeat)
    t_foot_small, _ = best(footers, small, args.repeat)
    t_cli = new_process([sys.executable, "-m", "datamgr", "status", "--json", "--data-dir", str(big)])
    t_naive_proc = new_process([sys.executable, "-c", NAIVE_SCRIPT, str(big)])
    assert s_out[0] == n_out[0], f"row counts differ: status {s_out[0]} vs naive {n_out[0]}"
    assert pd.Timestamp(s_out[1]) == pd.Timestamp(n_out[1]) and pd.Timestamp(s_out[2]) == pd.Timestamp(n_out[2])

    size = sum(p.stat().st_size for p in big.glob("*.parquet"))
    rows_small = status(small)[0]
    print(f"{'case':<44} {'files':>5} {'rows':>13} {'MB':>8} {'seconds':>9}")
    print(f"{'naive pandas: read_parquet + min/max/len':<44} {10:>5} {n_out[0]:>13,} {size / 1e6:>8.0f} {t_naive:>9.3f}")
    print(f"{'status (inventory.scan, footers only)':<44} {10:>5} {s_out[0]:>13,} {size / 1e6:>8.0f} {t_status:>9.3f}")
    small_size = sum(p.stat().st_size for p in small.glob("*.parquet")) / 1e6
    print(f"{'status, first call (calendar set-up incl.)':<44} {10:>5} {s_out[0]:>13,} {size / 1e6:>8.0f} {t_cold:>9.3f}")
    print(f"{'status on ten 1-year files':<44} {10:>5} {rows_small:>13,} {small_size:>8.0f} {t_small:>9.3f}")
    print(f"{'  of which footers only (read_footer)':<44} {10:>5} {s_out[0]:>13,} {size / 1e6:>8.0f} {t_foot_big:>9.3f}")
    print(f"{'  footers only, ten 1-year files':<44} {10:>5} {rows_small:>13,} {small_size:>8.0f} {t_foot_small:>9.3f}")
    print(f"{'new process: python -m datamgr status --json':<44} {10:>5} {s_out[0]:>13,} {size / 1e6:>8.0f} {t_cli:>9.3f}")
    print(f"{'new process: the naive pandas script':<44} {10:>5} {n_out[0]:>13,} {size / 1e6:>8.0f} {t_naive_proc:>9.3f}")
    ratio = t_naive / t_status
    print(f"\nstatus is {ratio:.0f}x faster than the naive script on {args.years}-year files "
          f"(target >= 20x: {'met' if ratio >= 20 else 'NOT met'}); "
          f"{args.years}-year vs 1-year files: {t_status / t_small:.2f}x the time for {s_out[0] / rows_small:.0f}x the rows "
          f"(the footer reads are flat; the rest is the calendar coverage over a longer span)")
    print(f"as fresh processes (what a person typing the command sees): {t_naive_proc / t_cli:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
