"""TradingView "Export chart data" CSV (SPEC 6): parsed into the same rows as a NinjaTrader export.

Layout (detected from the header; the file name is display-only)::

    time,open,high,low,close,Volume[,indicator columns...]

* ``time`` is the bar's OPEN time, either UNIX seconds (``1751463000``) or ISO 8601 with a UTC
  offset (``2025-07-02T09:30:00-04:00``, ``...Z``). Both carry their zone: the bars are placed in
  UTC and zone detection does not apply. ISO times *without* an offset are wall-clock times of
  the chart's zone, which must then be given (``tz``); without it the import is refused with the
  file, line and field named.
* Indicator columns (``Volume MA``, ``Plot``, ...) are ignored. A chart exported without the
  volume indicator has no ``Volume`` column: the bars get volume 0 and a note says so.
* One time layout per file; a line that differs, a missing or non-numeric price, or a volume
  that is not a whole number is a :class:`ParseError` naming the line and the field.

The rows come back as a :class:`~datamgr.ingest.ninjatrader.parse.ParsedExport` with
``source="tradingview"`` and ``fixed_stamp="open"``, so verify / plan / import treat both formats
through one path (:class:`datamgr.ingest.draft.ImportDraft`).
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import re

import polars as pl

from datamgr.core.errors import ParseError
from datamgr.ingest.ninjatrader.parse import _PRICES, ParsedExport, _clean, _decode

log = logging.getLogger(__name__)

FORMAT = "tradingview"
SOURCE = "tradingview"
EXPECT = "time,open,high,low,close,Volume (+ indicator columns); time as UNIX seconds or ISO 8601 with offset"
_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?"
_OFFSET = r"(Z|[+-]\d{2}:?\d{2})$"


def _header(first_line: str) -> list[str]:
    return [c.strip().lower() for c in next(csv.reader([first_line]))]


def is_tradingview(data: bytes) -> bool:
    """True when the first non-blank line is a TradingView header (``time,open,high,low,close...``)."""
    head = data[:4096].lstrip(b"\xef\xbb\xbf").lstrip()
    line = head.split(b"\n", 1)[0].strip().decode("utf-8", "replace")
    if "," not in line:
        return False
    cols = _header(line)
    return bool(cols) and cols[0] == "time" and {"open", "high", "low", "close"} <= set(cols)


def _err(name: str, line: int, text: str, what: str, field: str | None) -> ParseError:
    where = f" field {field!r}" if field else ""
    msg = f"{name}: line {line}{where}: {what}: {text[:120]!r}; expected {EXPECT}"
    return ParseError(msg, file=name, line=line, field=field)


def parse_tradingview(data: bytes, name: str) -> ParsedExport:
    """Parse the bytes of a TradingView chart export.

    Parameters
    ----------
    data : bytes
        The file content.
    name : str
        Display name for messages; never opened.

    Returns
    -------
    ParsedExport
        ``stamp`` is UTC wall clock (``zone="UTC"``) when the times carry their zone, else the
        chart's wall clock as written (``zone=None``: the caller must give the zone).

    Raises
    ------
    ParseError
        Naming the line, the field and the text.
    """
    text = _decode(_clean(data, name), name)
    lines = pl.DataFrame({"text": pl.Series([text]).str.split("\n")}).explode("text")
    lines = lines.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64),
                                                                 pl.col("text").str.strip_chars(" \t\r"))
    lines = lines.filter(pl.col("text").str.len_bytes() > 0)
    first = lines.row(0, named=True)
    cols = _header(first["text"])
    lines = lines.filter(pl.col("line") != first["line"])
    if lines.height == 0:
        raise _err(name, int(first["line"]), first["text"], "header only, no data lines", None)
    n = len(cols)
    lines = lines.with_columns((pl.col("text").str.count_matches(",", literal=True) + 1).alias("nf"))
    bad = lines.filter(pl.col("nf") != n)
    if bad.height:
        r = bad.row(0, named=True)
        raise _err(name, r["line"], r["text"], f"{r['nf']} field(s) where the header has {n}", None)
    names = [f"c{i}" for i in range(n)]
    split = lines.select("line", "text", pl.col("text").str.split_exact(",", n - 1).struct.rename_fields(names)
                         .alias("f")).unnest("f")
    idx = {c: cols.index(c) for c in ("time", *_PRICES, "volume") if c in cols}
    notes: list[str] = []
    stamp, zone = _times(split, f"c{idx['time']}", name)
    exprs = [pl.col("line"), stamp.alias("stamp")]
    for c in _PRICES:
        exprs.append(pl.col(f"c{idx[c]}").str.strip_chars().str.strip_chars('"').cast(pl.Float64, strict=False)
                     .alias(c))
    if "volume" in idx:
        v = pl.col(f"c{idx['volume']}").str.strip_chars().str.strip_chars('"').cast(pl.Float64, strict=False)
        exprs.append(pl.when(v == v.round(0)).then(v).cast(pl.Int64, strict=False).alias("volume"))
    else:
        exprs.append(pl.lit(0, pl.Int64).alias("volume"))
        notes.append("no Volume column (the chart had no volume indicator): volume set to 0")
    typed = split.select(*exprs, "text")
    checks = ["stamp", *_PRICES, "volume"]
    badrow = typed.filter(pl.any_horizontal([pl.col(c).is_null() for c in checks]))
    if badrow.height:
        r = badrow.row(0, named=True)
        f = next(c for c in checks if r[c] is None)
        col = "time" if f == "stamp" else f
        raw = split.filter(pl.col("line") == r["line"]).row(0, named=True)[f"c{idx[col]}"]
        kind = "time" if f == "stamp" else ("whole number" if f == "volume" else "number")
        raise _err(name, r["line"], r["text"], f"{col} {raw!r} is not a {kind}", col)
    rows = typed.select("line", "stamp", *_PRICES, "volume", "text")
    if rows.height > 1 and rows["stamp"].diff().drop_nulls().max() < dt.timedelta(0):
        rows = rows.reverse()
        notes.append("rows were newest first; read oldest first")
    if zone is None:
        notes.append("times have no UTC offset: they are read in the zone given for the chart")
    log.info("parsed %s: tradingview, %d rows", name, rows.height)
    return ParsedExport(name, FORMAT, ",", False, lines.height, rows, notes, raw=None, source=SOURCE,
                        zone=zone, fixed_stamp="open")


def _times(split: pl.DataFrame, col: str, name: str) -> tuple[pl.Expr, str | None]:
    """The stamp expression (naive) and the zone it is in (``UTC``, or None for naive ISO times)."""
    t = pl.col(col).str.strip_chars().str.strip_chars('"')
    first = split.row(0, named=True)
    sample = str(first[col]).strip().strip('"')
    if sample.isdigit():
        layout = t.str.contains(r"^\d{1,11}$")
        stamp = pl.when(layout).then(pl.from_epoch(t.cast(pl.Int64, strict=False), time_unit="s"))
        return stamp, "UTC"
    if not re.match(_ISO, sample):
        raise _err(name, int(first["line"]), str(first["text"]), f"time {sample!r} not understood", "time")
    iso = t.str.replace(" ", "T", literal=True)
    if re.search(_OFFSET, sample):
        layout = iso.str.contains(_ISO + _OFFSET)
        norm = iso.str.replace(r"Z$", "+00:00").str.replace(r"([+-]\d{2})(\d{2})$", "$1:$2")
        norm = norm.str.replace(r"T(\d{2}:\d{2})([+-])", "T$1:00$2")  # no seconds: add them
        parsed = norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC")
        return pl.when(layout).then(parsed.dt.replace_time_zone(None)), "UTC"
    layout = iso.str.contains(_ISO + "$")
    norm = iso.str.replace(r"T(\d{2}:\d{2})$", "T$1:00")
    parsed = norm.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False)
    return pl.when(layout).then(parsed), None
