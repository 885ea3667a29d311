"""SOP: copy masters and analysis JSON to the cloud folders of datamgr.toml, verified by hash.

    python scripts/backup_to_gdrive.py [--dest FOLDER] [--dry-run]

Same as ``python -m datamgr backup cloud``.
"""

import sys

import _bootstrap  # noqa: F401

from datamgr.cli.main import main

sys.exit(main(["backup", "cloud", *sys.argv[1:]]))
