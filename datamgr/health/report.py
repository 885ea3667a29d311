"""The ``continuity`` and ``health`` checks of one ticker's 1-minute file, as the CLI and the
Health page run them (read the file once, then :mod:`datamgr.health.gaps` and
:mod:`datamgr.health.integrity`).

What counts as a *problem* (``health`` exits 1; *decision*): unacknowledged ``hole`` gaps of at
least ``min_gap`` minutes and integrity errors (invariants, off-tick prices). Stray bars,
``recurring`` gaps, spikes, zero-volume runs and staleness are *warnings*: they are listed but do not fail the check (a historical file that is
deliberately not updated is not broken; a schedule the calendar doesn't know is not missing data).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import polars as pl

from datamgr.calendar.overrides import load_overrides
from datamgr.calendar.sessions import SessionCalendar, calendar_for
from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import ET, to_et_text
from datamgr.health.gaps import Continuity, Staleness, continuity, staleness
from datamgr.health.integrity import IntegrityReport, scan
from datamgr.store.store import Store

log = logging.getLogger(__name__)


def day_range(year: int | None = None, start: str | dt.date | None = None,
              end: str | dt.date | None = None) -> tuple[dt.date | None, dt.date | None]:
    """Trading-day range from ``--year`` / ``--from`` / ``--to`` (inclusive)."""
    def parse(v: str | dt.date | None, flag: str) -> dt.date | None:
        if v is None or isinstance(v, dt.date):
            return v
        try:
            return dt.date.fromisoformat(v)
        except ValueError as err:
            raise ConfigError(f"{flag} {v!r}: expected a date YYYY-MM-DD") from err

    lo, hi = parse(start, "--from"), parse(end, "--to")
    if year is not None:
        lo = max(lo or dt.date(year, 1, 1), dt.date(year, 1, 1))
        hi = min(hi or dt.date(year, 12, 31), dt.date(year, 12, 31))
    if lo and hi and hi < lo:
        raise ConfigError(f"--to {hi} is before --from {lo}")
    return lo, hi


@dataclass
class HealthReport:
    """Everything the Health page and ``datamgr health`` show for one ticker."""

    ticker: str
    file: str
    rows: int
    calendar: str
    continuity: Continuity
    staleness: Staleness
    integrity: IntegrityReport
    min_gap: int = 1
    tz: str = ET  # the instrument's display zone

    @property
    def problems(self) -> list[str]:
        out = [f"hole {to_text(g.start, self.tz)} .. {to_text(g.end, self.tz)}: {g.missing} missing minutes"
               for g in self.continuity.holes]
        out += [f"{f.rule}: {f.count} row(s)" for f in self.integrity.errors]
        return out

    @property
    def warnings(self) -> list[str]:
        c = self.continuity
        out = []
        if c.outside_session:
            out.append(f"{c.outside_session} bar(s) outside the sessions (stray prints)")
        rec = [g for g in c.reported if g.cls == "recurring"]
        out += [f"recurring gap {g.clock} on {g.sessions} sessions" for g in rec]
        out += [f"{f.rule}: {f.count} row(s), first at {f.times[0] if f.times else '?'}"
                for f in self.integrity.findings if f.severity == "warning"]
        if self.staleness.expected_bars:
            out.append(f"stale: {self.staleness.verdict}")
        return out

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        c = self.continuity.to_json(tz=self.tz)
        counts: dict[str, int] = {}
        for g in self.continuity.reported:
            counts[g.cls] = counts.get(g.cls, 0) + 1
        return {"ticker": self.ticker, "file": self.file, "rows": self.rows,
                "calendar": self.calendar, "ok": self.ok, "problems": self.problems,
                "warnings": self.warnings, "staleness": self.staleness.to_json(self.tz), "timezone": self.tz,
                "continuity": {**c, "gap_counts": counts}, "integrity": self.integrity.to_json()}


def to_text(t: dt.datetime, tz: str = ET) -> str:
    return to_et_text(t, tz)


def _load(settings: Settings, ticker: str) -> tuple[pl.DataFrame, SessionCalendar, tuple]:
    bars = Store(settings).read(ticker, "1m")
    cal = calendar_for(settings, ticker)
    acks = load_overrides(settings.overrides_path).acknowledged_for(ticker)
    return bars, cal, acks


def check_continuity(settings: Settings, ticker: str, *, year: int | None = None,
                     start: str | dt.date | None = None, end: str | dt.date | None = None,
                     min_gap: int = 1, bars: pl.DataFrame | None = None) -> Continuity:
    """``continuity TICKER [--year Y] [--from D] [--to D] [--gap N]`` on the 1m master.

    Parameters
    ----------
    settings : Settings
    ticker : str
    year, start, end
        Trading-day filters (``start``/``end`` as ``YYYY-MM-DD``).
    min_gap : int
        Report only gaps with at least this many missing expected minutes.
    bars : DataFrame, optional
        Already-read bars (else the 1m file is read once).
    """
    if min_gap < 1:
        raise ConfigError(f"--gap {min_gap}: expected a positive number of minutes")
    lo, hi = day_range(year, start, end)
    b, cal, acks = _load(settings, ticker)
    bars = b if bars is None else bars
    if bars.height == 0 and (lo is None or hi is None):
        raise ConfigError(f"{settings.bar_path(ticker, '1m')}: no 1m bars for {ticker}; "
                          "import or update first, or give --from and --to")
    res = continuity(bars, cal, start=lo, end=hi, min_gap=min_gap, acknowledged=acks)
    log.info("continuity %s %s..%s: %d expected, %d present, %d gaps >= %d min", ticker,
             res.first_day, res.last_day, res.expected, res.present, len(res.reported), min_gap)
    return res


def check_health(settings: Settings, ticker: str, *, min_gap: int = 1,
                 now: dt.datetime | None = None, progress: Progress = None) -> HealthReport:
    """All checks of one ticker's 1m file: continuity, staleness, integrity.

    Parameters
    ----------
    settings : Settings
    ticker : str
    min_gap : int
        Gaps shorter than this are neither listed nor problems.
    now : datetime, optional
        Reference time for staleness (default: now).
    progress : callable, optional
        ``progress(done, total, message)``.
    """
    report(progress, 0, 4, "reading the 1m file")
    bars, cal, acks = _load(settings, ticker)
    if bars.height == 0:
        raise ConfigError(f"{settings.bar_path(ticker, '1m')}: no 1m bars for {ticker}; import or update first")
    report(progress, 1, 4, "gaps and coverage")
    cont = continuity(bars, cal, min_gap=min_gap, acknowledged=acks)
    report(progress, 2, 4, "staleness")
    stale = staleness(bars["datetime"][-1], cal, now)
    report(progress, 3, 4, "integrity scan")
    integ = scan(bars, settings.instrument(ticker).tick_size)
    report(progress, 4, 4, "done")
    rep = HealthReport(ticker, settings.bar_path(ticker, "1m").name, bars.height, cal.name,
                       cont, stale, integ, min_gap, settings.display_tz_for(ticker))
    log.info("health %s: %d problems, %d warnings", ticker, len(rep.problems), len(rep.warnings))
    return rep
