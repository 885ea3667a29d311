"""Imported by Python at start-up in subprocesses of a ``--fake-now`` test run (tests/conftest.py puts
this folder first on PYTHONPATH): the subprocess's wall clock runs ``TEST_FAKE_OFFSET`` seconds from
the real one, the same offset as the test process, so every process of the run agrees on "now"."""

from __future__ import annotations

import os

_OFFSET = os.environ.get("TEST_FAKE_OFFSET")
if _OFFSET:
    import datetime as _dt
    import time as _time

    import time_machine as _tm

    _now = _dt.datetime.fromtimestamp(_time.time() + float(_OFFSET), _dt.UTC)
    _tm.travel(_now, tick=True).start()
    _time.time()  # time-machine ticks from the first read of the clock, not from start(): read it now
    os.environ["TEST_FAKE_PID"] = str(os.getpid())  # this process's clock is set (conftest: do not add again)
