"""Hold the data folder's lock file with a bare ``flock`` -- as a tool that is not datamgr (or a
datamgr too old to write an owner record) would -- until stdin closes: ``hold_lock_raw.py
DATA_DIR``. Prints ``locked``. The owner record is left as the previous holder wrote it."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path


def main() -> None:
    fd = os.open(Path(sys.argv[1]) / ".datamgr.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    print("locked", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
