"""pytest plugin for tools/mutation.py: fresh calendar caches for every mutant.

mutmut forks each mutant's test run from a process that already ran the tests once, and it runs
only the tests that reached the mutated function during its first (stats) run. The calendar caches
its schedules (``lru_cache`` in ``sessions`` and ``cache``, and ``cache._MEM``), so an unmutated schedule could be reused by a mutant, and only the
first test that built a schedule would be linked to the schedule code. The caches are therefore
cleared at the start of every test session and, when the calendar itself is mutated
(``mutation_options.json``: ``{"clear_calendar_cache": "test"}``), before every test.
"""

from __future__ import annotations

import json
from pathlib import Path

_OPTIONS = Path("mutation_options.json")


def _clear() -> None:
    import datamgr.calendar.cache as cache  # the copies under test (mutants/ first on sys.path)
    import datamgr.calendar.sessions as sessions

    for mod, names in ((sessions, ("_sessions", "_schedule", "_segments")), (cache, ("schedule",))):
        for name in names:
            fn = getattr(mod, name, None)
            if fn is not None and hasattr(fn, "cache_clear"):
                fn.cache_clear()
    mem = getattr(cache, "_MEM", None)  # segments by cache key, in memory
    if isinstance(mem, dict):
        mem.clear()


def _per_test() -> bool:
    try:
        return json.loads(_OPTIONS.read_text(encoding="utf-8")).get("clear_calendar_cache") == "test"
    except (OSError, ValueError):
        return False


def pytest_sessionstart(session) -> None:  # noqa: ARG001 - pytest hook signature
    _clear()


def pytest_runtest_setup(item) -> None:  # noqa: ARG001 - pytest hook signature
    if _per_test():
        _clear()
