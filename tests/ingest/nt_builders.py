"""Test data builders: write bars as NinjaTrader exports in every dialect of SPEC 6."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import polars as pl


@dataclass(frozen=True)
class Dialect:
    """How an export is written."""

    layout: str = "minute"  # minute | daily | tick | tick-ba | csv-datetime | csv-date-time
    sep: str = ";"
    decimal_comma: bool = False
    eol: str = "\r\n"
    bom: bool = False
    trailing_sep: bool = False
    blank_lines: bool = False
    repeat_header: bool = False

    @property
    def id(self) -> str:
        flags = [k for k in ("decimal_comma", "bom", "trailing_sep", "blank_lines", "repeat_header")
                 if getattr(self, k)]
        eol = {"\r\n": "crlf", "\n": "lf", "\r": "cr"}[self.eol]
        return "-".join([self.layout, {";": "semi", ",": "comma"}[self.sep], eol, *flags])


def num(x: float, d: Dialect) -> str:
    s = repr(float(x))
    s = s[:-2] if s.endswith(".0") else s
    return s.replace(".", ",") if d.decimal_comma else s


def render(bars: pl.DataFrame, d: Dialect, tz: str = "UTC", stamp: str = "close") -> bytes:
    """Bars (canonical, UTC open times) -> export bytes. Close stamps add one minute."""
    z = ZoneInfo(tz)
    shift = dt.timedelta(minutes=1 if stamp == "close" and d.layout not in ("daily", "tick", "tick-ba") else 0)
    sep = d.sep
    lines: list[str] = []
    header = None
    if d.layout == "csv-datetime":
        header = sep.join(["DateTime", "Open", "High", "Low", "Close", "Volume"])
    elif d.layout == "csv-date-time":
        header = sep.join(["Date", "Time", "Open", "High", "Low", "Close", "Volume"])
    if header:
        lines.append(header)
    for i, r in enumerate(bars.iter_rows(named=True)):
        t = (r["datetime"] + shift).astimezone(z)
        px = [num(r[c], d) for c in ("open", "high", "low", "close")]
        v = str(r["volume"])
        if d.layout == "minute":
            f = [t.strftime("%Y%m%d %H%M%S"), *px, v]
        elif d.layout == "daily":
            f = [t.strftime("%Y%m%d"), *px, v]
        elif d.layout == "csv-datetime":
            f = [t.strftime("%Y-%m-%d %H:%M:%S"), *px, v]
        elif d.layout == "csv-date-time":
            f = [t.strftime("%m/%d/%Y"), t.strftime("%H:%M:%S"), *px, v]
        else:
            raise ValueError(d.layout)
        line = sep.join(f) + (sep if d.trailing_sep else "")
        lines.append(line)
        if d.blank_lines and i % 3 == 0:
            lines.append("")
        if d.repeat_header and header and i == bars.height // 2:
            lines.append(header)
    text = d.eol.join(lines) + d.eol
    return (b"\xef\xbb\xbf" if d.bom else b"") + text.encode()


def render_ticks(ticks: list[tuple[dt.datetime, float, float, float, float, int]], bidask: bool,
                 tz: str = "UTC") -> bytes:
    """Ticks (utc time, last, bid, ask, volume) as NT8 tick lines (7-digit fraction)."""
    z = ZoneInfo(tz)
    out = []
    for t, last, bid, ask, vol in ticks:
        lt = t.astimezone(z)
        st = lt.strftime("%Y%m%d %H%M%S ") + f"{lt.microsecond * 10:07d}"
        f = [st, num(last, Dialect()), num(bid, Dialect()), num(ask, Dialect()), str(vol)] if bidask else \
            [st, num(last, Dialect()), str(vol)]
        out.append(";".join(f))
    return ("\r\n".join(out) + "\r\n").encode()


def make_bars(start: dt.datetime, n: int, *, step_min: int = 1, price: float = 5000.0,
              source: str = "ninjatrader") -> pl.DataFrame:
    """``n`` valid bars on a 0.25 grid every ``step_min`` minutes from ``start`` (UTC)."""
    rows = []
    p = price
    for i in range(n):
        o = p
        c = o + 0.25 * ((i * 7) % 5 - 2)
        h = max(o, c) + 0.25 * (i % 3)
        lo = min(o, c) - 0.25 * ((i + 1) % 2)
        rows.append((start + dt.timedelta(minutes=step_min * i), o, h, lo, c, 10 + i % 17, source))
        p = c
    return pl.DataFrame(rows, schema={"datetime": pl.Datetime("us", "UTC"), "open": pl.Float64,
                                      "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
                                      "volume": pl.Int64, "source": pl.String}, orient="row")


def session_bars(calendar_name: str, first: dt.date, last: dt.date, price: float = 5000.0) -> pl.DataFrame:
    """Valid 1m bars at every expected minute of the calendar's sessions in ``[first, last]``."""
    from datamgr.calendar.sessions import get_calendar

    t = get_calendar(calendar_name).expected_minutes(first, last)
    i = pl.int_range(0, t.len(), eager=True)
    df = pl.DataFrame({"datetime": t, "i": i}).with_columns(
        (price + ((pl.col("i") * 7) % 23 - 11).cast(pl.Float64) * 0.25).alias("open"))
    df = df.with_columns((pl.col("open") + ((pl.col("i") * 3) % 5 - 2).cast(pl.Float64) * 0.25).alias("close"))
    return df.select(
        "datetime", "open", (pl.max_horizontal("open", "close") + 0.25).alias("high"),
        (pl.min_horizontal("open", "close") - 0.25).alias("low"), "close",
        (pl.col("i") % 50 + 1).cast(pl.Int64).alias("volume"), pl.lit("ninjatrader").alias("source"))


def render_fast(bars: pl.DataFrame, tz: str, stamp: str = "close") -> bytes:
    """NT8 minute export (';', CRLF) of many bars, vectorised."""
    shift = pl.duration(minutes=1 if stamp == "close" else 0)
    out = bars.select(
        (pl.col("datetime") + shift).dt.convert_time_zone(tz).dt.strftime("%Y%m%d %H%M%S").alias("t"),
        *(pl.col(c).cast(pl.String) for c in ("open", "high", "low", "close")),
        pl.col("volume").cast(pl.String),
    ).select(pl.concat_str(pl.all(), separator=";"))
    return ("\r\n".join(out.to_series().to_list()) + "\r\n").encode()
