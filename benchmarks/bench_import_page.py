"""Benchmark: what the Import page computes for one dropped file, one draft vs one-shot calls.

Usage::

    python benchmarks/bench_import_page.py             # one-week export onto a 4-year master
    python benchmarks/bench_import_page.py --years 18  # the full-size master

Cases, in one run on the same master and export (exports from ``bench_import.make_exports``):

* ``draft``    -- ``ImportDraft``: parse once, ``describe``, ``verify``, ``overlap``, ``plan``
  (what the page does per upload: the master is read once)
* ``one-shot`` -- the same answers from the one-shot helpers (``describe_export``,
  ``verify_export``, ``overlap_frame``, ``import_export(dry_run=True)``), each parsing the bytes
  and reading the master again: the page before the draft (about 5 parses, 3-4 master reads)
* ``floor``    -- one parse and one master read, nothing else
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_import import TZ, make_exports  # noqa: E402

from datamgr.core.config import Settings  # noqa: E402
from datamgr.ingest.draft import ImportDraft, parse_file  # noqa: E402
from datamgr.ops.import_export import (  # noqa: E402
    describe_export,
    import_export,
    overlap_frame,
    verify_export,
)
from datamgr.store.store import Store  # noqa: E402


def best(fn, n: int = 3) -> float:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--years", type=int, default=4)
    ap.add_argument("--work", default=str(HERE / "out" / "page"))
    a = ap.parse_args()
    full, week = make_exports(a.years)
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    s = Settings.load(data_dir=work, env={})
    import_export(s, "ES1", full.read_bytes(), full.name, tz=TZ, no_derived=True)
    data, name = week.read_bytes(), week.name
    rows = Store(s).read_meta("ES1", "1m").rows

    def draft() -> None:
        d = ImportDraft(s, data, name)
        d.describe("ES1", TZ, "close")
        d.verify("ES1", TZ, "close")
        d.overlap("ES1", TZ, "close")
        d.plan("ES1", TZ, "close")

    def one_shot() -> None:
        describe_export(s, data, name, tz=TZ, stamp="close")
        verify_export(s, "ES1", data, name, tz=TZ, stamp="close")
        overlap_frame(s, "ES1", data, name, tz=TZ, stamp="close")
        import_export(s, "ES1", data, name, tz=TZ, stamp="close", dry_run=True, no_derived=True)

    def floor() -> None:
        parse_file(data, name)
        Store(s).read("ES1", "1m")

    r = {"draft": best(draft), "one-shot": best(one_shot), "floor": best(floor)}
    print(f"master {rows:,} rows ({a.years} years); export {name}: {len(data) / 1e3:,.0f} kB")
    for k, v in r.items():
        print(f"{k:<9} {v:8.3f} s")
    print(f"\none-shot / draft: {r['one-shot'] / r['draft']:.2f}x;  draft / floor: {r['draft'] / r['floor']:.2f}x")


if __name__ == "__main__":
    main()
