"""SOP: merge a NinjaTrader (or TradingView) export into the 1-minute master (backed up, atomic, journaled).

    python scripts/import_ninjatrader.py "path/to/ES Monday.csv" ES1 1m
        [--tz ZONE] [--stamp close|open] [--replace [FROM..TO]] [--dry-run] [--no-derived]
        [--strict] [--force] [--yes] [--remember] [--json] [--data-dir DIR]

Without ``--tz`` the instrument's configured or remembered zone is used. Same as
``python -m datamgr import FILE TICKER [INTERVAL] ...``. Exit 0 done, 1 verification failed or a
guarded plan without ``--yes`` (nothing written), 2 bad input, 3 locked.
"""

import sys

import _bootstrap  # noqa: F401

from datamgr.cli.main import main

sys.exit(main(["import", *sys.argv[1:]]))
