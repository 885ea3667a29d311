"""The ``continuity`` and ``health`` checks of one ticker's 1-minute file, as the CLI and the
Health page run them (read the file once, then :mod:`datamgr.health.gaps` and
:mod:`datamgr.health.integrity`).

What counts as a *problem* (``health`` and ``continuity`` exit 1, SPEC 5): unacknowledged ``hole``
gaps of at least ``min_gap`` minutes, integrity errors (invariants, off-tick prices), staleness
beyond the instrument's ``stale_after_sessions`` (unset: staleness is information, e.g. for an
archived contract), an unreadable file (:class:`~datamgr.core.errors.CheckFailed`), and a requested
range or year without bars ("no bars in 2008"). Stray bars, ``quiet``, ``recurring`` and ``edge``
gaps, spikes and zero-volume runs are *notes*: listed, grouped by kind, never a failure.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from datamgr.calendar.overrides import load_overrides
from datamgr.calendar.sessions import SessionCalendar, calendar_for
from datamgr.core.config import Settings
from datamgr.core.errors import CheckFailed, ConfigError, DamagedFileError, StoreError
from datamgr.core.progress import Progress, report
from datamgr.core.timefmt import ET, to_et_text
from datamgr.health.gaps import Continuity, Gap, Staleness, classify_like, continuity, staleness
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


@dataclass(frozen=True)
class CoverageSummary:
    """THE coverage figure of a 1m master (SPEC 5), as ``status --json``, Inventory and Health show it.

    ``coverage`` = present in-session bars / expected bars between the trading days of the first
    and the last bar; stray bars (outside every session) are excluded and counted apart.
    """

    expected: int
    present: int
    outside: int
    holes: int
    quiet: int

    @property
    def coverage(self) -> float | None:
        return self.present / self.expected if self.expected else None

    def to_json(self) -> dict[str, Any]:
        return {"expected": self.expected, "present": self.present, "outside_session": self.outside,
                "coverage": None if self.coverage is None else round(self.coverage, 6),
                "holes": self.holes, "quiet": self.quiet}


def coverage_summary(cont: Continuity) -> CoverageSummary:
    """The one coverage function: every page and command takes its figure from here."""
    return CoverageSummary(cont.expected, cont.present, cont.outside_session, len(cont.holes),
                           sum(1 for g in cont.reported if g.cls == "quiet"))


def master_coverage(settings: Settings, ticker: str) -> CoverageSummary:
    """Coverage of ``ticker``'s 1m master over its whole range (reads ``datetime`` and ``volume`` only).

    Raises
    ------
    CheckFailed
        The master cannot be read.
    ConfigError
        There is no 1m master.
    """
    return coverage_summary(check_continuity(settings, ticker))


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

    stale_after: int | None = None
    tz: str = ET  # the instrument's display zone (IST for NSE)

    @property
    def coverage(self) -> CoverageSummary:
        return coverage_summary(self.continuity)

    @property
    def stale_problem(self) -> str | None:
        """The staleness failure, when the instrument sets ``stale_after_sessions`` and it is exceeded."""
        if self.stale_after is not None and self.staleness.sessions > self.stale_after:
            return f"stale beyond tolerance ({self.stale_after} sessions): {self.staleness.verdict}"
        return None

    @property
    def problems(self) -> list[str]:
        out = list(self.continuity.findings)
        out += [f"hole {to_text(g.start, self.tz)} .. {to_text(g.end, self.tz)}: {g.missing} missing minutes"
                for g in self.continuity.holes]
        out += [f"{f.rule}: {f.count} row(s)" for f in self.integrity.errors]
        if self.stale_problem:
            out.append(self.stale_problem)
        return out

    @property
    def notes(self) -> list[Note]:
        """Information, one entry per kind (with a count and the items), never a failure."""
        c = self.continuity
        out = []
        if c.outside_session:
            out.append(Note("stray", f"{c.outside_session:,} bar(s) outside the sessions (stray prints)",
                            c.outside_session, [to_text(t, self.tz) for t in c.strays["datetime"].head(200).to_list()]))
        for cls, what in (("quiet", "quiet gap(s): minutes that likely had no trade"),
                          ("recurring", "recurring gap(s): the same clock minutes on >= 3 sessions"),
                          ("edge", "edge gap(s): before the first or after the last bar")):
            gs = [g for g in c.reported if g.cls == cls]
            if gs:
                out.append(Note(cls, f"{len(gs):,} {what}", len(gs), [_gap_text(g, self.tz) for g in gs[:200]]))
        acked = [g for g in c.reported if g.acknowledged]
        if acked:
            out.append(Note("acknowledged", f"{len(acked):,} acknowledged gap(s)", len(acked),
                            [_gap_text(g, self.tz) for g in acked[:200]]))
        for f in self.integrity.findings:
            if f.severity == "warning":
                out.append(Note(f.rule, f"{f.rule}: {f.count} row(s), first at {f.times[0] if f.times else '?'}",
                                f.count, list(f.times)))
        if self.staleness.expected_bars and not self.stale_problem:
            out.append(Note("stale", f"stale: {self.staleness.verdict}", self.staleness.sessions, []))
        return out

    @property
    def warnings(self) -> list[str]:
        """The notes as one line each (kind, count)."""
        return [n.text for n in self.notes]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        c = self.continuity.to_json(tz=self.tz)
        return {"ticker": self.ticker, "file": self.file, "rows": self.rows, "timezone": self.tz,
                "calendar": self.calendar, "ok": self.ok, "problems": self.problems,
                "warnings": self.warnings, "notes": [n.to_json() for n in self.notes],
                "coverage": self.coverage.to_json(),
                "staleness": self.staleness.to_json(self.tz), "continuity": c,
                "integrity": self.integrity.to_json()}


@dataclass(frozen=True)
class Note:
    """One kind of information (stray prints, quiet gaps, ...) with how many and which."""

    kind: str
    text: str
    count: int
    items: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "count": self.count, "items": self.items}


def _gap_text(g, tz: str = ET) -> str:
    extra = f" ({g.clock}, {g.sessions} sessions)" if g.clock else ""
    p = "" if g.p_no_trade is None else f", p_no_trade {g.p_no_trade:.3g}"
    return f"{to_text(g.start, tz)} .. {to_text(g.end, tz)}: {g.missing:,} min{extra}{p}"


_ET = ZoneInfo(ET)
GAP_CLASSES = ("hole", "quiet", "recurring", "edge")
ACK_CLASSES = ("hole", "quiet", "edge")  # a recurring gap spans months: acknowledging it would hide holes


def select_gaps(cont: Continuity, classes: tuple[str, ...] | list[str] = GAP_CLASSES, *,
                start: dt.date | None = None, end: dt.date | None = None, min_missing: int = 1,
                acknowledged: bool | None = None) -> list[Gap]:
    """The gaps a filter or an acknowledge rule ("all quiet gaps", "all holes in March") means.

    Parameters
    ----------
    cont : Continuity
    classes : sequence of str
        Gap classes to keep (:data:`GAP_CLASSES`).
    start, end : date, optional
        Keep gaps whose first missing minute falls on these ET calendar days (inclusive).
    min_missing : int
        Keep gaps of at least this many missing minutes.
    acknowledged : bool, optional
        Keep only acknowledged (True) or only unacknowledged (False) gaps; both when None.
    """
    bad = set(classes) - set(GAP_CLASSES)
    if bad:
        raise ConfigError(f"classes {sorted(bad)}: expected some of {', '.join(GAP_CLASSES)}")
    out = []
    for g in cont.gaps:
        if g.cls not in classes or g.missing < min_missing:
            continue
        if acknowledged is not None and g.acknowledged != acknowledged:
            continue
        day = g.start.astimezone(_ET).date()
        if (start and day < start) or (end and day > end):
            continue
        out.append(g)
    return out


def to_text(t: dt.datetime, tz: str = ET) -> str:
    return to_et_text(t, tz)


def _load(settings: Settings, ticker: str, columns: list[str] | None = None
          ) -> tuple[pl.DataFrame, SessionCalendar, tuple]:
    try:
        store = Store(settings)
        bars = store.read(ticker, "1m") if columns is None else store.read_columns(ticker, "1m", columns)
    except StoreError as err:  # an unreadable master is a failed check, not bad usage
        raise CheckFailed(f"integrity: {err}" if isinstance(err, DamagedFileError) else str(err)) from err
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
    b, cal, acks = _load(settings, ticker, ["datetime", "volume"] if bars is None else [])
    bars = b if bars is None else bars
    if bars.height == 0 and (lo is None or hi is None):
        raise ConfigError(f"{settings.bar_path(ticker, '1m')}: no 1m bars for {ticker}; "
                          "import or update first, or give --from and --to")
    res = continuity(bars, cal, start=lo, end=hi, min_gap=min_gap, acknowledged=acks)
    if (lo is not None or hi is not None) and bars.height and res.gaps:  # classes learnt from the whole file
        res = classify_like(res, continuity(bars, cal, min_gap=min_gap, acknowledged=acks))
    if (year is not None or start is not None or end is not None) and res.present == 0 \
            and res.outside_session == 0:
        what = (f"in {year}" if year is not None and start is None and end is None
                else f"between {res.first_day} and {res.last_day}")
        res.findings.append(f"no bars {what} ({settings.bar_path(ticker, '1m').name} holds "
                            f"{_span(bars)})")
    log.info("continuity %s %s..%s: %d expected, %d present, %d gaps >= %d min", ticker,
             res.first_day, res.last_day, res.expected, res.present, len(res.reported), min_gap)
    return res


def _span(bars: pl.DataFrame) -> str:
    if bars.height == 0:
        return "no bars"
    return f"{to_text(bars['datetime'][0])} .. {to_text(bars['datetime'][-1])}"


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
    bars, cal, acks = _load(settings, ticker)  # a damaged file: CheckFailed "integrity: file damaged: ..."
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
                       cont, stale, integ, min_gap, settings.instrument(ticker).stale_after_sessions,
                       settings.display_tz_for(ticker))
    log.info("health %s: %d problems, %d warnings", ticker, len(rep.problems), len(rep.warnings))
    return rep
