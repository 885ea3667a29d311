"""Acknowledge gaps: a journaled, atomic write of ``calendar_overrides.toml`` under the write lock.

One action (one gap, a selection, or a rule such as "all quiet gaps") is one write and one journal
line, however many gaps it acknowledges.

The overrides file is read by the calendar (:mod:`datamgr.calendar.overrides`); writing it is a use
case here, because it takes the store's lock, keeps a ``.bak`` and appends to the journal.

The file is edited, not re-rendered: the new ``[[acknowledged]]`` tables (rendered by tomlkit) are
appended to its text, so everything else -- comments, layout, keys datamgr does not know -- is kept
byte for byte (a hand-written inline ``acknowledged = [...]`` is edited through tomlkit's document
instead). The result must read back as exactly the old content plus the new entries, or nothing is
written. A note is one line of printable text: control characters (newlines and tabs included)
and lone surrogates are refused with an :class:`~datamgr.core.errors.InputError` naming the
field, before anything is read or written.
"""

from __future__ import annotations

import datetime as dt
import logging
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Array

from datamgr.calendar.overrides import ET, AckGap, _et, overrides_from_toml, read_toml
from datamgr.core.errors import InputError, StoreError
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
    InputError
        ``note`` holds a control character or a lone surrogate (nothing read or written).
    StoreError
        The edited file would not read back (nothing written); LockedError when another writer
        holds the lock.
    """
    check_note(note)
    path: Path = settings.overrides_path
    total = len(gaps)
    report(progress, 0, 1, f"acknowledging {total} gap(s) in {path.name}")
    with Store(settings).lock("acknowledge gaps"):
        before = path.read_bytes() if path.is_file() else None
        raw = read_toml(_text(path, before), path) if before is not None else {}  # parsed once
        ov = overrides_from_toml(raw, path)
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
        try:  # the new entries appended to the text: every byte of the old file stays
            data = _append_text(before, new).encode("utf-8")
            _reads_back(path, raw, data, new)
        except StoreError:  # ``acknowledged = [...]`` inline: edit the document instead
            data = _append(path, before, new).encode("utf-8")
            _reads_back(path, raw, data, new)  # never write a file that does not read back
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


def check_note(note: str, field: str = "note") -> None:
    """Refuse a note that is not one line of printable text (control characters, newlines and
    tabs included, lone surrogates), naming the field, the character and its position."""
    for i, ch in enumerate(str(note), 1):
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs") or ch in "\u2028\u2029":
            kind = "a lone surrogate" if cat == "Cs" else "a control character (line breaks and tabs included)"
            msg = (f"{field}: character {i} is U+{ord(ch):04X}, {kind}; a note is one line of printable text. "
                   "Nothing was written.")
            raise InputError(msg, field=field)


def _entry(a: AckGap) -> dict:
    return {"ticker": a.ticker, "start": _et(a.start), "end": _et(a.end), "missing": int(a.missing),
            "note": a.note, "acknowledged_at": a.acknowledged_at}


def _append_text(before: bytes | None, new: list[AckGap]) -> str:
    """The old text followed by one ``[[acknowledged]]`` table per new entry (rendered by tomlkit)."""
    block = tomlkit.dumps({"acknowledged": [_entry(a) for a in new]})
    if not before:
        return "# datamgr calendar overrides (see datamgr/calendar/overrides.py for the format)\n\n" + block
    text = before.decode("utf-8")
    return text + ("" if text.endswith("\n") else "\n") + "\n" + block


def _append(path: Path, before: bytes | None, new: list[AckGap]) -> str:
    """The overrides text with ``new`` appended to ``[[acknowledged]]``, everything else kept."""
    try:
        doc = tomlkit.parse(before.decode("utf-8")) if before else tomlkit.document()
    except (TOMLKitError, UnicodeDecodeError) as err:  # load_overrides accepted it: should not happen
        raise StoreError(f"{path}: cannot be edited ({err}); nothing written") from err
    if not before:
        doc.add(tomlkit.comment("datamgr calendar overrides (see datamgr/calendar/overrides.py for the format)"))
    arr = doc.get("acknowledged")
    if arr is None:
        arr = tomlkit.aot()
        doc.append("acknowledged", arr)
    for a in new:
        entry = _entry(a)
        if isinstance(arr, AoT):
            t = tomlkit.table()
            t.update(entry)
            arr.append(t)
        elif isinstance(arr, Array):  # ``acknowledged = [{...}]`` written by hand
            t = tomlkit.inline_table()
            t.update(entry)
            arr.append(t)
        else:
            raise StoreError(f"{path}: 'acknowledged' is not an array of tables; nothing written")
    return tomlkit.dumps(doc)


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err})", file=str(path)) from err


def _reads_back(path: Path, old: dict, data: bytes, new: list[AckGap]) -> None:
    """``data`` parses as the old document ``old`` plus exactly the ``new`` entries (else nothing
    is written)."""
    try:
        got = tomllib.loads(data.decode("utf-8"))
        ov = overrides_from_toml(got, path)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, InputError) as err:
        raise StoreError(f"{path}: edited overrides do not read back ({err}); nothing written") from err
    acks, kept = got.get("acknowledged", []), old.get("acknowledged", [])
    rest = {k: v for k, v in got.items() if k != "acknowledged"}
    if rest != {k: v for k, v in old.items() if k != "acknowledged"} or acks[:len(kept)] != kept \
            or len(acks) != len(kept) + len(new) \
            or [(a.start, a.end) for a in ov.acknowledged[len(kept):]] != [(a.start, a.end) for a in new]:
        raise StoreError(f"{path}: edited overrides do not read back as the old file plus the new entries; "
                         "nothing written")
