"""Background jobs for the app: a long operation runs in a thread, not inside a Streamlit rerun.

A click can end a script run at any ``st.*`` call; a write must never be cut by that. Pages
start a :class:`Job`, keep it in session state and poll it with ``st.fragment(run_every=...)``.
The job's state is plain Python (no Streamlit): the thread keeps running across reruns.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Job:
    """One background operation with progress."""

    name: str
    state: str = "running"            # running | done | failed
    done: int = 0
    total: int = 0
    message: str = "starting"
    result: Any = None
    error: BaseException | None = None
    error_text: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    steps: list[tuple[str, float]] = field(default_factory=list)  # (message, seconds since start)
    _thread: threading.Thread | None = None

    @classmethod
    def start(cls, name: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
        """Run ``fn(*args, progress=job.progress, **kwargs)`` in a daemon thread."""
        job = cls(name)

        def run() -> None:
            try:
                job.result = fn(*args, progress=job.progress, **kwargs)
                job.state = "done"
            except BaseException as err:  # noqa: BLE001 - reported to the page, never swallowed
                job.error = err
                job.error_text = "".join(traceback.format_exception_only(type(err), err)).strip()
                job.state = "failed"
            finally:
                job.finished = time.monotonic()

        job._thread = threading.Thread(target=run, name=f"datamgr-job-{name}", daemon=True)
        job._thread.start()
        return job

    def progress(self, done: int, total: int, message: str) -> None:
        if message != self.message:
            self.steps.append((message, round(time.monotonic() - self.started, 3)))
        self.done, self.total, self.message = done, total, message

    @property
    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Block until finished (tests, CLI). True when finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running
