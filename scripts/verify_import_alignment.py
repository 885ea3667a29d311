"""SOP: check a NinjaTrader (or TradingView) export's alignment before importing it (writes no bars).

    python scripts/verify_import_alignment.py "path/to/ES Monday.csv" ES1 --tz "America/Los_Angeles"
        [--stamp close|open] [--interval 1m] [--remember] [--json] [--data-dir DIR]

``--remember`` stores a SUCCESS's zone for the ticker in datamgr.toml (then the import line needs
no ``--tz``).

Same as ``python -m datamgr verify FILE TICKER ...``. Exit 0 ``SUCCESS: Data is aligned.``,
1 ``FAIL: ...``, 2 bad input.
"""

import sys

import _bootstrap  # noqa: F401

from datamgr.cli.main import main

sys.exit(main(["verify", *sys.argv[1:]]))
