"""Write one web chunk through :func:`datamgr.derived.web_chunks.write_atomic` slowly and without
end (1 MiB pieces), so a test can SIGKILL it mid-write: ``write_web_chunk.py DATA_DIR``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import _common  # noqa: F401

from datamgr.derived.web_chunks import write_atomic


def pieces():
    block = b"0," * (1 << 19)
    while True:
        yield block
        time.sleep(0.01)


def main() -> None:
    write_atomic(Path(sys.argv[1]) / "web" / "ES1" / "1m" / "2025-01.json", pieces())


if __name__ == "__main__":
    main()
