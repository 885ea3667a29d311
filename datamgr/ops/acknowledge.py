"""Acknowledge gaps: a journaled, atomic write of ``calendar_overrides.toml`` under the write lock.

One action (one gap, a selection, or a rule such as "all quiet gaps") is one write and one journal
line, however many gaps it acknowledges.

The overrides file is read by the calendar (:mod:`datamgr.calendar.overrides`); writing it is a use
case here, because it takes the store's lock, keeps a ``.bak`` and appends to the journal.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from datamgr.calendar.overrides import ET, AckGap, _et, load_overrides, render
from datamgr.core.errors import StoreError
from datamgr.core.progress import Progress, report
from datamgr.store.atomic import atomic_write_bytes
from datamgr.store.journal import JournalEntry, append, new_op_id
from datamgr.store.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AckResult:
    """What one acknowledge action did: the overrides file, gaps added, gaps already acknowledged."""

    path: Path
    added: int
    already: int

    def to_json(self) -> dict:
        return {"path": str(self.path), "added": self.added, "already": self.already}


def acknowledge_gap(settings, ticker: str, start: dt.datetime, end: dt.datetime, missing: int,
                    note: str = "", progress: Progress = None) -> Path:
    """Add one acknowledged gap to the overrides file (atomic, under the write lock, journaled).

    Parameters
    ----------
    settings : Settings
    ticker : str
    start, end : datetime
        First and last missing minute of the gap (aware).
    missing : int
        Missing expected minutes.
    note : str
        Why the gap is accepted.
    progress : callable, optional
        ``progress(done, total, message)``.

    Returns
    -------
    Path
        The overrides file. Acknowledging the same gap twice changes nothing.
    """
    return acknowledge_gaps(settings, ticker, [(start, end, missing)], note, progress).path


def acknowledge_gaps(settings, ticker: str, gaps: Sequence[tuple[dt.datetime, dt.datetime, int]],
                     note: str = "", progress: Progress = None, rule: str = "") -> AckResult:
    """Acknowledge many gaps with ONE write of the overrides file (bulk acknowledge).

    Parameters
    ----------
    settings : Settings
    ticker : str
    gaps : sequence of (start, end, missing)
        First and last missing minute (aware) and missing minutes of each gap.
    note : str
        Why the gaps are accepted (stored with each entry).
    progress : callable, optional
        ``progress(done, total, message)``.
    rule : str
        How the gaps were chosen (e.g. ``"all quiet gaps"``), for the journal.

    Returns
    -------
    AckResult
        Gaps already acknowledged (same ticker, start and end) are skipped; when nothing is new
        the file is not written.

    Raises
    ------
    StoreError
        The rendered file would not read back (nothing written); LockedError when another writer
        holds the lock.
    """
    path: Path = settings.overrides_path
    total = len(gaps)
    report(progress, 0, 1, f"acknowledging {total} gap(s) in {path.name}")
    with Store(settings).lock("acknowledge gaps"):
        before = path.read_bytes() if path.is_file() else None
        ov = load_overrides(path)
        have = {(a.ticker, a.start, a.end) for a in ov.acknowledged}
        now = dt.datetime.now(dt.UTC).astimezone(ET).isoformat(timespec="seconds")
        new: list[AckGap] = []
        for start, end, missing in gaps:  # the user's selection: at most a few thousand entries
            s_utc, e_utc = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
            if (ticker, s_utc, e_utc) in have:
                continue
            have.add((ticker, s_utc, e_utc))
            new.append(AckGap(ticker, s_utc, e_utc, int(missing), note, now))
        if not new:
            report(progress, 1, 1, "nothing new")
            return AckResult(path, 0, total)
        updated = replace(ov, acknowledged=ov.acknowledged + tuple(new))
        data = render(updated).encode("utf-8")
        check = tomllib.loads(data.decode("utf-8"))  # never write a file we cannot read back
        if len(check.get("acknowledged", [])) != len(updated.acknowledged):
            raise StoreError(f"{path}: rendered overrides do not read back; nothing written")
        backup = None
        if before is not None:
            backup = path.with_name(path.name + ".bak")
            atomic_write_bytes(backup, before)
        atomic_write_bytes(path, data)
        first, last = min(a.start for a in new), max(a.end for a in new)
        append(settings, JournalEntry(
            id=new_op_id(), op="acknowledge_gap", file=path.name,
            backup=str(backup) if backup else None,
            details={"ticker": ticker, "gaps": len(new), "already": total - len(new), "start": _et(first),
                     "end": _et(last), "missing": sum(a.missing for a in new), "note": note,
                     **({"rule": rule} if rule else {})}))
    report(progress, 1, 1, "done")
    log.info("acknowledged %d gap(s) of %s %s..%s (%s)", len(new), ticker, _et(first), _et(last), rule or "selection")
    return AckResult(path, len(new), total - len(new))
