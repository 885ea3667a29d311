"""Demo data: realistic synthetic 1-minute bars on the real session calendar (``source=demo``).

Used by ``python -m datamgr demo``, by the app's first-run offer on an empty folder, and by the
tests and benchmarks as a data builder. Planted gaps make the Health page show something real.
"""

from __future__ import annotations

import datetime as dt
import os
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import polars as pl

from datamgr.calendar.sessions import get_calendar
from datamgr.core.config import Settings
from datamgr.core.errors import StoreError
from datamgr.core.progress import Progress, report
from datamgr.derived.regenerate import regenerate, regenerate_if_stale
from datamgr.store.store import Store, WriteResult


@dataclass(frozen=True)
class PlantedGap:
    """Minutes removed on purpose: ``[start, end)`` in UTC."""

    start: dt.datetime
    end: dt.datetime

    @property
    def minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


def make_demo_bars(start: dt.date, end: dt.date, *, calendar: str = "CME Globex Equity",
                   seed: int = 7, tick: float = 0.25, price: float = 5000.0,
                   gaps: list[PlantedGap] | None = None, source: str = "demo") -> pl.DataFrame:
    """Bars for every expected minute of trading days ``start..end`` minus ``gaps``.

    A random walk on the tick grid; OHLC invariants hold; volume follows a U-shaped intraday
    profile, heavier in regular trading hours. Deterministic for a given ``seed``.
    """
    minutes = get_calendar(calendar).expected_minutes(start, end)
    n = minutes.len()
    rng = np.random.default_rng(seed)
    steps = np.round(rng.normal(0.0, 0.9, n) / tick)  # ticks
    close_t = np.round(price / tick) + np.cumsum(steps)
    open_t = np.concatenate([[close_t[0] - steps[0]], close_t[:-1]])
    wick_hi = np.floor(np.abs(rng.normal(0.0, 1.2, n)))
    wick_lo = np.floor(np.abs(rng.normal(0.0, 1.2, n)))
    high_t = np.maximum(open_t, close_t) + wick_hi
    low_t = np.minimum(open_t, close_t) - wick_lo
    et_min = (minutes.dt.convert_time_zone("America/New_York").dt.hour().cast(pl.Int32) * 60
              + minutes.dt.convert_time_zone("America/New_York").dt.minute().cast(pl.Int32)).to_numpy()
    rth = (et_min >= 570) & (et_min < 960)
    base = np.where(rth, 900, 120)
    vol = rng.poisson(base).astype(np.int64) + 1
    df = pl.DataFrame({
        "datetime": minutes,
        "open": open_t * tick, "high": high_t * tick, "low": low_t * tick, "close": close_t * tick,
        "volume": vol, "source": pl.Series([source], dtype=pl.String).extend_constant(source, n - 1) if n else [],
    })
    for g in gaps or []:
        df = df.filter((pl.col("datetime") < g.start) | (pl.col("datetime") >= g.end))
    return df


def default_gaps(start: dt.date, end: dt.date, calendar: str = "CME Globex Equity") -> list[PlantedGap]:
    """A few planted holes in the demo range: 7 minutes, 47 minutes, 3 hours and a whole session."""
    cal = get_calendar(calendar)
    sessions = cal.sessions(start, end)
    if sessions.height < 12:
        return []
    gaps = []
    for idx, offset_min, length in ((3, 600, 7), (7, 900, 47), (11, 200, 180)):
        s = sessions.row(idx, named=True)
        g0 = s["open"] + dt.timedelta(minutes=offset_min)
        gaps.append(PlantedGap(g0, g0 + dt.timedelta(minutes=length)))
    whole = sessions.row(sessions.height // 2, named=True)
    gaps.append(PlantedGap(whole["open"], whole["close"]))
    return gaps


@dataclass(frozen=True)
class DemoResult:
    """What ``write_demo`` did."""

    written: bool
    path: str
    rows: int
    message: str

    def to_json(self) -> dict:
        return {"written": self.written, "path": self.path, "rows": self.rows, "message": self.message}


def write_demo(settings: Settings, ticker: str = "ES1", *, months: int = 3, end: dt.date | None = None,
               seed: int = 7, refresh: bool = False, dry_run: bool = False, derived: bool = True,
               progress: Progress = None) -> DemoResult:
    """Write a demo 1m master for ``ticker`` ending at the last complete session (or ``end``).

    Derived outputs (upsampled bars, analysis JSON, web chunks) are regenerated unless
    ``derived`` is False, so every page of the app has something real to show.
    Never touches real data: when the master exists and holds anything but demo bars, or cannot
    be read (damaged, truncated, a symbolic link), nothing is written. An existing demo master is kept unless ``refresh``.
    """
    store = Store(settings)
    path = settings.bar_path(ticker, "1m")
    instrument = settings.instrument(ticker)
    end = end or (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=int(months * 30.5))
    with nullcontext() if dry_run else store.lock("demo"):
        if os.path.lexists(path):
            # Whatever is there is read in full and checked against its footer: a file that cannot
            # be read (truncated, damaged, a link) may be real data and is never overwritten.
            try:
                existing = store.read(ticker, "1m")
            except StoreError as err:
                return DemoResult(False, str(path), 0,
                                  f"{path.name} exists but cannot be read ({err}); demo data not written")
            if (existing["source"] != "demo").any():
                return DemoResult(False, str(path), existing.height,
                                  f"{path.name} holds real data: demo data not written")
            if existing.height and not refresh:
                if derived and not dry_run and regenerate_if_stale(settings, ticker, store=store) is not None:
                    report(progress, 2, 3, "regenerated stale derived data")  # left by a killed regenerate
                return DemoResult(False, str(path), existing.height,
                                  f"{path.name} already holds demo data (use --refresh to regenerate it)")
        report(progress, 0, 3, "generating demo bars")
        bars = make_demo_bars(start, end, calendar=instrument.calendar, seed=seed, tick=instrument.tick_size,
                              gaps=default_gaps(start, end, instrument.calendar))
        report(progress, 1, 3, f"writing {bars.height:,} demo bars")
        res: WriteResult = store.write(ticker, "1m", bars, operation="demo", details={"added": bars.height},
                                       dry_run=dry_run)
        if res.written and derived:
            report(progress, 2, 3, "regenerating derived data")
            regenerate(settings, ticker, store=store)
        elif derived and not dry_run:  # the same demo bars: only what a killed regenerate left stale
            regenerate_if_stale(settings, ticker, store=store)
    report(progress, 3, 3, "done")
    if dry_run:
        return DemoResult(False, res.path, res.rows_after, f"dry run: would write {res.rows_after:,} demo bars to {path}")
    msg = f"wrote {res.rows_after:,} demo bars to {path}" if res.written else f"{path.name} demo data is up to date"
    return DemoResult(res.written, res.path, res.rows_after, msg)
