"""The faked clock the suite can run under (``pytest --fake-now ISO``) is itself right: every process
of a run agrees on "now", and the clock-dependent tests pass on a weekday evening and on a Sunday.

The whole suite under the faked clock is a manual run (README "Test strength"); here the mechanism
and the clock-dependent files run inside the normal suite, so CI notices when either breaks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import FAKE_CLOCK_DIR, REPO

OFFSET = 86_400.0 * 3  # three days ahead of the real clock


def test_a_subprocess_clock_runs_from_its_start_not_from_its_first_read():
    # time-machine ticks from the first read of the clock; sitecustomize reads it at start-up, so a
    # process that first asks for the time a second after starting still agrees with its parent
    base = float(os.environ.get("TEST_FAKE_OFFSET") or 0)  # this run's own offset (a --fake-now run), else 0
    env = {**os.environ, "TEST_FAKE_OFFSET": str(base + OFFSET), "PYTHONPATH": str(FAKE_CLOCK_DIR)}
    env.pop("TEST_FAKE_PID", None)
    before = time.time() + OFFSET
    out = subprocess.run([sys.executable, "-c", "import time; time.sleep(1.0); print(repr(time.time()))"],
                         env=env, capture_output=True, text=True, check=True, timeout=60).stdout
    after = time.time() + OFFSET
    child = float(out)
    # the child read its clock after sleeping 1 s and before it exited: causality bounds it
    assert before + 1.0 <= child <= after, (before, child, after)


@pytest.mark.parametrize("when", ["2026-12-02T23:30:00Z", "2026-12-06T12:00:00Z"], ids=["wednesday-2330utc", "sunday"])
def test_the_clock_dependent_tests_pass_at_any_hour(when, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_FAKE", "PYTEST_XDIST", "DATAMGR_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "--fake-now", when,
         "--basetemp", str(tmp_path / "run"), "tests/health/test_health_flags.py", "tests/health/test_health_quick.py"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert f"fake clock: started at {when[:19]}" in proc.stdout
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
