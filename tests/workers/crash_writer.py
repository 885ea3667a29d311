"""Write contents A and B alternately forever: ``crash_writer.py DATA_DIR A.parquet B.parquet``.

Prints ``ready <n>`` once it holds the lock (``n`` = temp files left after the lock's orphan
clean-up, which must be 0), then ``wrote`` after every write. The crash test SIGKILLs it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import _common  # noqa: F401
import polars as pl

from datamgr.core.config import Settings
from datamgr.store.atomic import TMP_MARK
from datamgr.store.store import Store


def main() -> None:
    root = Path(sys.argv[1])
    frames = [pl.read_parquet(sys.argv[2]), pl.read_parquet(sys.argv[3])]
    store = Store(Settings.load(data_dir=root, env={}))
    with store.lock("crash test"):
        left = [p for d in (root, root / "backups") if d.is_dir() for p in d.iterdir() if TMP_MARK in p.name]
        store.read("ES1", "1m")  # like an import: read (and verify) the master first, then write
        print(f"ready {len(left)}", flush=True)
        i = 0
        while True:
            store.write("ES1", "1m", frames[i % 2], operation="crash-test")
            print("wrote", flush=True)
            i += 1


if __name__ == "__main__":
    main()
