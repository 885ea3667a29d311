"""Progress reporting: every long operation takes ``progress(done, total, message)``."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[int, int, str], None] | None


def report(progress: Progress, done: int, total: int, message: str) -> None:
    """Call ``progress`` if one was given."""
    if progress is not None:
        progress(done, total, message)
