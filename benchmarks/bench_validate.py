"""Yahoo validation on real data: time, false alarms, and detection of planted bad wicks.

Run: ``PYTHONPATH=. python benchmarks/bench_validate.py`` (needs ../shared/data/real/MES 09-25.Last.txt).
Treats the real NinjaTrader MES export as if Yahoo had sent it: every rejection other than the
export's known stray prints outside sessions is a false alarm; then plants +N point high wicks
on 50 random bars and counts how many validation catches.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import DEFAULT_PRECEDENCE
from datamgr.core.schema import empty_bars
from datamgr.ingest.ninjatrader.parse import parse_export
from datamgr.ingest.ninjatrader.place import to_bars
from datamgr.ingest.validate import validate_incoming

_NAME = "MES 09-25.Last.txt"
REAL = next((p / _NAME for p in (Path(__file__).resolve().parents[2] / "shared" / "data" / "real",
                                   Path("/work/shared/data/real")) if (p / _NAME).is_file()), Path(_NAME))


def main() -> None:
    cal = get_calendar("CME Globex Equity")
    bars = to_bars(parse_export(REAL.read_bytes(), REAL.name), "UTC").bars

    def run(b: pl.DataFrame):
        return validate_incoming(b, timeframe="1m", calendar=cal, tick=0.25, master=empty_bars(),
                                 precedence=DEFAULT_PRECEDENCE)

    t = time.perf_counter()
    v = run(bars)
    secs = time.perf_counter() - t
    print(f"real MES: {bars.height:,} bars validated in {secs:.3f} s; rejected {v.rejected.height} {v.reasons()}")
    idx = np.random.default_rng(0).choice(bars.height, 50, replace=False)
    mask = pl.Series(np.isin(np.arange(bars.height), idx))
    planted = bars["datetime"].gather(idx)
    for pts in (10, 20, 40):
        vb = run(bars.with_columns(pl.when(mask).then(pl.col("high") + pts).otherwise(pl.col("high")).alias("high")))
        hit = vb.rejected.filter(pl.col("reason").str.contains("spike"))["datetime"].is_in(planted.implode()).sum()
        print(f"planted +{pts} pt high wicks: caught {hit}/50")


if __name__ == "__main__":
    main()
