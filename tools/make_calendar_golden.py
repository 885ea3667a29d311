"""Regenerate tests/calendar/cme_globex_equity_sessions.csv: the golden CME equity sessions.

Usage::

    python tools/make_calendar_golden.py           # rewrite the CSV
    python tools/make_calendar_golden.py --check   # exit 1 if the CSV differs from a fresh build

The CSV lists every session of a few windows around the CME equity era changes and the holiday
early closes (``window`` names the window; a trading day missing inside a window is a holiday).
It is built here *without* ``datamgr.calendar``, one day at a time in Chicago wall-clock time,
from two sources:

* ``pandas_market_calendars`` "CME Globex Equity": which days trade, each day's open (17:00 CT the
  calendar day before) and its close when it is a holiday early close (anything but 16:00 CT);
* CME's notices on the regular Globex equity day (the table of datamgr/calendar/sessions.py):

  ==========================  ==============================================  =================
  trading days                regular session (CT)                            break (CT)
  ==========================  ==============================================  =================
  before 2012-11-19           15:30 the day before after a regular day, to    16:30-17:00
                              15:15 (17:00 the day before otherwise)           (only after 15:30)
  2012-11-19 .. 2021-06-25    17:00 the day before to 16:15                   15:15-15:30
  from 2021-06-28             17:00 the day before to 16:00                   none
  ==========================  ==============================================  =================

  Early-close days keep the library's close and have no 15:15 halt.

``tests/calendar/test_calendar_golden.py`` compares ``datamgr.calendar`` with this file, like
exchange_calendars checks its calendars against per-exchange answer CSVs.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "tests" / "calendar" / "cme_globex_equity_sessions.csv"
CT = ZoneInfo("America/Chicago")
UTC = dt.UTC
ERA_2012 = dt.date(2012, 11, 19)
ERA_2021 = dt.date(2021, 6, 28)
D = dt.date

WINDOWS = [
    ("2008 summer: July 3 early close, July 4", D(2008, 6, 27), D(2008, 7, 9)),
    ("2008 Thanksgiving and Christmas", D(2008, 11, 24), D(2009, 1, 6)),
    ("2012-11-19 era change, Thanksgiving", D(2012, 11, 12), D(2012, 11, 30)),
    ("2021-06-28 era change, July 5 observed", D(2021, 6, 21), D(2021, 7, 9)),
    ("2023 Good Friday with jobs report", D(2023, 4, 3), D(2023, 4, 12)),
    ("2024 spring DST switch", D(2024, 3, 6), D(2024, 3, 13)),
    ("2025 Juneteenth, July 3 and 4 early closes", D(2025, 6, 16), D(2025, 7, 9)),
    ("2025 autumn DST, Thanksgiving", D(2025, 10, 30), D(2025, 11, 4)),
    ("2025 Christmas and New Year", D(2025, 12, 22), D(2026, 1, 6)),
]
FIELDS = ["window", "trading_day", "open", "close", "break_start", "break_end", "minutes", "open_ct", "close_ct"]


def _ct(day: dt.date, h: int, m: int) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, h, m, tzinfo=CT)


def _iso(t: dt.datetime | None) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ") if t is not None else ""


def library_days(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.datetime, dt.datetime]]:
    """(trading day, open, close) of pandas_market_calendars' "CME Globex Equity", aware datetimes."""
    import pandas_market_calendars as mcal  # the reference source of trading days and early closes

    sched = mcal.get_calendar("CME Globex Equity").schedule(start - dt.timedelta(days=7), end)
    return [(i.date(), o.to_pydatetime(), c.to_pydatetime())
            for i, o, c in zip(sched.index, sched["market_open"], sched["market_close"], strict=True)]


def rows() -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for name, start, end in WINDOWS:
        days = library_days(start, end)
        prev_close: dt.datetime | None = None
        for day, lib_open, lib_close in days:
            local_close = lib_close.astimezone(CT)
            regular = (local_close.hour, local_close.minute) == (16, 0)
            opened, closed = lib_open, lib_close
            brk: tuple[dt.datetime, dt.datetime] | None = None
            if day < ERA_2012:
                if regular:
                    closed = _ct(day, 15, 15)
                prev_day = day - dt.timedelta(days=1)
                if prev_close is not None and prev_close == _ct(prev_day, 15, 15) \
                        and lib_open.astimezone(CT) == _ct(prev_day, 17, 0):
                    opened = _ct(prev_day, 15, 30)  # reopened 15 min after a regular close
                    brk = (_ct(prev_day, 16, 30), _ct(prev_day, 17, 0))
            elif day < ERA_2021:
                if regular:
                    closed = _ct(day, 16, 15)
                    brk = (_ct(day, 15, 15), _ct(day, 15, 30))
            if start <= day <= end:
                minutes = int((closed - opened).total_seconds() // 60)
                if brk:
                    minutes -= int((brk[1] - brk[0]).total_seconds() // 60)
                out.append({
                    "window": name, "trading_day": day.isoformat(), "open": _iso(opened), "close": _iso(closed),
                    "break_start": _iso(brk[0]) if brk else "", "break_end": _iso(brk[1]) if brk else "",
                    "minutes": str(minutes),
                    "open_ct": opened.astimezone(CT).strftime("%a %H:%M"),
                    "close_ct": closed.astimezone(CT).strftime("%a %H:%M"),
                })
            prev_close = closed
    return out


def render() -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, FIELDS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows())
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="compare with the CSV, write nothing")
    args = ap.parse_args(argv)
    text = render()
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        sys.stdout.write(f"{OUT.name}: {'up to date' if same else 'DIFFERS from a fresh build'}\n")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {OUT} ({text.count(chr(10)) - 1} sessions)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
