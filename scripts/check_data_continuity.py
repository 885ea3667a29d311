"""SOP wrapper: ``python scripts/check_data_continuity.py ES1 --year 2008 --gap 48``.

Same as ``python -m datamgr continuity ...`` (global flags such as ``--data-dir`` and ``--json``
may be given too).
"""

from __future__ import annotations

import sys

import _bootstrap  # noqa: F401

from datamgr.cli.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["continuity", *sys.argv[1:]]))
