"""Die (``os._exit(9)``) at one moment of a store write: ``die_mid_write.py DATA_DIR BARS.parquet MOMENT``.

MOMENT ``before-replace``: after the journal's intent line, before ``os.replace``;
``after-replace``: after ``os.replace``, before the journal's completion line. Like a SIGKILL at
that instant (no clean-up runs), but deterministic.
"""

from __future__ import annotations

import os
import sys

import _common  # noqa: F401
import polars as pl

from datamgr.core.config import Settings
from datamgr.store.store import Store


def main() -> None:
    data_dir, bars, moment = sys.argv[1], sys.argv[2], sys.argv[3]
    df = pl.read_parquet(bars)
    real = os.replace

    def replace(src, dst):  # stdlib fault injection: our code runs unmodified
        if os.path.basename(dst) != "ES1_1m.parquet":
            return real(src, dst)
        if moment == "after-replace":
            real(src, dst)
        os._exit(9)

    os.replace = replace
    Store(Settings.load(data_dir=data_dir, env={})).write("ES1", "1m", df, operation="test")


if __name__ == "__main__":
    main()
