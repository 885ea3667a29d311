"""Write the bars of a Parquet file through the store once: ``write_bars.py DATA_DIR BARS.parquet [FSIZE]``.

With FSIZE, the process may not create files larger than FSIZE bytes (RLIMIT_FSIZE, SIGXFSZ
ignored), so a big write fails for real inside pyarrow with EFBIG. Exit code: the datamgr exit
code of the error, 0 on success, 9 on any other exception (its type printed on stderr).
"""

from __future__ import annotations

import os
import resource
import signal
import sys

import _common  # noqa: F401
import polars as pl

from datamgr.core.config import Settings
from datamgr.core.errors import DataMgrError
from datamgr.store.store import Store


def main() -> int:
    data_dir, bars = sys.argv[1], sys.argv[2]
    df = pl.read_parquet(bars)
    if len(sys.argv) > 3:
        limit = int(sys.argv[3])
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        Store(Settings.load(data_dir=data_dir, env={})).write("ES1", "1m", df, operation="test")
    except DataMgrError as err:
        sys.stderr.write(f"{type(err).__name__}: {err}\n")
        return err.exit_code
    except Exception as err:  # noqa: BLE001 - report the raw type to the test
        sys.stderr.write(f"RAW {type(err).__name__}: {err}\n")
        return 9
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # Under RLIMIT_FSIZE the interpreter's teardown sometimes aborts in a native library's
    # destructor ("terminate called without an active exception"); the exit code must be ours.
    os._exit(code)
