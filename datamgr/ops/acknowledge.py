"""Acknowledge a gap: a journaled, atomic write of ``calendar_overrides.toml`` under the write lock.

The overrides file is read by the calendar (:mod:`datamgr.calendar.overrides`); writing it is a use
case here, because it takes the store's lock, keeps a ``.bak`` and appends to the journal.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
from dataclasses import replace
from pathlib import Path

from datamgr.calendar.overrides import ET, AckGap, _et, load_overrides, render
from datamgr.core.errors import StoreError
from datamgr.core.progress import Progress, report
from datamgr.store.atomic import atomic_write_bytes
from datamgr.store.journal import JournalEntry, append, new_op_id
from datamgr.store.store import Store

log = logging.getLogger(__name__)


def acknowledge_gap(settings, ticker: str, start: dt.datetime, end: dt.datetime, missing: int,
                    note: str = "", progress: Progress = None) -> Path:
    """Add an acknowledged gap to the overrides file (atomic, under the write lock, journaled).

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
    path: Path = settings.overrides_path
    report(progress, 0, 1, f"acknowledging a gap in {path.name}")
    with Store(settings).lock("acknowledge gap"):
        before = path.read_bytes() if path.is_file() else None
        ov = load_overrides(path)
        s_utc, e_utc = start.astimezone(dt.UTC), end.astimezone(dt.UTC)
        if any(a.ticker == ticker and a.start == s_utc and a.end == e_utc for a in ov.acknowledged):
            return path
        now = dt.datetime.now(dt.UTC).astimezone(ET).isoformat(timespec="seconds")
        ack = AckGap(ticker, s_utc, e_utc, int(missing), note, now)
        new = replace(ov, acknowledged=ov.acknowledged + (ack,))
        data = render(new).encode("utf-8")
        check = tomllib.loads(data.decode("utf-8"))  # never write a file we cannot read back
        if len(check.get("acknowledged", [])) != len(new.acknowledged):
            raise StoreError(f"{path}: rendered overrides do not read back; nothing written")
        backup = None
        if before is not None:
            backup = path.with_name(path.name + ".bak")
            atomic_write_bytes(backup, before)
        atomic_write_bytes(path, data)
        append(settings, JournalEntry(
            id=new_op_id(), op="acknowledge_gap", file=path.name,
            backup=str(backup) if backup else None,
            details={"ticker": ticker, "start": _et(s_utc), "end": _et(e_utc),
                     "missing": int(missing), "note": note}))
    report(progress, 1, 1, "done")
    log.info("acknowledged gap %s %s..%s (%d min)", ticker, _et(s_utc), _et(e_utc), missing)
    return path
