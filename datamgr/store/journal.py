"""``journal.jsonl``: one line per write operation, append-only.

Line fields: ``id, time, op, file, rows_before, rows_after, added, replaced, backup,
sha256_before, sha256_after, outcome`` plus operation-specific ``details``.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from datamgr.core.config import Settings
from datamgr.core.timefmt import now_utc
from datamgr.store.atomic import append_line


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
    """Append one entry durably."""
    append_line(settings.journal_path, json.dumps(asdict(entry), default=str, sort_keys=False))


def read(settings: Settings, limit: int | None = None) -> list[dict[str, Any]]:
    """Entries, newest first. A torn or corrupt line is reported as ``{"outcome": "unreadable"}``."""
    path = settings.journal_path
    if not path.is_file():
        return []
    out: list[dict[str, Any]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"id": f"line {n}", "op": "?", "file": "?", "outcome": "unreadable"})
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


def _short(v: Any) -> str:
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str, separators=(",", ":"))[:200]
    return str(v)
