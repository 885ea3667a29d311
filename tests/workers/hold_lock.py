"""Hold the data folder's write lock until stdin closes: ``hold_lock.py DATA_DIR``. Prints ``locked``."""

from __future__ import annotations

import sys

import _common  # noqa: F401

from datamgr.core.config import Settings
from datamgr.store.store import Store


def main() -> None:
    store = Store(Settings.load(data_dir=sys.argv[1], env={}))
    with store.lock("holding for a test"):
        print("locked", flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
