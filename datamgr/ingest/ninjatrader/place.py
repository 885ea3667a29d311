"""Placing parsed NinjaTrader rows in time (SPEC 6): zone, close->open shift, DST, tick bars.

* The export's zone is a parameter; local wall-clock stamps are localised, a repeated local hour
  (fall back) is resolved by order (the second pass of a stamp is the later instant) and a local
  time that does not exist (spring forward) is an :class:`InputError` listing the lines.
* NinjaTrader stamps a bar at its close: ``stamp="close"`` shifts every stamp back by the interval
  (given, or inferred as the most common step). Daily bars keep their date; ticks are exact
  trade times, aggregated into 1-minute bars labelled by their open.
* Rows breaking invariants are split off as :class:`Reject` with reasons and line numbers.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from datamgr.core.errors import InputError
from datamgr.core.schema import OFF_MINUTE, conform, value_rules, volume_cap
from datamgr.core.timefmt import now_utc
from datamgr.ingest.ninjatrader.parse import _PRICES, ParsedExport, Reject


@dataclass
class Placed:
    """Bars in UTC (canonical schema, open times) plus rows rejected and notes."""

    bars: pl.DataFrame
    lines: pl.Series
    rejects: list[Reject]
    interval_minutes: int
    interval_inferred: bool


def infer_interval(stamps: pl.Series) -> int:
    """Most common positive step between consecutive stamps (first 100 000), in whole minutes (>= 1)."""
    d = stamps.head(100_000).diff().dt.total_minutes().drop_nulls()
    d = d.filter(d > 0)
    if d.len() == 0:
        return 1
    return max(1, int(d.mode().min()))


_HOUR_US = 3_600_000_000
_CHUNK = 1 << 16  # rows per numpy pass (its temporaries stay in the CPU cache)
_MIN_US = 60_000_000
_GRID_MAX = 500_000  # local hours in the table at most (57 years); a wider span takes the join


def localize(stamps: pl.Series, tz: str) -> pl.Series:
    """Local wall-clock stamps -> UTC. Fall-back repeats resolved by order; non-existent -> null."""
    if tz == "UTC":
        return stamps.dt.replace_time_zone("UTC")
    # Zone offsets change only on whole local hours: each local hour's offset is looked up once
    # and subtracted. Ambiguous / non-existent hours come back null and are resolved row by row below.
    s = _by_hour_grid(stamps, tz)
    if s is None:
        s = _by_hour_join(stamps, tz)
    if s.null_count():  # ambiguous (fall back) or non-existent (spring forward): only those rows
        idx = s.is_null().arg_true()
        sub = stamps.gather(idx)
        second = (sub <= stamps.cum_max().shift(1).gather(idx)).fill_null(False)
        f = pl.DataFrame({"t": sub, "second": second}).select(
            pl.when(pl.col("second"))
            .then(pl.col("t").dt.replace_time_zone(tz, ambiguous="latest", non_existent="null"))
            .otherwise(pl.col("t").dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null"))
        ).to_series()
        s = s.scatter(idx, f)
    return s.dt.convert_time_zone("UTC")


def _hour_offsets(hours: pl.Series, tz: str) -> pl.Series:
    """UTC offset (Duration) of each local hour start; null where that hour is ambiguous or missing."""
    return hours - hours.dt.replace_time_zone(tz, ambiguous="null", non_existent="null") \
        .dt.convert_time_zone("UTC").dt.replace_time_zone(None)


def _by_hour_join(stamps: pl.Series, tz: str) -> pl.Series:
    """Offsets by a join on the distinct local hours (the straightforward formulation)."""
    hours = pl.DataFrame({"t": stamps}).with_columns(pl.col("t").dt.truncate("1h").alias("h"))
    uniq = hours.select(pl.col("h").unique())
    uniq = uniq.with_columns(_hour_offsets(uniq["h"], tz).alias("off"))
    off = hours.join(uniq, on="h", how="left", maintain_order="left")["off"]
    return (stamps - off).dt.replace_time_zone("UTC").dt.convert_time_zone(tz)


@lru_cache(maxsize=8)  # at most ~4.5 MB each
def _grid_offsets(tz: str, h0: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (us) of ``n`` local hours from ``h0`` (us) and where they are ambiguous or missing;
    cached: zone detection places a sample spanning the same hours in every candidate zone."""
    grid = pl.Series(np.arange(n, dtype=np.int64) * _HOUR_US + h0).cast(pl.Datetime("us"))
    off = _hour_offsets(grid, tz)
    bad = off.is_null().to_numpy()
    off_us = off.dt.total_microseconds().fill_null(0).to_numpy()
    off_us.flags.writeable = bad.flags.writeable = False
    return off_us, bad


def _by_hour_grid(stamps: pl.Series, tz: str) -> pl.Series | None:
    """Offsets from a table of every local hour between the first and last stamp, indexed by
    integer division (no hash join); None when the stamps are not plain ``Datetime("us")`` or span
    too many hours. Same answer as :func:`_by_hour_join`: truncating to the hour is flooring."""
    if stamps.dtype != pl.Datetime("us") or stamps.len() == 0 or stamps.null_count():
        return None
    phys = stamps.to_physical()
    h0 = (int(phys.min()) // _HOUR_US) * _HOUR_US
    n = (int(phys.max()) - h0) // _HOUR_US + 1
    if n > _GRID_MAX:
        return None
    off_us, bad = _grid_offsets(tz, h0, n)
    any_bad = bool(bad.any())
    out = np.empty(phys.len(), dtype=np.int64)
    nulls: list[np.ndarray] = []
    pos = 0
    # chunk by chunk of the parsed column (no copy of it) and in cache-sized pieces (no
    # frame-sized temporaries): only ``out`` is allocated
    for chunk in phys.get_chunks():
        a = chunk.to_numpy()
        for i in range(0, len(a), _CHUNK):
            piece = a[i:i + _CHUNK]
            k = (piece - h0) // _HOUR_US
            np.subtract(piece, off_us[k], out=out[pos + i:pos + i + len(piece)])
            if any_bad:
                nulls.append(np.flatnonzero(bad[k]) + (pos + i))
        pos += len(a)
    utc = pl.Series(out)
    if nulls and sum(len(x) for x in nulls):
        utc = utc.scatter(np.concatenate(nulls), None)
    return utc.cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz)


def to_bars(parsed: ParsedExport, tz: str, *, stamp: str = "close", interval: str | None = None,
            now: dt.datetime | None = None) -> Placed:
    """Place parsed rows in time and build canonical bars (``source`` = ``parsed.source``).

    Parameters
    ----------
    parsed : ParsedExport
    tz : str
        Zone the export was written in (IANA name or ``UTC``).
    stamp : {"close", "open"}
        NinjaTrader stamps bars at their close: ``close`` shifts every stamp back by the interval.
        Ignored for daily bars (labelled by date) and ticks (exact trade times).
    interval : str, optional
        ``"1m"``, ``"5m"``... ; inferred from the stamps when None.
    now : datetime, optional
        Bars later than ``now`` plus one bar are rejected (default: the current time).

    Raises
    ------
    InputError
        A local time that does not exist (spring forward), listing the lines.
    """
    rows = parsed.rows
    if parsed.is_daily:
        bars = rows.select(pl.col("stamp").dt.replace_time_zone("UTC").alias("datetime"), *_PRICES, "volume")
        return _finish(parsed, bars, rows["line"], [], 1440, False, now)
    utc = localize(rows["stamp"], tz)
    if utc.null_count():
        bad = rows.filter(utc.is_null())
        first = bad["line"].head(10).to_list()
        texts = parsed.texts(first)
        listed = ", ".join(f"line {ln} ({texts.get(ln, '')})" for ln in first)
        more = f" and {bad.height - 10} more" if bad.height > 10 else ""
        msg = (f"{parsed.name}: {bad.height} time(s) that do not exist in {tz} (spring-forward DST gap): "
               f"{listed}{more}; expected wall-clock times of {tz} — is the zone right?")
        raise InputError(msg, file=parsed.name, line=int(bad["line"][0]), field="datetime")
    if parsed.is_tick:
        ticks = rows.with_columns(utc.alias("t")).sort("t", maintain_order=True)
        bars = ticks.group_by(pl.col("t").dt.truncate("1m").alias("datetime"), maintain_order=True).agg(
            pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
            pl.col("volume").sum(), pl.col("line").first())
        return _finish(parsed, bars.drop("line"), bars["line"], [], 1, False, now)
    inferred = interval is None
    minutes = infer_interval(utc) if inferred else parse_interval(interval)
    if stamp not in ("close", "open"):
        raise InputError(f"stamp {stamp!r} not understood; expected 'close' or 'open'", field="stamp")
    shift = pl.duration(minutes=minutes) if stamp == "close" else pl.duration(minutes=0)
    bars = rows.select((utc - pl.select(shift).item()).alias("datetime"), *_PRICES, "volume")
    return _finish(parsed, bars, rows["line"], [], minutes, inferred, now)


def parse_interval(text: str) -> int:
    """``"1m"`` -> 1, ``"5m"`` -> 5, ``"1h"`` -> 60; InputError otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*(m|min|h)\s*", str(text))
    if not m or int(m.group(1)) == 0:
        raise InputError(f"interval {text!r} not understood; expected e.g. 1m, 5m, 1h", field="interval")
    return int(m.group(1)) * (60 if m.group(2) == "h" else 1)


#: the rules :func:`_finish` states itself (before the :func:`value_rules`); :func:`_surely_clean`
#: covers exactly these
_OWN_RULES = 8


def _surely_clean(b: pl.DataFrame, value: list[tuple[str, pl.Expr]]) -> bool:
    """True only when no row of ``b`` breaks a rule of :func:`_finish` (False: evaluate them all).

    Equivalent to the rules, cheaper: strictly increasing stamps have no duplicate or out-of-order
    stamp; ``0 < low <= open, close <= high`` with ``high`` finite means no price rule fires
    (polars orders NaN above every number, so ``open``, ``close`` and ``low`` at or below a finite
    ``high`` are finite too); the volume rule is a bound on its minimum; a UTC microsecond stamp
    is on a whole minute when it is a multiple of 60 000 000. The stamp checks run over the
    stamps' buffer in cache-sized chunks (no frame-sized temporaries)."""
    if b.height == 0:
        return True
    if not b.schema["volume"].is_integer() or b.select(*_PRICES, "datetime", "volume").null_count().row(0) != (0,) * 6:
        return False  # nulls take the full pass (the rules read them by Kleene logic)
    minute = b.schema["datetime"] == pl.Datetime("us", "UTC") and any(n == OFF_MINUTE for n, _ in value)
    rest = [e for n, e in value if not (minute and n == OFF_MINUTE)]
    if not _stamps_clean(b["datetime"].to_physical().to_numpy(), minute):
        return False
    o, h, lo, c = (pl.col(x) for x in _PRICES)
    ok = b.select(
        ((lo > 0) & (lo <= o) & (lo <= c) & (h >= o) & (h >= c) & h.is_finite()).all().alias("px"),
        (pl.col("volume").min() >= 0).alias("vol"),
        (pl.any_horizontal([e.fill_null(False) for e in rest]).any() if rest else pl.lit(False)).alias("val"),
    ).row(0)
    return bool(ok[0] and ok[1] and not ok[2])



def _stamps_clean(t: np.ndarray, minute: bool) -> bool:
    """``t`` (int64) strictly increasing and, with ``minute``, every value a multiple of a minute (us)."""
    for i in range(0, len(t), _CHUNK):
        j = min(i + _CHUNK, len(t))
        a = t[max(i - 1, 0):j]
        if not (a[1:] > a[:-1]).all():
            return False
        if minute and (t[i:j] % _MIN_US).any():
            return False
    return True


def reject_rules(minutes: int, now: dt.datetime, cap: float | None) -> list[tuple[str, pl.Expr]]:
    """Every reason a placed row is rejected, each with its row mask (SPEC 4 invariants, order of
    the stamps, then :func:`datamgr.core.schema.value_rules`); the first ``_OWN_RULES`` are this
    module's own."""
    prev = pl.col("datetime").cum_max().shift(1)
    return [
        ("price <= 0", pl.any_horizontal([pl.col(c) <= 0 for c in _PRICES])),
        ("price is NaN or infinite", pl.any_horizontal([~pl.col(c).is_finite() for c in _PRICES])),
        ("high < low", pl.col("high") < pl.col("low")),
        ("low above open/close", pl.col("low") > pl.min_horizontal("open", "close")),
        ("high below open/close", pl.col("high") < pl.max_horizontal("open", "close")),
        ("negative volume", pl.col("volume") < 0),
        ("duplicate time stamp (an earlier line has it)", (pl.col("datetime") == prev).fill_null(False)),
        ("time stamp out of order", (pl.col("datetime") < prev).fill_null(False)),
        *value_rules(minutes=minutes, now=now, cap=cap),
    ]


def _finish(parsed: ParsedExport, bars: pl.DataFrame, lines: pl.Series, rejects: list[Reject],
            minutes: int, inferred: bool, now: dt.datetime | None = None) -> Placed:
    """Split off rows breaking invariants (listed with reasons); return clean sorted bars."""
    b = bars.with_columns(pl.lit(parsed.source).alias("source"), lines.alias("line"))
    b = b.with_columns(pl.col("datetime").cast(pl.Datetime("us", "UTC")))
    reasons = reject_rules(minutes, now or now_utc(), volume_cap(b["volume"]))
    # "is anything wrong": a few cheap checks that prove every row clean, else one pass over every
    # rule; the reasons are spelled out for the rejected rows only
    anyr = None if _surely_clean(b, reasons[_OWN_RULES:]) else \
        b.select(pl.any_horizontal([e.fill_null(False) for _, e in reasons])).to_series()
    good = b
    if anyr is not None and anyr.any():
        # flags over the whole frame (the order rules look at earlier rows), then the bad rows
        bad = b.with_columns([e.fill_null(False).alias(f"_r{i}") for i, (_, e) in enumerate(reasons)]).filter(anyr)
        texts = parsed.texts(bad["line"].to_list())
        for r in bad.iter_rows(named=True):  # only the rejected rows, normally few
            why = "; ".join(n for i, (n, _) in enumerate(reasons) if r[f"_r{i}"])
            rejects.append(Reject(int(r["line"]), why, texts.get(int(r["line"]), "")))
        good = b.filter(~anyr)
    # every kept row is later than all rows before it: strictly increasing, no sort needed
    good = good.with_columns(pl.col("datetime").set_sorted())
    return Placed(conform(good), good["line"], rejects, minutes, inferred)
