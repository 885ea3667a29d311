"""Shared fixtures: temporary data folders, the store, the real exports, folder hashing."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import pytest

from datamgr.core.config import Settings
from datamgr.ops.demo import make_demo_bars
from datamgr.store.store import Store

REPO = Path(__file__).resolve().parents[1]
_REAL_CANDIDATES = tuple(dict.fromkeys((REPO.parent / "shared" / "data" / "real", Path("/work/shared/data/real"))))


FAKE_CLOCK_DIR = Path(__file__).resolve().parent / "fake_clock"


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--fake-now", default=None, metavar="ISO",
        help="run the suite with the wall clock starting at this UTC time (e.g. 2026-12-02T23:30:00Z; "
             "time-machine, ticking): the tests, the library and Python subprocesses started by the tests")


def pytest_configure(config) -> None:
    when = config.getoption("--fake-now")
    offset = os.environ.get("TEST_FAKE_OFFSET")  # inherited: an xdist worker or a nested run
    if (not when and not offset) or os.environ.get("TEST_FAKE_PID") == str(os.getpid()):
        return  # no fake clock, or sitecustomize set it at start-up (an xdist worker)
    import time

    import time_machine  # dev dependency, only for a --fake-now run

    if offset is None:
        start = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
        offset = str(start.timestamp() - time.time())
        os.environ["TEST_FAKE_OFFSET"] = offset
        os.environ["TEST_FAKE_NOW"] = start.isoformat()
    # one offset from the real clock for every process of the run (workers, CLI runs, the feed,
    # streamlit): they all agree on "now" whenever they start
    time_machine.travel(dt.datetime.fromtimestamp(time.time() + float(offset), dt.UTC), tick=True).start()
    time.time()  # time-machine ticks from the first read of the clock, not from start(): read it now
    os.environ["TEST_FAKE_PID"] = str(os.getpid())
    paths = os.environ.get("PYTHONPATH", "")
    if str(FAKE_CLOCK_DIR) not in paths.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(FAKE_CLOCK_DIR), paths) if p)


#: ``record_property`` name under which a browser test hands figures to the terminal summary
FIGURES = "datamgr_figures"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Print the figures that browser tests recorded (``record_property(FIGURES, text)``): the
    page render timings are reported, never asserted. Here, not in tests/e2e/conftest.py: under
    xdist only this conftest is loaded in the controller (the properties travel with the reports)."""
    texts = [value for rep in terminalreporter.stats.get("passed", [])
             for name, value in getattr(rep, "user_properties", ()) if name == FIGURES]
    if texts:
        terminalreporter.section("datamgr figures")
        for t in texts:
            terminalreporter.write_line(t)


def pytest_report_header(config) -> str | None:
    when = os.environ.get("TEST_FAKE_NOW")
    return f"fake clock: started at {when}" if when else None


def folder_hash(path: Path) -> dict[str, str]:
    """sha256 of every file below ``path`` (relative name -> digest): "nothing changed" checks.

    The lock files (``.datamgr.lock``, ``.datamgr.lock.owner``) and the regenerable caches in
    ``.cache/`` (session calendars, written by any reader on a cold cache) are bookkeeping, not data.
    """
    out = {}
    for p in sorted(Path(path).rglob("*")):
        if p.is_file() and not p.name.startswith(".datamgr.lock") and ".cache" not in p.relative_to(path).parts[:1]:
            out[str(p.relative_to(path))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    d = tmp_path / "data"
    d.mkdir()
    return Settings.load(data_dir=d, env={})


@pytest.fixture
def store(settings: Settings) -> Store:
    return Store(settings)


@pytest.fixture
def week_bars():
    """One week of demo 1m bars (2025-03-03 .. 2025-03-07, CME Globex schedule)."""
    return make_demo_bars(dt.date(2025, 3, 3), dt.date(2025, 3, 7), seed=1)


def in_ci() -> bool:
    """CI sets ``CI=true``: there, a missing prerequisite is a failure, never a skip."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(path: Path | None, what: str, looked: str) -> Path:
    """``path`` when present; otherwise a failure in CI (``CI=true``) and a skip outside it.

    The real exports and the seed documents are the judge: CI must never pass without them.
    """
    if path is not None and path.exists():
        return path
    if in_ci():
        pytest.fail(f"{what} missing (looked in {looked}); CI=true requires it", pytrace=False)
    pytest.skip(f"{what} not present (looked in {looked}); outside CI only")


def real_file(name: str) -> Path:
    """The real export ``name`` (../shared/data/real); a failure in CI and a skip outside it when missing."""
    found = next((c / name for c in _REAL_CANDIDATES if (c / name).is_file()), None)
    return require(found, f"the real export {name!r}", " or ".join(str(c) for c in _REAL_CANDIDATES))


@pytest.fixture
def real_data_dir() -> Path:
    found = next((c for c in _REAL_CANDIDATES if c.is_dir()), None)
    return require(found, "the real exports", " or ".join(str(c) for c in _REAL_CANDIDATES))


@pytest.fixture(scope="session")
def big_master(tmp_path_factory):
    """A 1m master of a little over one million bars (two row groups), written through the store.

    Session-scoped and shared read-only: (settings, bars). Tests must not write to it.
    """
    d = tmp_path_factory.mktemp("big") / "data"
    d.mkdir()
    s = Settings.load(data_dir=d, env={})
    bars = make_demo_bars(dt.date(2022, 1, 1), dt.date(2025, 2, 1), seed=3)
    Store(s).write("ES1", "1m", bars, operation="test")
    return s, bars
