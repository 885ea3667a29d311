"""Contract rolls in a continuous master (SPEC 6 "Contracts").

Two contract months overlap in time (NinjaTrader exports each month on its own; at every quarterly
roll both trade for days, a roughly constant number of points apart). A continuous master must
hold **one** contract at a time: it switches once, at the roll point, and never interleaves the
two minute by minute.

Roll rules (per instrument, ``roll`` in ``datamgr.toml``):

``volume`` (default)
    the first trading session of the overlap in which the new contract's volume exceeds the old
    one's (the session's bars of each side summed). When it never does, the switch happens at
    the first session after the old contract's data ends.
``after-old``
    keep the old contract for the whole overlap; switch at the first session after it ends.

Direction: the file is the *newer* contract (``forward``) when the contract months tell so (file
name vs the master's recorded contract) or, failing that, when the file reaches later than the
master; otherwise it is the older one (``backward``, a backfill). No back-adjustment: prices are
stored as traded; the contract and the roll offset of every range are recorded in the master's
footer metadata (``contracts``, :func:`record_contracts`) so an adjusted view can be built later.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core.contracts import parse_label
from datamgr.core.errors import ConfigError
from datamgr.core.timefmt import to_et_iso

log = logging.getLogger(__name__)
ROLL_RULES = ("volume", "after-old")
_US = dt.timedelta(microseconds=1)


@dataclass(frozen=True)
class Roll:
    """Where the continuous master switches contract; ``to_json()`` goes into the plan."""

    at: dt.datetime  # first bar of the later contract in the master (UTC)
    trading_day: dt.date
    rule: str
    direction: str  # forward: the file is the later contract; backward: the file is the earlier one
    offset: float  # later contract - earlier contract, points (median over the overlap)
    earlier: str | None
    later: str | None
    days: tuple[tuple[dt.date, int, int], ...] = ()  # (trading day, earlier volume, later volume)
    dropped: int = 0  # incoming bars left out because the other contract holds their minutes

    def describe(self) -> str:
        e, later = self.earlier or "the earlier contract", self.later or "the later contract"
        return (f"roll: the master switches from {e} to {later} at {to_et_iso(self.at)} ET (session "
                f"{self.trading_day}, rule {self.rule}); offset {self.offset:+g} points, not back-adjusted; "
                f"{self.dropped} incoming bar(s) of the other contract left out")

    def to_json(self) -> dict[str, Any]:
        return {"at": to_et_iso(self.at), "trading_day": self.trading_day.isoformat(), "rule": self.rule,
                "direction": self.direction, "offset": self.offset, "earlier": self.earlier, "later": self.later,
                "dropped": self.dropped, "message": self.describe(),
                "days": [{"trading_day": d.isoformat(), "earlier_volume": a, "later_volume": b} for d, a, b in self.days]}


def _daily(bars: pl.DataFrame, calendar: SessionCalendar) -> pl.DataFrame:
    lab = calendar.label(bars["datetime"])["trading_day"]
    return (bars.select("datetime", "volume").with_columns(lab.alias("day")).drop_nulls("day")
            .group_by("day").agg(pl.col("volume").sum(), pl.col("datetime").min().alias("first")))


def plan_roll(existing: pl.DataFrame, incoming: pl.DataFrame, calendar: SessionCalendar, *, offset: float,
              rule: str = "volume", file_contract: str | None = None, master_contract: str | None = None,
              forward: bool | None = None) -> tuple[pl.DataFrame, tuple[dt.datetime, dt.datetime] | None, Roll | None]:
    """Choose the roll point and cut the incoming bars so the two contracts never interleave.

    Parameters
    ----------
    existing, incoming : DataFrame
        The master and the file's bars (canonical, UTC); they overlap in time.
    calendar : SessionCalendar
        Trading sessions (the roll happens at a session's first bar).
    offset : float
        ``file - master`` price offset in the overlap (points).
    rule : {"volume", "after-old"}
    file_contract, master_contract : str, optional
        Contract labels (``MES 12-25``) when known; they decide the direction.
    forward : bool, optional
        Force the direction (True: the file is the later contract).

    Returns
    -------
    (incoming to merge, replace range for ``plan_merge``, Roll)
        The roll is None when there is nothing to switch (the later contract never appears).
    """
    if rule not in ROLL_RULES:
        raise ConfigError(f"roll rule {rule!r} not understood; expected one of {', '.join(ROLL_RULES)}")
    if forward is None:
        from_names = _compare(file_contract, master_contract)
        forward = from_names if from_names is not None else incoming["datetime"].max() >= existing["datetime"].max()
    earlier, later = (existing, incoming) if forward else (incoming, existing)
    de, dl = _daily(earlier, calendar), _daily(later, calendar)
    both = de.join(dl, on="day", suffix="_l").sort("day")
    days = tuple((r["day"], int(r["volume"]), int(r["volume_l"])) for r in both.iter_rows(named=True))
    last_overlap = both["day"].max() if both.height else None
    pick = None
    if rule == "volume":
        win = both.filter(pl.col("volume_l") > pl.col("volume"))
        pick = win.row(0, named=True) if win.height else None
    if pick is not None:
        day, at = pick["day"], pick["first_l"]
    else:  # the first session of the later contract after the earlier one's data ends
        after = dl.filter(pl.col("day") > last_overlap) if last_overlap is not None else dl
        after = after.sort("day")
        if after.height == 0:
            if forward:
                return incoming.head(0), None, None
            day, at = None, None
        else:
            day, at = after["day"][0], after["first"][0]
    labels = (master_contract, file_contract) if forward else (file_contract, master_contract)
    if at is None:  # backward and the master never starts a session after the overlap: keep the file before it
        at = existing["datetime"].min()
        day = calendar.label(pl.Series([at]))["trading_day"][0] or at.date()
    t = pl.col("datetime")
    if forward:
        keep = incoming.filter(t >= at)
        hi = max(existing["datetime"].max(), incoming["datetime"].max())
        rng = (at, hi) if existing["datetime"].max() >= at else None
    else:
        keep = incoming.filter(t < at)
        lo = min(existing["datetime"].min(), incoming["datetime"].min())
        rng = (lo, at - _US) if existing["datetime"].min() < at else None
    roll = Roll(at, day, rule, "forward" if forward else "backward", offset if forward else -offset,
                labels[0], labels[1], days, incoming.height - keep.height)
    log.info("%s", roll.describe())
    return keep, rng, roll


def _compare(file_contract: str | None, master_contract: str | None) -> bool | None:
    a, b = parse_label(file_contract), parse_label(master_contract)
    if a is None or b is None or a == b:
        return None
    return (a.year, a.month) > (b.year, b.month)


def record_contracts(previous: list[dict] | None, *, contract: str | None, result: pl.DataFrame,
                     incoming: pl.DataFrame, roll: Roll | None) -> list[dict] | None:
    """The master's contract ranges after an import (footer ``contracts``): one entry per range,
    ``{"contract", "start", "end", "roll_offset"}`` (UTC ISO; ``roll_offset`` = this range's
    contract minus the previous range's, points; null for the first or when unknown)."""
    prev = [dict(r) for r in (previous or [])]
    if result.height == 0 or (roll is None and contract is None and not prev):
        return previous
    iso = (lambda x: x.isoformat())
    t = pl.col("datetime")
    if roll is not None:
        before = result.filter(t < roll.at)
        after = result.filter(t >= roll.at)
        head = [r for r in prev if r["start"] < iso(roll.at)] or (
            [{"contract": roll.earlier, "start": iso(before["datetime"].min()), "end": None, "roll_offset": None}]
            if before.height else [])
        if head and before.height:
            head[-1]["end"] = iso(before["datetime"].max())
        tail = {"contract": roll.later, "start": iso(roll.at),
                "end": iso(after["datetime"].max()) if after.height else iso(roll.at), "roll_offset": roll.offset}
        if roll.direction == "backward":
            head = [{"contract": roll.earlier, "start": iso(before["datetime"].min()),
                     "end": iso(before["datetime"].max()), "roll_offset": None}] if before.height else []
            later = [r for r in prev if r["end"] is None or r["end"] >= iso(roll.at)]
            if later:
                later[0] = {**later[0], "start": iso(roll.at), "roll_offset": roll.offset}
                return head + later
        return head + [tail]
    lo, hi = iso(incoming["datetime"].min()), iso(incoming["datetime"].max())
    if not prev:
        return [{"contract": contract, "start": iso(result["datetime"].min()), "end": iso(result["datetime"].max()),
                 "roll_offset": None}] if contract else None
    last = prev[-1]
    if contract is None or last.get("contract") == contract:
        last["end"] = max(last.get("end") or hi, hi)
        prev[0]["start"] = min(prev[0]["start"], lo)
        return prev
    # another contract joined without an overlap (no offset measurable)
    prev.append({"contract": contract, "start": lo, "end": hi, "roll_offset": None})
    return prev
