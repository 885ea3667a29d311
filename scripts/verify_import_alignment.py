"""SOP wrapper: ``python scripts/verify_import_alignment.py FILE TICKER [--tz Z] ...``
== ``python -m datamgr verify FILE TICKER ...``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from datamgr.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["verify", *sys.argv[1:]]))
