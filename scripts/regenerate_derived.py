"""SOP wrapper: ``python scripts/regenerate_derived.py ES1`` = ``python -m datamgr regenerate ES1``."""

from __future__ import annotations

import sys

import _bootstrap  # noqa: F401

from datamgr.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["regenerate", *sys.argv[1:]]))
