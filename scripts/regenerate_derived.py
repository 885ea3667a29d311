"""SOP wrapper: ``python scripts/regenerate_derived.py ES1`` = ``python -m datamgr regenerate ES1``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from datamgr.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["regenerate", *sys.argv[1:]]))
