"""One export on its way into the master: parse once, then describe, verify, overlap, plan.

:class:`ImportDraft` holds the parsed rows of one file (NinjaTrader or TradingView, detected from
the content) and caches what it derives from them: the bars placed in a (zone, stamp), the
verify report and the master it was compared with (read once per ticker). The import page keeps
one draft per upload; the CLI, the SOP scripts and :func:`datamgr.ops.import_export.import_export`
go through it too, so one page import parses the bytes once and reads the master once.

A plan is *guarded* (SPEC 6): it needs confirmation when it replaces more than 1 % of the bars the
file and the master share, when the best whole-minute shift against the master is not 0, or when
a forced replace range removes bars the file does not bring back. :class:`Guard` carries the
reasons and the count of bars that change (what the user types on the page; ``--yes`` on the CLI).
:func:`datamgr.ops.import_export.commit` writes a plan.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import Settings
from datamgr.core.errors import InputError
from datamgr.core.timefmt import to_et_iso
from datamgr.ingest.input_file import check_input_bytes
from datamgr.ingest.ninjatrader.parse import _PRICES, ParsedExport, parse_export
from datamgr.ingest.ninjatrader.place import Placed, to_bars
from datamgr.ingest.ninjatrader.verify import MARGIN, MIN_OVERLAP, VerifyReport, ZoneScore, verify_parsed
from datamgr.ingest.tradingview import is_tradingview, parse_tradingview
from datamgr.store.merge import EPS, MergePlan, plan_merge
from datamgr.store.roll import Roll, plan_roll
from datamgr.store.store import Store

log = logging.getLogger(__name__)

#: share of the overlapping bars a plan may replace without confirmation
GUARD_SHARE = 0.01
ET = "America/New_York"
_CONTRACT = re.compile(r"^\s*([A-Za-z]{1,6})\s+(\d{2})-(\d{2})\b")


def parse_file(data: bytes, name: str) -> ParsedExport:
    """Parse an export of any supported format (TradingView by its header, else NinjaTrader)."""
    if is_tradingview(data):
        return parse_tradingview(data, name)
    return parse_export(data, name)


def name_hint(name: str) -> tuple[str | None, str | None]:
    """(instrument root, contract month ``MM-YY``) told by a file name such as ``MES 09-25.Last.txt``."""
    base = Path(str(name)).name
    m = _CONTRACT.match(base)
    if m:
        return m.group(1).upper(), f"{m.group(2)}-{m.group(3)}"
    r = re.match(r"\s*([A-Za-z]{1,6})", base)
    return (r.group(1).upper() if r else None), None


def guess_ticker(name: str, settings: Settings) -> str | None:
    """Configured instrument told by a file name (``MES 09-25.Last.txt`` -> ``MES1``), else None.

    Display-only: the name is never used as a path and the user confirms the ticker.
    """
    root, _ = name_hint(name)
    if not root:
        return None
    for cand in (f"{root}1", root):
        if cand in settings.instruments:
            return cand
    return None


@dataclass(frozen=True)
class Guard:
    """Whether a plan needs confirmation, why, and how many existing bars change."""

    required: bool
    count: int
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"required": self.required, "count": self.count, "reasons": list(self.reasons)}


@dataclass
class ImportPlan:
    """A verified, planned import of one file into one master file; written by ``commit``."""

    ticker: str
    timeframe: str
    name: str
    tz: str
    stamp: str
    verify: VerifyReport
    merge: MergePlan
    guard: Guard
    replace_range: tuple[dt.datetime, dt.datetime] | None
    master_sha256: str | None
    source: str
    format: str
    interval: str | None = None
    replace: Any = None
    draft: ImportDraft | None = field(default=None, repr=False)
    #: contract roll inside the overlap (another contract month), the bars merged (cut at the roll)
    #: and the master's footer contract ranges before the import
    roll: Roll | None = None
    incoming: pl.DataFrame | None = field(default=None, repr=False)
    master_contracts: list[dict] | None = None

    def details(self) -> dict[str, Any]:
        """Journal details of the write."""
        p, v = self.merge, self.verify
        return {"file": self.name, "format": self.format, "source": self.source, "tz": v.tz, "stamp": v.stamp,
                "added": p.new, "replaced": p.replaced, "identical": p.identical, "conflicts": p.conflicts,
                "kept": p.kept, "removed": p.removed, "rejected": len(v.rejects), "forced": not v.ok,
                "confirmed": self.guard.count if self.guard.required else None, "contract": v.contract,
                "roll": self.roll.to_json() if self.roll else None}


class ImportDraft:
    """The parsed content of one export and what is derived from it, computed once each.

    Parameters
    ----------
    settings : Settings
    data : bytes
        The file content (an upload or a file read by the caller).
    name : str
        Display name, used in messages and to suggest the instrument; never opened.

    Raises
    ------
    ParseError
        The content is not a supported export (file, line and field named).
    """

    def __init__(self, settings: Settings, data: bytes, name: str) -> None:
        self.settings = settings
        self.name = name
        check_input_bytes(data, name)  # an upload over 1 GiB or ending in NULs is not parsed
        self.parsed = parse_file(data, name)
        self._placed: dict[tuple, Placed] = {}
        self._reports: dict[tuple, VerifyReport] = {}
        self._masters: dict[str, tuple[pl.DataFrame, str | None, list[dict] | None]] = {}

    # ------------------------------------------------------------------ basics
    @property
    def timeframe(self) -> str:
        return "1d" if self.parsed.is_daily else "1m"

    @property
    def source(self) -> str:
        return self.parsed.source

    def origin(self, ticker: str, tz: str | None = None) -> str:
        """Where the zone comes from: ``given`` (``tz``, or the file's own), ``remembered`` (set in
        datamgr.toml, e.g. by ``remember_zone``) or ``default`` (the built-in instrument default)."""
        if tz or self.parsed.zone_known:
            return "given"
        builtin = Settings().instrument(ticker).import_tz
        return "remembered" if self.settings.instrument(ticker).import_tz != builtin else "default"

    def resolve(self, ticker: str, tz: str | None = None, stamp: str | None = None) -> tuple[str, str]:
        """The (zone, stamp) the bars are placed in: the file's own zone when its times carry one,
        else ``tz``/``stamp`` when given, else the instrument's (configured or remembered) ones.

        Raises
        ------
        InputError
            A TradingView file without UTC offsets and no ``tz`` given.
        """
        p = self.parsed
        if p.zone_known:
            return str(p.zone), p.fixed_stamp or "open"
        if p.fixed_stamp is not None and tz is None:
            first = p.rows.row(0, named=True)
            msg = (f"{self.name}: line {first['line']} field 'time': {first['text'].split(',')[0]!r} has no UTC "
                   f"offset and no zone was given; expected ISO 8601 with an offset, UNIX seconds, or tz=<zone "
                   f"of the chart>")
            raise InputError(msg, file=self.name, line=int(first["line"]), field="time")
        inst = self.settings.instrument(ticker)
        return tz or inst.import_tz, p.fixed_stamp or stamp or inst.import_stamp

    def placed(self, tz: str, stamp: str, interval: str | None = None) -> Placed:
        key = (tz, stamp, interval)
        if key not in self._placed:
            self._placed[key] = to_bars(self.parsed, tz, stamp=stamp, interval=interval)
        return self._placed[key]

    def master(self, ticker: str) -> pl.DataFrame:
        """The master this file would merge into (read once per ticker; :meth:`forget_master`)."""
        return self._master(ticker)[0]

    def _master(self, ticker: str) -> tuple[pl.DataFrame, str | None, list[dict] | None]:
        if ticker not in self._masters:
            store = Store(self.settings)
            meta = store.read_meta(ticker, self.timeframe)
            self._masters[ticker] = (store.read(ticker, self.timeframe), meta.content_sha256 if meta else None,
                                     meta.contracts if meta else None)
        return self._masters[ticker]

    def forget_master(self) -> None:
        """Drop the cached master and reports (after a write, or when the master may have changed)."""
        self._masters.clear()
        self._reports.clear()

    # ------------------------------------------------------------------ the steps
    def describe(self, ticker: str | None = None, tz: str | None = None, stamp: str | None = None) -> dict[str, Any]:
        """Format, rows, rejected rows, interval and range (ET) of the bars placed in the chosen zone."""
        root, contract = name_hint(self.name)
        out: dict[str, Any] = {"name": self.name, "format": self.parsed.format, "source": self.source,
                               "rows": self.parsed.rows_read, "instrument": guess_ticker(self.name, self.settings),
                               "root": root, "contract": contract, "zone_known": self.parsed.zone_known,
                               "file_zone": self.parsed.zone}
        tz, stamp = self.resolve(ticker or out["instrument"] or "ES1", tz, stamp)
        placed = self.placed(tz, stamp)
        b = placed.bars
        out.update({"tz": tz, "stamp": stamp, "bars": b.height, "rejected": len(placed.rejects),
                    "interval": f"{placed.interval_minutes}m",
                    "start": to_et_iso(b["datetime"].min()) if b.height else None,
                    "end": to_et_iso(b["datetime"].max()) if b.height else None})
        return out

    def verify(self, ticker: str, tz: str | None = None, stamp: str | None = None,
               interval: str | None = None) -> VerifyReport:
        """Verify against the calendar and the master (SPEC 6 step 1); writes nothing."""
        origin = self.origin(ticker, tz)
        tz, stamp = self.resolve(ticker, tz, stamp)
        key = (ticker, tz, stamp, interval, origin)
        if key not in self._reports:
            inst = self.settings.instrument(ticker)
            master = None if self.parsed.is_daily else self.master(ticker)
            # the folder's session cache serves the calendar when present (never written here: a
            # verify writes nothing); the same segments as the library's, without building a schedule
            cal = get_calendar(inst.calendar, data_dir=self.settings.data_dir, write_cache=False)
            rep, placed = verify_parsed(self.parsed, cal, tz=tz, stamp=stamp,
                                        interval=interval, master=master, tick=inst.tick_size, zone_origin=origin)
            self._placed.setdefault((tz, stamp, interval), placed)
            self._reports[key] = rep
        return self._reports[key]

    def best_zone(self, ticker: str) -> ZoneScore | None:
        """The best (zone, stamp) when the ranking is decisive (first by at least MARGIN), else None."""
        if self.parsed.zone_known or self.parsed.is_daily:
            return None
        rank = self.verify(ticker).zone_ranking
        if not rank:
            return None
        if len(rank) > 1 and rank[0].score - rank[1].score < MARGIN:
            return None
        return rank[0]

    def overlap(self, ticker: str, tz: str | None = None, stamp: str | None = None, interval: str | None = None,
                max_points: int = 3000) -> pl.DataFrame:
        """Existing vs incoming closes over the file's range (the overlap chart).

        Columns ``datetime`` (ET), ``existing``, ``incoming`` (null where absent); thinned to at
        most ``max_points`` rows.
        """
        tz, stamp = self.resolve(ticker, tz, stamp)
        bars = self.placed(tz, stamp, interval).bars
        if bars.height == 0:
            return _empty_overlap()
        lo, hi = bars["datetime"].min(), bars["datetime"].max()
        return _closes(self.master(ticker), bars, lo, hi, max_points)

    def plan(self, ticker: str, tz: str | None = None, stamp: str | None = None, interval: str | None = None,
             replace: str | bool | None = None) -> ImportPlan:
        """Plan the merge (SPEC 6 step 2) and its guard; writes nothing.

        Parameters
        ----------
        ticker : str
        tz, stamp, interval
            As for :meth:`verify`.
        replace : bool or str, optional
            ``True``/``"file"``: incoming bars replace existing ones over the file's range;
            ``"FROM..TO"``: over that range (ET dates, or ISO datetimes, naive = ET).
        """
        rep = self.verify(ticker, tz, stamp, interval)
        tz, stamp = self.resolve(ticker, tz, stamp)
        bars = self.placed(tz, stamp, interval).bars
        master, sha, contracts = self._master(ticker)
        incoming, roll_rng, roll = self._roll(ticker, rep, master, bars, contracts)
        rng = parse_replace(replace, incoming) if replace is not None else roll_rng
        merge = plan_merge(master, incoming, precedence=self.settings.merge_precedence, replace_range=rng)
        guard = _guard(rep, merge, self.settings.merge_precedence, rolled=roll is not None and replace is None)
        return ImportPlan(ticker, self.timeframe, self.name, tz, stamp, rep, merge, guard, rng, sha, self.source,
                          self.parsed.format, interval, replace, self, roll, incoming, contracts)

    def _roll(self, ticker: str, rep: VerifyReport, master: pl.DataFrame, bars: pl.DataFrame,
              contracts: list[dict] | None):
        """When the file is another contract month overlapping the master: the incoming bars to merge
        (cut at the roll), the range they replace and the :class:`Roll`; else ``(bars, None, None)``."""
        off = rep.overlap.contract_offset
        if off is None or master.height == 0 or bars.height == 0:
            return bars, None, None
        inst = self.settings.instrument(ticker)
        known = [r.get("contract") for r in (contracts or []) if r.get("contract")]
        return plan_roll(master, bars, get_calendar(inst.calendar), offset=off, rule=inst.roll,
                         file_contract=rep.contract, master_contract=known[-1] if known else None)

    def changed_frame(self, plan: ImportPlan, pad_minutes: int = 60, max_points: int = 4000) -> pl.DataFrame:
        """Closes around the minutes the plan replaces or removes, for the plan chart (zoomed to them).

        Columns ``datetime`` (ET), ``existing``, ``incoming``, ``changed`` (bool); empty when
        nothing existing changes.
        """
        master = self.master(plan.ticker)
        result = plan.merge.result
        if master.height == 0:
            return _empty_overlap().with_columns(pl.lit(False).alias("changed"))
        lo, hi = plan.merge.start, plan.merge.end
        inc = self.placed(plan.tz, plan.stamp, plan.interval).bars
        if inc.height:
            lo, hi = inc["datetime"].min(), inc["datetime"].max()
        if plan.replace_range is not None:
            lo, hi = min(lo, plan.replace_range[0]), max(hi, plan.replace_range[1])
        t = pl.col("datetime")
        m = master.filter(t.is_between(lo, hi))
        r = result.filter(t.is_between(lo, hi))
        j = m.join(r, on="datetime", how="left", suffix="_new")
        differs = pl.any_horizontal([(pl.col(c) - pl.col(f"{c}_new")).abs() > EPS for c in _PRICES])
        changed = j.filter(pl.col("open_new").is_null() | differs | (pl.col("volume") != pl.col("volume_new"))
                           )["datetime"]
        if changed.len() == 0:
            return _empty_overlap().with_columns(pl.lit(False).alias("changed"))
        pad = dt.timedelta(minutes=pad_minutes)
        a, b = changed.min() - pad, changed.max() + pad
        out = _closes(master, inc, a, b, max_points=None)
        out = out.with_columns(pl.col("datetime").dt.convert_time_zone("UTC").is_in(changed.implode())
                               .alias("changed"))
        step = max(1, out.height // max_points)
        keep = (pl.int_range(pl.len()) % step == 0) | pl.col("changed")
        return out.filter(keep)


def _guard(rep: VerifyReport, merge: MergePlan, precedence: tuple[str, ...], rolled: bool = False) -> Guard:
    """The confirmation rule of SPEC 6. Bars of a lower-precedence source replaced by the file
    (Yahoo or demo bars under a NinjaTrader export: the merge policy working as designed) do not
    count towards the 1 % rule; replacing bars of the same or a higher-precedence source does.
    A contract roll (``rolled``) replaces the old month after the roll point by design: only the
    shift rule applies then (the roll is shown in the plan)."""
    overlap = merge.identical + merge.conflicts
    rank = {s: i for i, s in enumerate(precedence)}
    upgrades = 0
    if merge.conflicts:
        c = merge.conflict_rows.filter(pl.col("winner") == "incoming")
        upgrades = sum(rank.get(a, -1) > rank.get(b, -1)  # unlisted (legacy) sources rank highest
                       for a, b in zip(c["source"].to_list(), c["source_in"].to_list()))
    corrections = 0 if rolled else merge.replaced - upgrades
    reasons = []
    if corrections and corrections > GUARD_SHARE * max(overlap, 1):
        share = f" ({corrections / overlap:.1%})" if overlap else ""
        reasons.append(f"it replaces {corrections:,} of {overlap:,} overlapping bars{share}, more than "
                       f"{GUARD_SHARE:.0%}")
    ov = rep.overlap
    if ov.bars >= MIN_OVERLAP and ov.best_shift_minutes:
        reasons.append(f"its best whole-minute shift against the master is {ov.best_shift_minutes:+d} min, not 0")
    if merge.removed and not rolled:
        reasons.append(f"the replace range removes {merge.removed:,} existing bars the file does not bring back")
    return Guard(bool(reasons), merge.replaced + merge.removed, tuple(reasons))


def _empty_overlap() -> pl.DataFrame:
    return pl.DataFrame(schema={"datetime": pl.Datetime("us", ET), "existing": pl.Float64, "incoming": pl.Float64})


def _closes(master: pl.DataFrame, bars: pl.DataFrame, lo, hi, max_points: int | None) -> pl.DataFrame:
    t = pl.col("datetime")
    j = master.filter(t.is_between(lo, hi)).select("datetime", pl.col("close").alias("existing")).join(
        bars.filter(t.is_between(lo, hi)).select("datetime", pl.col("close").alias("incoming")),
        on="datetime", how="full", coalesce=True).sort("datetime")
    if max_points:
        j = j.gather_every(max(1, j.height // max_points))
    return j.with_columns(t.dt.convert_time_zone(ET))


def parse_replace(value: str | bool | None, bars: pl.DataFrame) -> tuple[dt.datetime, dt.datetime] | None:
    """``replace`` value -> inclusive UTC range. ``True``/``"file"``: the file's own range;
    ``"FROM..TO"``: ET dates (whole days) or ISO datetimes (naive = ET)."""
    if value is None or value is False:
        return None
    if value is True or value == "file":
        if bars.height == 0:
            return None
        return bars["datetime"].min(), bars["datetime"].max()
    if ".." not in str(value):
        raise InputError(f"--replace {value!r} not understood; expected FROM..TO (ET dates)", field="replace")
    a, b = (s.strip() for s in str(value).split("..", 1))
    et = ZoneInfo(ET)

    def when(s: str, end: bool) -> dt.datetime:
        try:
            if len(s) == 10:
                d = dt.date.fromisoformat(s)
                t = dt.datetime.combine(d + dt.timedelta(days=1) if end else d, dt.time(), et)
                return (t - dt.timedelta(microseconds=1) if end else t).astimezone(dt.UTC)
            x = dt.datetime.fromisoformat(s)
            return (x if x.tzinfo else x.replace(tzinfo=et)).astimezone(dt.UTC)
        except ValueError as err:
            raise InputError(f"--replace {value!r}: {s!r} is not a date; expected YYYY-MM-DD",
                             field="replace") from err

    lo, hi = when(a, False), when(b, True)
    if hi < lo:
        raise InputError(f"--replace {value!r}: end before start", field="replace")
    return lo, hi
