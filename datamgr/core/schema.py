"""The canonical bar frame (SPEC 4) and its invariants.

In memory a bar frame is a polars DataFrame with exactly these columns, in this order::

    datetime  Datetime(us, UTC)   bar OPEN time
    open high low close  Float64
    volume    Int64
    source    String              (dictionary-encoded in Parquet)
    [bars     Int32]              upsampled files only: 1m bars inside the window

:func:`validate_bars` returns *every* violation with its row position; :func:`check_bars`
raises :class:`~datamgr.core.errors.InvariantError` listing them.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from datamgr.core.errors import InvariantError

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_SCHEMA: dict[str, pl.DataType] = {
    "datetime": pl.Datetime("us", "UTC"),
    "open": pl.Float64(),
    "high": pl.Float64(),
    "low": pl.Float64(),
    "close": pl.Float64(),
    "volume": pl.Int64(),
    "source": pl.String(),
}
BARS_COLUMN = ("bars", pl.Int32())
SOURCES = ("ninjatrader", "tradingview", "smartapi", "yahoo", "upsampled", "demo")
INT32_MAX = 2**31 - 1
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
VOLUME_OUTLIER = 100  # x the file's own 99.9th percentile
#: the reason :func:`value_rules` gives a 1-minute bar whose time is not on a whole minute
OFF_MINUTE = "1m bar not on a whole minute"


def volume_cap(volume: pl.Series) -> float | None:
    """:data:`VOLUME_OUTLIER` times the 99.9th percentile of ``volume`` (None when it is 0)."""
    if volume.len() == 0:
        return None
    if volume.dtype.is_integer() and volume.null_count() == 0:
        # the same order statistic as quantile(0.999, "higher") (polars: index ceil((n - 1) q)
        # of the sorted values), as the smallest of the top k: no cast, no sort of every value
        n = volume.len()
        k = n - math.ceil((n - 1) * 0.999)
        p = float(volume.top_k(k).min())
    else:
        p = volume.cast(pl.Float64).quantile(0.999, interpolation="higher")
    return VOLUME_OUTLIER * p if p and p > 0 else None


def value_rules(*, minutes: int | None, now: dt.datetime | None = None,
                cap: float | None = None) -> list[tuple[str, pl.Expr]]:
    """Plausibility rules for incoming bars (each a reason and a row mask; SPEC 4 invariants aside).

    Parameters
    ----------
    minutes : int, optional
        Bar length; 1 adds "on a whole minute", and with ``now`` it sets how far ahead is too far.
    now : datetime, optional
        Bars opening later than ``now`` plus one bar are refused.
    cap : float, optional
        Volume above this (see :func:`volume_cap`) is refused as an outlier.
    """
    rules: list[tuple[str, pl.Expr]] = [
        (f"volume beyond int32 ({INT32_MAX})", pl.col("volume") > INT32_MAX),
        ("time before 1970", pl.col("datetime") < EPOCH),
    ]
    if minutes == 1:
        rules.append((OFF_MINUTE,
                      pl.col("datetime").dt.truncate("1m") != pl.col("datetime")))
    if now is not None and minutes:
        limit = now.astimezone(dt.UTC) + dt.timedelta(minutes=minutes)
        rules.append((f"time later than now + one bar ({limit.isoformat()})", pl.col("datetime") > limit))
    if cap is not None:
        rules.append((f"volume more than {VOLUME_OUTLIER}x the file's 99.9th percentile (> {cap:,.0f})",
                      pl.col("volume") > cap))
    return rules


def bar_schema(with_bars: bool = False) -> dict[str, pl.DataType]:
    s = dict(BAR_SCHEMA)
    if with_bars:
        s[BARS_COLUMN[0]] = BARS_COLUMN[1]
    return s


def arrow_schema(with_bars: bool = False) -> pa.Schema:
    """The on-disk Arrow schema (``source`` dictionary-encoded)."""
    fields = [
        pa.field("datetime", pa.timestamp("us", tz="UTC"), nullable=False),
        *(pa.field(c, pa.float64(), nullable=False) for c in PRICE_COLUMNS),
        pa.field("volume", pa.int64(), nullable=False),
        pa.field("source", pa.dictionary(pa.int32(), pa.string()), nullable=False),
    ]
    if with_bars:
        fields.append(pa.field("bars", pa.int32(), nullable=False))
    return pa.schema(fields)


def empty_bars(with_bars: bool = False) -> pl.DataFrame:
    """An empty frame with the bar schema."""
    return pl.DataFrame(schema=bar_schema(with_bars))


def conform(df: pl.DataFrame) -> pl.DataFrame:
    """Cast and order ``df`` into the canonical schema (keeps ``bars`` if present).

    Raises :class:`InvariantError` if a required column is missing.
    """
    with_bars = "bars" in df.columns
    schema = bar_schema(with_bars)
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise InvariantError(f"bar frame lacks column(s) {missing}; expected {list(schema)}")
    if df.schema["volume"].is_float():
        # Casting would silently truncate 98.7 to 98: refuse fractional volumes instead.
        frac = df.select(pl.arg_where(pl.col("volume").is_finite() & (pl.col("volume") != pl.col("volume").floor())))
        if frac.height:
            v = Violation("fractional volume", frac.height, tuple(frac.to_series().head(_MAX_LISTED).to_list()))
            raise InvariantError(f"bars break the bar invariants:\n  {v}", [v])
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        if name == "datetime":
            dt = df.schema[name]
            if isinstance(dt, pl.Datetime) and dt.time_zone is None:
                col = col.dt.replace_time_zone("UTC")
            elif isinstance(dt, pl.Datetime) and dt.time_zone != "UTC":
                col = col.dt.convert_time_zone("UTC")
        exprs.append(col.cast(dtype))
    try:
        return df.select(exprs)
    except (pl.exceptions.PolarsError, TypeError) as err:
        # A column that cannot be cast (text in ``volume``, ...) is a schema violation, not a crash.
        got = {k: str(v) for k, v in df.schema.items() if k in schema}
        msg = f"schema mismatch: cannot cast to the bar schema {list(schema)} (got {got}): {err}"
        raise InvariantError(msg) from err


@dataclass(frozen=True)
class Violation:
    """One broken invariant: which rule, at which rows (first few positions listed)."""

    rule: str
    count: int
    rows: tuple[int, ...]
    times: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = ", ".join(str(r) for r in self.rows)
        more = f" (+{self.count - len(self.rows)} more)" if self.count > len(self.rows) else ""
        when = f" at {', '.join(self.times)}" if self.times else ""
        return f"{self.rule}: {self.count} row(s), rows {where}{more}{when}"


_MAX_LISTED = 20


def validate_bars(df: pl.DataFrame, *, check_schema: bool = True) -> list[Violation]:
    """Every invariant violation of SPEC 4, each with row positions (0-based)."""
    out: list[Violation] = []
    if check_schema:
        expected = bar_schema("bars" in df.columns)
        if dict(df.schema) != expected:
            got = {k: str(v) for k, v in df.schema.items()}
            want = {k: str(v) for k, v in expected.items()}
            return [Violation(f"schema mismatch: got {got}, expected {want}", 1, ())]
    if df.height == 0:
        return out
    floats = [pl.col(c) for c in PRICE_COLUMNS]
    rules: list[tuple[str, pl.Expr]] = [
        ("null value", pl.any_horizontal(pl.all().is_null())),
        ("NaN or inf price", pl.any_horizontal([~c.is_finite() for c in floats])),
        ("price <= 0", pl.any_horizontal([c <= 0 for c in floats])),
        ("low > min(open, close)", pl.col("low") > pl.min_horizontal("open", "close")),
        ("high < max(open, close)", pl.col("high") < pl.max_horizontal("open", "close")),
        ("low > high", pl.col("low") > pl.col("high")),
        ("volume < 0", pl.col("volume") < 0),
        ("datetime not strictly increasing (duplicate or out of order)",
         pl.col("datetime").diff() <= pl.duration(microseconds=0)),
    ]
    # one pass counts every rule's rows (no mask is kept); rows are listed only for the rules broken
    counts = df.select([expr.fill_null(False).sum().alias(str(i)) for i, (_, expr) in enumerate(rules)]).row(0)
    if not any(counts):
        return out
    masks = df.select(
        [expr.fill_null(False).alias(str(i)) for i, (_, expr) in enumerate(rules)]
        + [pl.col("datetime")]
    ).with_row_index("__row")
    for i, (name, _) in enumerate(rules):
        if not counts[i]:
            continue
        bad = masks.filter(pl.col(str(i)))
        if bad.height:
            head = bad.head(_MAX_LISTED)
            times = tuple(str(t) for t in head["datetime"].to_list())
            out.append(Violation(name, bad.height, tuple(head["__row"].to_list()), times))
    return out


def check_bars(df: pl.DataFrame, what: str = "bars") -> None:
    """Raise :class:`InvariantError` naming every violation; return silently if clean."""
    violations = validate_bars(df)
    if violations:
        lines = "\n  ".join(str(v) for v in violations)
        raise InvariantError(f"{what} break the bar invariants:\n  {lines}", violations)
