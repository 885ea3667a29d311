"""Read-modify-write appends under the lock: ``rmw_writer.py DATA_DIR WORKER N``.

Worker ``w`` (0 or 1) appends N one-minute bars, one per locked read-modify-write, at minutes
``end + 2*i + w + 1`` after the initial last bar, so the two workers never collide.
"""

from __future__ import annotations

import datetime as dt
import sys

import _common  # noqa: F401
import polars as pl

from datamgr.core.config import Settings
from datamgr.store.store import Store

BASE = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)


def main() -> None:
    root, worker, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = Store(Settings.load(data_dir=root, env={}))
    for i in range(n):
        t = BASE + dt.timedelta(minutes=2 * i + worker)
        bar = pl.DataFrame({"datetime": [t], "open": [100.0], "high": [101.0], "low": [99.0], "close": [100.5],
                            "volume": [1], "source": [f"w{worker}"]})
        with store.lock(f"worker {worker}"):
            cur = store.read("ES1", "1m")
            new = pl.concat([cur, bar.cast(cur.schema)]).sort("datetime")
            store.write("ES1", "1m", new, operation="append", backup=False)
    print("done", flush=True)


if __name__ == "__main__":
    main()
