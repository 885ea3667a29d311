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
    """Base class of every datamgr error.

    ``summary`` (optional) is the one line a person reads first; ``str(err)`` stays the full
    detail (file, line, field, the provider's words). :func:`describe` gives both for any error.
    """

    exit_code = 2

    def __init__(self, msg: str = "", *, summary: str | None = None) -> None:
        super().__init__(msg)
        self.summary = summary


class ConfigError(DataMgrError):
    """Settings, configuration file or an argument naming an unknown thing."""


class InputError(DataMgrError):
    """Bad input data. The message names the file, the line and the field."""

    def __init__(self, msg: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None, summary: str | None = None) -> None:
        super().__init__(msg, summary=summary)
        self.file = file
        self.line = line
        self.field = field


class ParseError(InputError):
    """A line of an input file could not be parsed."""


class InvariantError(DataMgrError):
    """Bars break the invariants of the bar schema; ``violations`` lists them all."""

    def __init__(self, msg: str, violations: list | None = None, *, summary: str | None = None) -> None:
        super().__init__(msg, summary=summary)
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


# ---------------------------------------------------------------------- human summaries
#: words of a failed name lookup or connection in the chain of a provider error
OFFLINE_MARKERS = ("dnserror", "could not resolve", "name or service not known", "temporary failure in name",
                   "nodename nor servname", "getaddrinfo", "failed to resolve", "newconnectionerror",
                   "network is unreachable", "connection refused", "couldn't connect", "could not connect",
                   "curl: (6)", "curl: (7)", "no route to host", "connecterror", "connectionerror")
RATE_MARKERS = ("yfratelimiterror", "rate limit", "too many requests", "429")
MAX_SUMMARY = 160


def _chain_text(err: BaseException) -> str:
    parts, seen, e = [], set(), err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        parts.append(f"{type(e).__name__}: {e}")
        e = e.__cause__ or e.__context__
    return " | ".join(parts)


def describe(err: BaseException, provider: str = "Yahoo") -> tuple[str, str]:
    """``(summary, detail)`` of any error: one line for a person, the full text for an expander.

    Offline / DNS failures read "no internet connection (Yahoo unreachable)"; rate limits say
    when to retry; otherwise the error's own ``summary`` or its first sentence.
    """
    detail = str(err) or type(err).__name__
    chain = _chain_text(err).lower()
    if isinstance(err, SourceError) or not isinstance(err, DataMgrError):
        if any(m in chain for m in RATE_MARKERS):
            return (f"{provider} is rate-limiting requests: try again in 15 minutes or later. "
                    "Nothing was written.", detail)
        if any(m in chain for m in OFFLINE_MARKERS):
            return f"No internet connection ({provider} unreachable). Nothing was written.", detail
    summary = getattr(err, "summary", None)
    if not summary:
        first = detail.strip().splitlines()[0] if detail.strip() else type(err).__name__
        summary = first if len(first) <= MAX_SUMMARY else first[:MAX_SUMMARY - 1].rstrip() + "…"
    return summary, detail
