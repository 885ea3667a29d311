"""SOP wrapper: ``python scripts/import_ninjatrader.py FILE TICKER [INTERVAL] [--tz Z] ...``
== ``python -m datamgr import FILE TICKER [INTERVAL] ...``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamgr.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["import", *sys.argv[1:]]))
