"""``journal.jsonl``: append-only, write-ahead.

Line fields: ``id, time, op, file, rows_before, rows_after, added, replaced, backup,
sha256_before, sha256_after, outcome`` plus operation-specific ``details``.

A file write appends two lines with the same ``id``: ``outcome: "intent"`` just before the
``os.replace`` and the completion (``"ok"``) just after. An intent without completion (a writer
killed in between, or a full disk after the replace) is :func:`pending` until the next lock
holder appends its ``reconciled: ...`` outcome (see :meth:`datamgr.store.store.Store.recover`).
:func:`read` shows one entry per operation. A torn line (a kill mid-append) is skipped with a
warning.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.timefmt import fmt_time, now_utc
from datamgr.store.atomic import append_line

log = logging.getLogger(__name__)
INTENT = "intent"
_TAIL = 256 * 1024  # an interrupted write is always among the last lines: later writers reconcile it


def new_op_id() -> str:
    """Operation id: UTC time + random suffix, sortable."""
    return now_utc().strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


@dataclass
class JournalEntry:
    id: str
    op: str
    file: str
    outcome: str = "ok"
    rows_before: int | None = None
    rows_after: int | None = None
    added: int | None = None
    replaced: int | None = None
    backup: str | None = None
    sha256_before: str | None = None
    sha256_after: str | None = None
    time: str = field(default_factory=lambda: now_utc().isoformat())
    details: dict[str, Any] = field(default_factory=dict)


def append(settings: Settings, entry: JournalEntry) -> None:
    """Append one entry durably (all or nothing: a failed append leaves no torn line)."""
    append_raw(settings, asdict(entry))


def append_raw(settings: Settings, obj: dict[str, Any]) -> None:
    append_line(settings.journal_path, json.dumps(obj, default=str, sort_keys=False))


def size(settings: Settings) -> int:
    """Current length of the journal in bytes (0 when it does not exist)."""
    try:
        return settings.journal_path.stat().st_size
    except FileNotFoundError:
        return 0


def withdraw(settings: Settings, length: int, entry: JournalEntry) -> None:
    """Undo an intent whose write failed before the file changed: cut the journal back to
    ``length`` (the file is as it was, so the journal is too). If that fails, append an
    ``aborted`` outcome instead so the intent is not left open."""
    try:
        with open(settings.journal_path, "r+b") as f:
            f.truncate(length)
            f.flush()
            os.fsync(f.fileno())
    except OSError:
        try:
            append_raw(settings, {**asdict(entry), "outcome": "aborted", "time": now_utc().isoformat()})
        except OSError as err:
            log.warning("journal: intent %s of a failed write left open (%s); reconciled at next start",
                        entry.id, err)


def intent(entry: JournalEntry) -> JournalEntry:
    """The write-ahead line of ``entry``: same id and counts, ``outcome = "intent"``."""
    return JournalEntry(**{**asdict(entry), "outcome": INTENT})


def _lines(settings: Settings, tail: bool = False) -> list[tuple[int, dict[str, Any] | None]]:
    path = settings.journal_path
    if not path.is_file():
        return []
    with open(path, "rb") as f:
        start = 0
        if tail:
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - _TAIL)
            f.seek(start)
        raw = f.read()
    text = raw.decode("utf-8", errors="replace").splitlines()
    if start:
        text = text[1:]  # the first line of a tail may be cut
    out: list[tuple[int, dict[str, Any] | None]] = []
    for n, line in enumerate(text, 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            obj = None
        out.append((n, obj if isinstance(obj, dict) else None))
    return out


def pending(settings: Settings) -> list[dict[str, Any]]:
    """Intent lines without a completion line (oldest first), from the journal's tail."""
    open_: dict[str, dict[str, Any]] = {}
    for _, obj in _lines(settings, tail=True):
        if obj is None:
            continue
        key = str(obj.get("id"))
        if obj.get("outcome") == INTENT:
            open_[key] = obj
        else:
            open_.pop(key, None)
    return list(open_.values())


def read(settings: Settings, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries, newest first, one per operation (an intent shows only until its completion is
    written; then the completion stands for both). An intent without completion is listed with
    ``outcome = "intent"`` (interrupted; reconciled by the next writer). A torn or corrupt line is
    skipped with a warning and listed as ``{"outcome": "unreadable"}``."""
    out: list[dict[str, Any]] = []
    done = set()
    for n, obj in _lines(settings):
        if obj is None:
            log.warning("%s: line %d is torn or not JSON; skipped", settings.journal_path.name, n)
            out.append({"id": f"line {n}", "op": "?", "file": "?", "outcome": "unreadable"})
            continue
        if obj.get("outcome") != INTENT:
            done.add(str(obj.get("id")))
        out.append(obj)
    out = [o for o in out if not (o.get("outcome") == INTENT and str(o.get("id")) in done)]
    out.reverse()
    return out[:limit] if limit else out


#: the columns of :func:`flat`, in display order (``details`` holds the operation's own fields)
FLAT_COLUMNS = ("time", "op", "file", "outcome", "rows_before", "rows_after", "added", "replaced", "backup",
                "details", "sha256_before", "sha256_after", "id")


def flat(entry: dict[str, Any]) -> dict[str, Any]:
    """One entry as a flat row for a table: every recorded field; ``details`` (source file, zone,
    stamp, forced, range...) as ``key: value`` text; hashes shortened to 12 characters."""
    row: dict[str, Any] = {k: entry.get(k) for k in FLAT_COLUMNS}
    details = entry.get("details") or {}
    row["details"] = "; ".join(f"{k}: {_short(v)}" for k, v in details.items()) if isinstance(details, dict) else str(details)
    for k in ("sha256_before", "sha256_after"):
        row[k] = (row[k] or "")[:12]
    extra = {k: v for k, v in entry.items() if k not in FLAT_COLUMNS}
    if extra:  # fields written by other versions: never hidden
        row["details"] = "; ".join(x for x in (row["details"], *(f"{k}: {_short(v)}" for k, v in extra.items())) if x)
    return row


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)$")


def _short(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str, separators=(",", ":"))[:200]
    if isinstance(v, str) and _ISO.match(v):  # a recorded time: the one human time style
        return fmt_time(v)
    return str(v)
