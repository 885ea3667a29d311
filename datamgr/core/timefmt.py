"""Display times: one style for everything a person reads, ISO 8601 with offset for JSON.

* People read minutes in the display zone with the zone named: ``2025-07-14 00:36 ET``
  (:func:`fmt_time`); seconds only where they carry meaning (the Live page: ``16:58:21 ET``,
  ``fmt_time(t, seconds=True, date=False)``).
* Machines read ISO 8601 with the offset (:func:`to_et_iso`), never a bare UTC string.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

ET = "America/New_York"
UTC = "UTC"
#: short names people use for the zones datamgr meets; others show their abbreviation (``CET``)
ZONE_LABELS = {ET: "ET", "US/Eastern": "ET", "America/Chicago": "CT", "US/Central": "CT",
               "America/Los_Angeles": "PT", "US/Pacific": "PT", "UTC": "UTC", "Etc/UTC": "UTC"}
EMPTY = "—"


def zone_label(tz: str, when: dt.datetime | None = None) -> str:
    """The name shown after a time: ``ET`` for America/New_York, ``UTC``, else the abbreviation."""
    if tz in ZONE_LABELS:
        return ZONE_LABELS[tz]
    when = when or dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    return when.astimezone(ZoneInfo(tz)).tzname() or tz


def parse_time(value: dt.datetime | dt.date | str | None) -> dt.datetime | dt.date | None:
    """An aware datetime (naive means UTC), a date, or None, from any of the forms datamgr stores."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return parse_time(value.to_pydatetime())
    return value


def fmt_time(value: dt.datetime | dt.date | str | None, tz: str = ET, *, seconds: bool = False,
             date: bool = True) -> str:
    """The one human time format of datamgr: ``2025-07-14 00:36 ET``.

    Parameters
    ----------
    value : datetime, date, ISO string or None
        Naive datetimes mean UTC. A date prints as ``2025-07-14``; None or "" as ``—``.
    tz : str
        Display zone (``settings.display_tz``); its label (``ET``) is appended.
    seconds : bool
        Show seconds (only where they carry meaning, e.g. live prices).
    date : bool
        Show the date (False: ``16:58:21 ET``).
    """
    v = parse_time(value)
    if v is None:
        return EMPTY if value is None or value == "" else str(value)
    if not isinstance(v, dt.datetime):
        return v.isoformat()
    local = v.astimezone(ZoneInfo(tz))
    pattern = ("%Y-%m-%d " if date else "") + ("%H:%M:%S" if seconds else "%H:%M")
    return f"{local.strftime(pattern)} {zone_label(tz, local)}"


def to_et_iso(value: dt.datetime | dt.date | str | None, tz: str = ET) -> str | None:
    """``value`` (aware, or naive meaning UTC) as ISO 8601 in ``tz`` with offset; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(ZoneInfo(tz)).isoformat()
    return value.isoformat()


def to_et_text(value: dt.datetime | None, tz: str = ET) -> str:
    """Short human form: ``2025-07-03 13:15 ET`` (same as :func:`fmt_time`)."""
    return fmt_time(value, tz)


def utc_stamp(now: dt.datetime | None = None) -> str:
    """``yyyymmddTHHMMSSZ`` (backup file names)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
