"""SOP: merge a NinjaTrader export into the 1-minute master (backed up, atomic, journaled).

    python scripts/import_ninjatrader.py "path/to/ES Monday.csv" ES1 1m
        [--tz ZONE] [--stamp close|open] [--replace [FROM..TO]] [--dry-run] [--no-derived]
        [--strict] [--force] [--json] [--data-dir DIR]

Same as ``python -m datamgr import FILE TICKER [INTERVAL] ...``. Exit 0 done, 1 verification
failed (nothing written), 2 bad input, 3 locked.
"""

import sys

import _bootstrap  # noqa: F401

from datamgr.cli.main import main

sys.exit(main(["import", *sys.argv[1:]]))
