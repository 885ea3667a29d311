"""Benchmark: verify (zone evidence, overlap, price sanity) of an N-year export vs its parse time.

Usage::

    python benchmarks/bench_verify.py              # 18 years (~6.6 M lines), cached in benchmarks/.cache/
    python benchmarks/bench_verify.py --years 1

Cases, one process, best of ``--repeat`` runs each:

* ``parse``            -- ``parse_export`` of the file's bytes (the floor: verify needs the parse)
* ``verify``           -- ``verify_parsed`` on that parse, empty master: placement of every bar,
  zone ranking on the sampled blocks (closures, gaps, edges), sessions of every bar, price sanity
* ``verify + master``  -- the same against the N-year master (the file overlaps it entirely:
  shape, offset, match rate, best shift)
* ``naive``            -- pandas read_csv + to_datetime + tz_localize (a script that only reads)

Target (issue 8): ``verify`` <= 1.5 x ``parse``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_import import TZ, make_exports  # noqa: E402


def _best(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--years", type=int, default=18)
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    import pandas as pd
    import pandas_market_calendars  # noqa: F401 - library import is not verify work

    from datamgr.calendar.sessions import get_calendar
    from datamgr.ingest.ninjatrader.parse import parse_export
    from datamgr.ingest.ninjatrader.place import to_bars
    from datamgr.ingest.ninjatrader.verify import verify_parsed

    full, _ = make_exports(a.years)
    data = full.read_bytes()
    cal = get_calendar("CME Globex Equity")
    cal.segments(__import__("datetime").date(2000, 1, 1), __import__("datetime").date(2000, 1, 2))  # warm the cache
    t_parse, parsed = _best(lambda: parse_export(data, full.name), a.repeat)
    t_verify, (rep, placed) = _best(lambda: verify_parsed(parsed, cal, tz=TZ), a.repeat)
    master = placed.bars
    t_master, (rep_m, _) = _best(lambda: verify_parsed(parsed, cal, tz=TZ, master=master), 1)

    def naive():
        df = pd.read_csv(full, sep=";", header=None, names=["dt", "o", "h", "l", "c", "v"])
        return pd.to_datetime(df["dt"], format="%Y%m%d %H%M%S").dt.tz_localize(TZ, ambiguous="infer")

    t_naive, _ = _best(naive, 1)
    t_place, _ = _best(lambda: to_bars(parsed, TZ), 1)
    print(f"{full.name}: {parsed.rows.height:,} bars")
    for k, v in (("parse", t_parse), ("place (to_bars)", t_place), ("verify", t_verify),
                 ("verify + master", t_master), ("naive read", t_naive)):
        print(f"  {k:<16} {v:7.2f} s")
    print(f"  verdicts: {rep.verdict} ({rep.zone_decision}), with master {rep_m.verdict} "
          f"(overlap {rep_m.overlap.bars:,} bars, match {rep_m.overlap.match_rate})")
    ratio = t_verify / t_parse
    print(f"\nverify / parse = {ratio:.2f} (target <= 1.5)  {'OK' if ratio <= 1.5 else 'MISSED'}; "
          f"with the master {t_master / t_parse:.2f}; parse is {t_naive / t_parse:.1f}x faster than naive pandas")


if __name__ == "__main__":
    main()
