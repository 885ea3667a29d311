"""Display times: ISO 8601 with its offset, in the instrument's display zone (US Eastern "ET" unless the
instrument says otherwise: India "IST" for NSE instruments)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

ET = "America/New_York"
#: short labels of the display zones
ZONE_LABELS = {"America/New_York": "ET", "Asia/Kolkata": "IST", "Asia/Calcutta": "IST", "America/Chicago": "CT",
               "UTC": "UTC", "Europe/London": "UK"}


def zone_label(tz: str) -> str:
    """``ET`` for America/New_York, ``IST`` for Asia/Kolkata, else the zone name."""
    return ZONE_LABELS.get(tz, tz)


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
    """Short human form: ``2025-07-03 13:15 ET`` (``... IST`` in Asia/Kolkata)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M ") + zone_label(tz)


def utc_stamp(now: dt.datetime | None = None) -> str:
    """``yyyymmddTHHMMSSZ`` (backup file names)."""
    now = now or dt.datetime.now(dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
