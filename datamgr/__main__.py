import sys

from datamgr.cli.main import main

sys.exit(main())
