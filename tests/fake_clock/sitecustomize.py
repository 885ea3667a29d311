"""Imported by Python at start-up in subprocesses of a ``--fake-now`` test run (tests/conftest.py puts
this folder first on PYTHONPATH): the subprocess's wall clock starts at the same fake time."""

from __future__ import annotations

import os

_WHEN = os.environ.get("TEST_FAKE_NOW")
if _WHEN:
    import datetime as _dt

    import time_machine as _tm

    _tm.travel(_dt.datetime.fromisoformat(_WHEN.replace("Z", "+00:00")), tick=True).start()
