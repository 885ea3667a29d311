"""Exception tree of datamgr.

Every error raised on purpose by the library derives from :class:`DataMgrError`, and each
class carries the CLI exit code it maps to (SPEC 13)::

    DataMgrError                 exit 2 unless said otherwise
    ├── ConfigError              bad datamgr.toml / settings / unknown ticker or timeframe
    ├── InputError               bad input file: names file, line and field
    │   └── ParseError           a line that cannot be parsed (line number + offending text)
    ├── InvariantError           bars that break the schema invariants of SPEC 4 (with rows)
    ├── StoreError               the store could not complete a write; nothing was changed
    │   ├── LockedError          another writer holds the lock (exit 3)
    │   └── ReadBackError        the written temp file did not read back identically
    ├── BackupError              a backup could not be made or verified; nothing was written
    ├── CheckFailed              a check ran and failed (verify FAIL, health problems) (exit 1)
    │   └── ConfirmationRequired a guarded import plan was not confirmed (exit 1)
    └── SourceError              a data provider failed (network, rate limit, empty answer)

Third-party errors are translated at the boundary: ``raise SourceError(msg) from err``.
"""

from __future__ import annotations


class DataMgrError(Exception):
    """Base class of every datamgr error."""

    exit_code = 2


class ConfigError(DataMgrError):
    """Settings, configuration file or an argument naming an unknown thing."""


class InputError(DataMgrError):
    """Bad input data. The message names the file, the line and the field."""

    def __init__(self, msg: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        super().__init__(msg)
        self.file = file
        self.line = line
        self.field = field


class ParseError(InputError):
    """A line of an input file could not be parsed."""


class InvariantError(DataMgrError):
    """Bars break the invariants of the bar schema; ``violations`` lists them all."""

    def __init__(self, msg: str, violations: list | None = None) -> None:
        super().__init__(msg)
        self.violations = violations or []


class StoreError(DataMgrError):
    """A store operation failed; the files on disk are as they were."""


class LockedError(StoreError):
    """Another process holds the write lock."""

    exit_code = 3


class ReadBackError(StoreError):
    """A freshly written file did not read back as written."""


class BackupError(DataMgrError):
    """A backup could not be written or verified."""


class CheckFailed(DataMgrError):
    """A check ran to completion and found problems."""

    exit_code = 1


class ConfirmationRequired(CheckFailed):
    """A plan changes existing bars beyond the guard (SPEC 6) and was not confirmed.

    ``what`` says why and how many bars change (no remedy); ``count`` is the number to confirm
    (library: ``confirm=count``; CLI: ``--yes``; page: the typed count).
    """

    def __init__(self, what: str, *, count: int, reasons: list[str], remedy: str | None = None) -> None:
        super().__init__(f"{what} Nothing was imported; " + (remedy or f"confirm with confirm={count}."))
        self.what = what
        self.count = count
        self.reasons = reasons


class SourceError(DataMgrError):
    """A data provider failed: network error, rate limit, or an empty answer."""
