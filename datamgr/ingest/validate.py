"""Validation of incoming provider bars before a merge (SPEC 7), and the quarantine.

Yahoo is known to inject random candles and bad ticks, so every fetched bar is checked and
each rejected bar carries every reason that applies (``; ``-joined):

* ``invariant: ...``      null/NaN/inf, price <= 0, ``low > min(open, close)``,
  ``high < max(open, close)``, ``low > high``, volume < 0, duplicate timestamp;
* ``outside session``     1m: open time outside the calendar's sessions; 1d: not a trading day;
* ``off tick grid``       a price that is not a multiple of the instrument's tick size;
* ``spike: ...``          high, low or close more than ``k`` robust deviations from the rolling
  median close of its neighbours (deviation = max(1.4826 x MAD, median bar range); the limit is
  at least ``min_ticks`` ticks), or a range
  more than ``range_mult`` times the rolling median range (at least 4 ticks). The rolling
  window (centred, ``window`` bars) runs over the candidates together with the stored bars
  around them, so a short update still has neighbours;
* ``disagrees with <source>``  an overlapping stored bar from a higher-precedence source
  differs by more than one tick in any of O/H/L/C;
* ``price level: ...``    the level of the fetched bars as a whole departs from the stored bars
  next to them (ratio outside 0.5-2, an overlap offset or a junction jump beyond the robust bound
  of :mod:`datamgr.ingest.sanity`): every fetched bar is quarantined, the numbers in the reason.
  A Yahoo file shifted by 1,000 points is refused as a whole, not bar by bar.

Rejected bars are written to ``quarantine/<T>_<tf>.<UTC stamp>.parquet`` (atomically, bar
columns plus ``reason``) for review; accepted bars go on to the merge plan.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from datamgr.calendar.sessions import SessionCalendar
from datamgr.core.schema import PRICE_COLUMNS, bar_schema
from datamgr.core.timefmt import to_et_iso, utc_stamp
from datamgr.ingest.sanity import check_levels
from datamgr.store.atomic import atomic_write_bytes

log = logging.getLogger(__name__)
_UTC = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Thresholds:
    """Spike detection parameters (defaults tuned on 1m ES: quiet enough for real moves)."""

    window: int = 21
    k: float = 10.0
    min_ticks: float = 16.0
    range_mult: float = 12.0


@dataclass
class Validation:
    """Accepted bars (canonical) and rejected bars (canonical + ``reason``)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame

    @property
    def fetched(self) -> int:
        return self.accepted.height + self.rejected.height

    def reasons(self) -> dict[str, int]:
        """Count of rejected bars per reason kind (text before the first ``:``)."""
        if self.rejected.height == 0:
            return {}
        kinds = self.rejected["reason"].str.split("; ").explode().str.split(":").list.first()
        return dict(sorted(kinds.value_counts().iter_rows()))

    def rejected_json(self, limit: int = 200, daily: bool = False) -> list[dict]:
        """The first ``limit`` rejected bars; times ET ISO (1m) or the label date (daily/weekly)."""
        rows = []
        for r in self.rejected.head(limit).iter_rows(named=True):
            r = dict(r)
            r["datetime"] = r["datetime"].date().isoformat() if daily else to_et_iso(r["datetime"])
            rows.append(r)
        return rows


def validate_incoming(bars: pl.DataFrame, *, timeframe: str, calendar: SessionCalendar, tick: float,
                      master: pl.DataFrame, precedence: tuple[str, ...] | list[str], source: str = "yahoo",
                      thresholds: Thresholds = Thresholds()) -> Validation:
    """Split ``bars`` (from ``source``) into accepted and rejected-with-reasons.

    Parameters
    ----------
    bars : DataFrame
        Canonical columns, possibly unsorted, with duplicates or broken values.
    timeframe : {"1m", "1d", "1w"}
    calendar : SessionCalendar
        The instrument's calendar (overrides applied).
    tick : float
        Tick size of the instrument.
    master : DataFrame
        The stored bars of that file (neighbours for spikes; higher-precedence overlap).
    precedence : sequence of str
        Source precedence, highest first.
    """
    df = bars.with_columns(pl.lit(source).alias("source")).sort("datetime", maintain_order=True)
    df = df.with_row_index("_i")
    reasons: list[pl.Expr] = []
    f = [pl.col(c) for c in PRICE_COLUMNS]
    inv = [
        ("invariant: null value", pl.any_horizontal([c.is_null() for c in (*f, pl.col("volume"))])),
        ("invariant: NaN or inf price", pl.any_horizontal([~c.is_finite() for c in f])),
        ("invariant: price <= 0", pl.any_horizontal([c <= 0 for c in f])),
        ("invariant: low > min(open, close)", pl.col("low") > pl.min_horizontal("open", "close")),
        ("invariant: high < max(open, close)", pl.col("high") < pl.max_horizontal("open", "close")),
        ("invariant: low > high", pl.col("low") > pl.col("high")),
        ("invariant: volume < 0", pl.col("volume") < 0),
        ("invariant: duplicate timestamp", pl.col("datetime").is_duplicated() & (pl.col("datetime").cum_count().over("datetime") > 1)),
    ]
    reasons += [pl.when(e.fill_null(True)).then(pl.lit(name)) for name, e in inv]
    df = df.with_columns(_in_session(df["datetime"], timeframe, calendar).alias("_in"))
    what = "outside session" if timeframe == "1m" else "outside session: not a trading day"
    reasons.append(pl.when(~pl.col("_in")).then(pl.lit(what)))
    off = pl.any_horizontal([((c / tick) - (c / tick).round()).abs() > 1e-6 for c in f])
    reasons.append(pl.when(off.fill_null(False)).then(pl.lit(f"off tick grid ({tick:g})")))
    df = df.with_columns(pl.concat_list([r.alias(str(i)) for i, r in enumerate(reasons)])
                         .list.drop_nulls().alias("_r"))
    df = _spikes(df, master, tick, thresholds, calendar if timeframe == "1m" else None)
    df = _disagreements(df, master, precedence, source, tick)
    df = _level(df, master, timeframe, tick, source)
    df = df.with_columns(pl.col("_r").list.join("; ").alias("reason"))
    cols = list(bar_schema())
    bad = pl.col("_r").list.len() > 0
    accepted = df.filter(~bad).select(cols)
    rejected = df.filter(bad).select(*cols, "reason")
    log.info("validation: %d accepted, %d rejected", accepted.height, rejected.height)
    return Validation(accepted, rejected)


def _in_session(ts: pl.Series, timeframe: str, calendar: SessionCalendar) -> pl.Series:
    if ts.len() == 0:
        return pl.Series([], dtype=pl.Boolean)
    if timeframe == "1m":
        return calendar.label(ts)["in_session"]
    if timeframe == "1w":  # weekly bars are labelled by the week's first day: always a session week
        return pl.Series([True] * ts.len())
    days = ts.dt.date()
    lo, hi = days.min(), days.max()
    trading = calendar.sessions(lo, hi)["trading_day"]
    return days.is_in(trading.implode())


def _spikes(df: pl.DataFrame, master: pl.DataFrame, tick: float, th: Thresholds,
            calendar: SessionCalendar | None) -> pl.DataFrame:
    """Add ``spike: ...`` reasons, judged against the rolling median of the clean neighbours.

    For 1m bars the windows stay inside one trading session: the first bar after a weekend or
    the daily halt is judged by its own session, not by the close of the previous one.
    """
    clean = df.filter(pl.col("_r").list.len() == 0)
    if clean.height == 0:
        return df
    lo, hi = clean["datetime"].min(), clean["datetime"].max()
    ctx = master.filter(~pl.col("datetime").is_in(clean["datetime"].implode()))
    before = ctx.filter(pl.col("datetime") < lo).tail(th.window)
    after = ctx.filter(pl.col("datetime") > hi).head(th.window)
    inside = ctx.filter(pl.col("datetime").is_between(lo, hi))
    keep = ["datetime", "high", "low", "close"]
    allb = pl.concat([
        before.select(keep).with_columns(pl.lit(None, pl.UInt32).alias("_i")),
        inside.select(keep).with_columns(pl.lit(None, pl.UInt32).alias("_i")),
        after.select(keep).with_columns(pl.lit(None, pl.UInt32).alias("_i")),
        clean.select(*keep, "_i"),
    ]).sort("datetime")
    grp = calendar.label(allb["datetime"])["trading_day"].fill_null(dt.date(1970, 1, 1)) \
        if calendar is not None else pl.repeat(dt.date(1970, 1, 1), allb.height, eager=True)
    allb = allb.with_columns(grp.alias("_day"))
    w = th.window
    med = pl.col("close").rolling_median(w, center=True, min_samples=1)
    rng = (pl.col("high") - pl.col("low"))
    allb = allb.with_columns(med.over("_day").alias("_med"),
                             rng.rolling_median(w, center=True, min_samples=1).over("_day").alias("_mr"))
    allb = allb.with_columns((pl.col("close") - pl.col("_med")).abs().rolling_median(w, center=True, min_samples=1)
                             .over("_day").alias("_mad"))
    # the robust spread of closes, but never below the typical bar range (flat stretches have MAD 0)
    scale = pl.max_horizontal(1.4826 * pl.col("_mad"), pl.col("_mr"))
    lim = pl.max_horizontal(th.k * scale, pl.lit(th.min_ticks * tick))
    far = [pl.when((pl.col(c) - pl.col("_med")).abs() > lim).then(pl.lit(c)) for c in ("high", "low", "close")]
    wide = (pl.col("high") - pl.col("low")) > th.range_mult * pl.max_horizontal("_mr", pl.lit(4 * tick))
    allb = allb.with_columns(
        pl.concat_list([
            pl.when(pl.concat_list(far).list.drop_nulls().list.len() > 0).then(
                pl.format("spike: {} more than {} from the rolling median {}",
                          pl.concat_list(far).list.drop_nulls().list.join("/"), lim.round(2), pl.col("_med"))),
            pl.when(wide).then(pl.format("spike: range {} over {}x the rolling median range {}",
                                         (pl.col("high") - pl.col("low")).round(2), pl.lit(th.range_mult),
                                         pl.col("_mr"))),
        ]).list.drop_nulls().alias("_sp"))
    sp = allb.filter(pl.col("_i").is_not_null()).select("_i", "_sp")
    return (df.join(sp, on="_i", how="left")
            .with_columns(pl.concat_list("_r", pl.col("_sp").fill_null(pl.lit([], pl.List(pl.String))))
                          .alias("_r")).drop("_sp"))


def _disagreements(df: pl.DataFrame, master: pl.DataFrame, precedence, source: str, tick: float) -> pl.DataFrame:
    """Add ``disagrees with <source>`` where a higher-precedence stored bar differs by > 1 tick."""
    order = {s: i for i, s in enumerate(precedence)}
    mine = order.get(source, len(order))
    higher = [s for s, i in order.items() if i < mine]
    if master.height == 0 or not higher:
        return df
    m = master.filter(pl.col("source").is_in(higher)).select(
        "datetime", *(pl.col(c).alias(f"{c}_m") for c in PRICE_COLUMNS), pl.col("source").alias("source_m"))
    j = df.join(m, on="datetime", how="left")
    diff = pl.max_horizontal([(pl.col(c) - pl.col(f"{c}_m")).abs() for c in PRICE_COLUMNS])
    j = j.with_columns(
        pl.when(pl.col("source_m").is_not_null() & (diff > tick + 1e-9)).then(
            pl.format("disagrees with {} bar by {} (> 1 tick): stored O{} H{} L{} C{}", pl.col("source_m"),
                      diff.round(4), "open_m", "high_m", "low_m", "close_m")).alias("_d"))
    j = j.with_columns(pl.concat_list("_r", pl.concat_list("_d").list.drop_nulls()).alias("_r"))
    return j.drop([f"{c}_m" for c in PRICE_COLUMNS] + ["source_m", "_d"])


def _level(df: pl.DataFrame, master: pl.DataFrame, timeframe: str, tick: float, source: str) -> pl.DataFrame:
    """Add ``price level: ...`` to every bar when the candidates' level departs from the master."""
    clean = df.filter(pl.col("_r").list.len() == 0).select(list(bar_schema()))
    if clean.height == 0:
        # every bar already has a reason; judge the level on the bars that are at least finite
        clean = df.filter(pl.all_horizontal([pl.col(c).is_finite() & (pl.col(c) > 0) for c in PRICE_COLUMNS])
                          ).select(list(bar_schema()))
    chk = check_levels(clean.unique("datetime", keep="first").sort("datetime"), master,
                       timeframe="1m" if timeframe == "1m" else "1d", tick=tick, what=f"the {source} bars")
    if chk.ok:
        return df
    log.warning("validation: %s", chk.message)
    return df.with_columns(pl.concat_list("_r", pl.lit([f"price level: {chk.message}"], pl.List(pl.String)))
                           .alias("_r"))


def write_quarantine(quarantine_dir: Path, ticker: str, timeframe: str, rejected: pl.DataFrame,
                     now: dt.datetime | None = None) -> Path | None:
    """Write rejected bars (with ``reason``) to ``quarantine/<T>_<tf>.<UTC stamp>.parquet``.

    Atomic (temp file + fsync + replace); a name already taken gets ``-2``, ``-3``...
    Returns None (and writes nothing) when there is nothing to quarantine.
    """
    if rejected.height == 0:
        return None
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    stamp = utc_stamp(now)
    path = quarantine_dir / f"{ticker}_{timeframe}.{stamp}.parquet"
    n = 2
    while path.exists():
        path = quarantine_dir / f"{ticker}_{timeframe}.{stamp}-{n}.parquet"
        n += 1
    buf = io.BytesIO()
    rejected.write_parquet(buf, compression="zstd", statistics=True)
    atomic_write_bytes(path, buf.getvalue())
    log.info("quarantined %d bar(s) in %s", rejected.height, path)
    return path


def read_quarantine(path: Path) -> pl.DataFrame:
    """A quarantine file's bars with their reasons (one read from bytes)."""
    return pl.read_parquet(io.BytesIO(Path(path).read_bytes()))
