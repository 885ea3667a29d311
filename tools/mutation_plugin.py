"""pytest plugin for tools/mutation.py: fresh calendar caches in every mutant's test session.

mutmut forks each mutant's test run from a process that already ran the tests once, so an
``lru_cache`` filled there would hand the mutant the unmutated schedule. Clearing the caches at the
start of each session makes every mutant compute them again with its own code.
"""

from __future__ import annotations


def pytest_sessionstart(session) -> None:  # noqa: ARG001 - pytest hook signature
    import datamgr.calendar.sessions as sessions  # the copy under test (mutants/ first on sys.path)

    for name in ("_sessions", "_schedule", "_segments"):
        fn = getattr(sessions, name, None)
        if fn is not None and hasattr(fn, "cache_clear"):
            fn.cache_clear()
