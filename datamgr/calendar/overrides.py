"""``calendar_overrides.toml``: local corrections to the session calendar and acknowledged gaps.

The file lives in the data folder (``settings.overrides_path``); every key is optional::

    # periods the exchange calendar thinks are open but were closed (outages, extra holidays)
    [[closed]]
    start = "2025-07-10T14:00:00-04:00"   # ISO 8601; a time without offset is ET
    end = "2025-07-10T15:00:00-04:00"     # exclusive
    calendar = "CME Globex Equity"        # optional: only instruments on this calendar
    ticker = "ES1"                        # optional: only this ticker
    reason = "Globex outage"

    # periods the calendar thinks are closed but traded (removes a closed period)
    [[opened]]
    start = "2025-07-04T13:00:00-04:00"
    end = "2025-07-04T14:00:00-04:00"
    trading_day = "2025-07-07"            # optional: default = the next session's trading day
    reason = "exchange stayed open"

    # gaps the user has looked at and accepted: still listed, never counted as a problem
    [[acknowledged]]
    ticker = "ES1"
    start = "2024-03-12T10:00:00-04:00"   # first missing minute (ET)
    end = "2024-03-12T10:41:00-04:00"     # last missing minute (ET)
    missing = 42
    note = "vendor outage"
    acknowledged_at = "2026-11-22T03:10:00-05:00"

Decisions: a malformed file raises :class:`~datamgr.core.errors.InputError` naming the file, the line
(TOML syntax errors) or the entry and field, so a typo never silently changes the calendar. The
file is written by :mod:`datamgr.ops.acknowledge` (tomlkit: comments and unknown keys kept): temp
file + fsync + atomic replace under the store's write lock, with a journal line, and the previous
version kept as ``calendar_overrides.toml.bak``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

from datamgr.core.errors import InputError

log = logging.getLogger(__name__)
ET = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Period:
    """A ``[start, end)`` period (UTC) from ``[[closed]]`` or ``[[opened]]``."""

    start: dt.datetime
    end: dt.datetime
    calendar: str | None = None
    ticker: str | None = None
    trading_day: dt.date | None = None
    reason: str = ""

    def applies(self, ticker: str, calendar: str) -> bool:
        return self.ticker in (None, ticker) and self.calendar in (None, calendar)


@dataclass(frozen=True)
class AckGap:
    """An acknowledged gap: first and last missing minute (UTC, inclusive)."""

    ticker: str
    start: dt.datetime
    end: dt.datetime
    missing: int = 0
    note: str = ""
    acknowledged_at: str = ""


@dataclass(frozen=True)
class Overrides:
    closed: tuple[Period, ...] = ()
    opened: tuple[Period, ...] = ()
    acknowledged: tuple[AckGap, ...] = field(default_factory=tuple)

    def acknowledged_for(self, ticker: str) -> tuple[AckGap, ...]:
        return tuple(a for a in self.acknowledged if a.ticker == ticker)


def load_overrides(path: Path) -> Overrides:
    """Read the overrides file; a missing file means no overrides.

    Raises
    ------
    InputError
        Bad TOML (with its line) or a bad entry (``[[closed]] #2 field 'end': ...``).
    """
    if not path.is_file():
        return Overrides()
    return parse_overrides(path.read_text(encoding="utf-8"), path)


def parse_overrides(text: str, path: Path) -> Overrides:
    """:func:`load_overrides` of ``text`` (``path`` names the file in messages)."""
    return overrides_from_toml(read_toml(text, path), path)


def read_toml(text: str, path: Path) -> dict:
    """The TOML document ``text`` as a dict; a syntax error is an InputError with its line."""
    import tomllib  # only when there is a file to read: ~2 ms off every CLI start without one

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        line = getattr(err, "lineno", None)  # Python 3.14+; before, only in the text "(at line N, column M)"
        if line is None:
            found = re.search(r"at line (\d+)", str(err))
            line = int(found.group(1)) if found else None
        raise InputError(f"{path}: line {line}: {err}", file=str(path), line=line) from err


def overrides_from_toml(raw: dict, path: Path) -> Overrides:
    """The overrides in a parsed TOML document (checked entry by entry, see :func:`load_overrides`)."""
    unknown = set(raw) - {"closed", "opened", "acknowledged"}
    if unknown:
        msg = f"{path}: unknown table(s) {sorted(unknown)}; expected closed, opened, acknowledged"
        raise InputError(msg, file=str(path), field=sorted(unknown)[0])
    closed = tuple(_period(path, "closed", i, e) for i, e in enumerate(raw.get("closed", []), 1))
    opened = tuple(_period(path, "opened", i, e) for i, e in enumerate(raw.get("opened", []), 1))
    acks = tuple(_ack(path, i, e) for i, e in enumerate(raw.get("acknowledged", []), 1))
    return Overrides(closed, opened, acks)


def overrides_fingerprint(path: Path) -> str:
    """SHA-256 of the overrides file's bytes (``"absent"`` when there is none): a cache key that
    changes with every edit, closed/opened periods and acknowledgements alike."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "absent"


def _bad(path: Path, table: str, i: int, fld: str, what: str) -> InputError:
    return InputError(f"{path}: [[{table}]] entry #{i} field {fld!r}: {what}",
                      file=str(path), field=fld)


def _time(path: Path, table: str, i: int, entry: dict, fld: str) -> dt.datetime:
    if fld not in entry:
        raise _bad(path, table, i, fld, "missing")
    v = entry[fld]
    try:
        t = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
    except ValueError as err:
        raise _bad(path, table, i, fld, f"{v!r} is not an ISO 8601 time") from err
    if t.tzinfo is None:
        t = t.replace(tzinfo=ET)
    return t.astimezone(dt.UTC)


def _period(path: Path, table: str, i: int, e: dict) -> Period:
    start, end = _time(path, table, i, e, "start"), _time(path, table, i, e, "end")
    if end <= start:
        raise _bad(path, table, i, "end", "must be after start")
    day = None
    if "trading_day" in e:
        try:
            day = dt.date.fromisoformat(str(e["trading_day"]))
        except ValueError as err:
            raise _bad(path, table, i, "trading_day", f"{e['trading_day']!r} is not a date") from err
    return Period(start, end, e.get("calendar"), e.get("ticker"), day, str(e.get("reason", "")))


def _ack(path: Path, i: int, e: dict) -> AckGap:
    if not e.get("ticker"):
        raise _bad(path, "acknowledged", i, "ticker", "missing")
    start = _time(path, "acknowledged", i, e, "start")
    end = _time(path, "acknowledged", i, e, "end")
    if end < start:
        raise _bad(path, "acknowledged", i, "end", "must not be before start")
    try:
        missing = int(e.get("missing", 0))
    except (TypeError, ValueError) as err:
        raise _bad(path, "acknowledged", i, "missing", "not an integer") from err
    return AckGap(str(e["ticker"]), start, end, missing, str(e.get("note", "")),
                  str(e.get("acknowledged_at", "")))


# ---------------------------------------------------------------------- writing
def _q(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def _et(t: dt.datetime) -> str:
    return t.astimezone(ET).isoformat()


def render(ov: Overrides) -> str:
    """The TOML text of ``ov`` (round-trips through :func:`load_overrides`)."""
    out = ["# datamgr calendar overrides (see datamgr/overrides.py for the format)", ""]
    for table, periods in (("closed", ov.closed), ("opened", ov.opened)):
        for p in periods:
            out.append(f"[[{table}]]")
            out += [f"start = {_q(_et(p.start))}", f"end = {_q(_et(p.end))}"]
            for k in ("calendar", "ticker"):
                if getattr(p, k):
                    out.append(f"{k} = {_q(getattr(p, k))}")
            if p.trading_day:
                out.append(f"trading_day = {_q(p.trading_day.isoformat())}")
            out += [f"reason = {_q(p.reason)}", ""]
    for a in ov.acknowledged:
        out += ["[[acknowledged]]", f"ticker = {_q(a.ticker)}", f"start = {_q(_et(a.start))}",
                f"end = {_q(_et(a.end))}", f"missing = {int(a.missing)}", f"note = {_q(a.note)}",
                f"acknowledged_at = {_q(a.acknowledged_at)}", ""]
    return "\n".join(out)
