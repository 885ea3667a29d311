"""NinjaTrader export parser (SPEC 6): every dialect, auto-detected, vectorised.

Accepted layouts (detected from the first data line; the file name is display-only)::

    nt8-minute   yyyyMMdd HHmmss;open;high;low;close;volume        (bar stamped at its CLOSE)
    nt8-daily    yyyyMMdd;open;high;low;close;volume                (labelled by trading date)
    nt8-tick     yyyyMMdd HHmmss fffffff;price;volume              (aggregated to 1m bars)
    nt8-tick-ba  yyyyMMdd HHmmss fffffff;last;bid;ask;volume
    csv-header   Date,Time,Open,High,Low,Close,Volume  or  DateTime,Open,...  (',' or ';')
    csv-header-daily  Date,Open,High,Low,Close,Volume (no time column: daily bars; extra columns
                 such as Yahoo's "Adj Close" are ignored; newest-first files are read oldest first)

Dialect handling: UTF-8 BOM stripped; CRLF / LF / CR line ends; blank lines and repeated header
lines skipped; one trailing separator per line tolerated; decimal comma when the separator is
``;``. Rejected with :class:`~datamgr.core.errors.ParseError` (exit 2) naming file, line, offending
text and what was expected: empty file, header only, NUL bytes / UTF-16, wrong field counts,
unparseable dates or numbers.

The parser only reads text; the time work (zone, close->open shift, DST) is
:func:`datamgr.ingest.ninjatrader.place.to_bars`, so zone detection can try several zones on one parse.
Two paths: a clean NT8 minute/daily file (the big ones) is read by polars' multi-threaded CSV
reader with a fixed schema; anything else, or anything that reader does not accept, goes through
the careful path, where rows are one polars string column (``str.split`` on the whole text) so
every check is vectorised and still knows its 1-based line number for the error message.

Rows that parse but break invariants are rejected with reasons and line numbers: price <= 0,
high < low, open/close outside [low, high], negative volume, a stamp equal to an earlier one
(duplicate: the first line wins) or earlier than one before it (out of order).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

import polars as pl

from datamgr.core.errors import ParseError

log = logging.getLogger(__name__)

MINUTE = "nt8-minute"
DAILY = "nt8-daily"
TICK = "nt8-tick"
TICK_BA = "nt8-tick-ba"
CSV = "csv-header"
CSV_DAILY = "csv-header-daily"
FORMATS = (MINUTE, DAILY, TICK, TICK_BA, CSV, CSV_DAILY)
_EXPECT = {
    MINUTE: "yyyyMMdd HHmmss;open;high;low;close;volume",
    DAILY: "yyyyMMdd;open;high;low;close;volume",
    TICK: "yyyyMMdd HHmmss fffffff;price;volume",
    TICK_BA: "yyyyMMdd HHmmss fffffff;last;bid;ask;volume",
    CSV: "Date,Time,Open,High,Low,Close,Volume (or DateTime,Open,...)",
    CSV_DAILY: "Date,Open,High,Low,Close,Volume",
}
_RE = {
    MINUTE: r"^\d{8} \d{6}$",
    DAILY: r"^\d{8}$",
    TICK: r"^\d{8} \d{6} \d{7}$",
}
_PRICES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Reject:
    """A row that parsed but was not accepted, with its 1-based line number."""

    line: int
    reason: str
    text: str = ""

    def to_json(self) -> dict:
        return {"line": self.line, "reason": self.reason, "text": self.text}


@dataclass
class ParsedExport:
    """The rows of one export, parsed but not yet placed in time.

    ``rows`` columns: ``line`` (Int64, 1-based), ``stamp`` (naive Datetime us, local wall clock
    as written), ``open high low close`` (Float64), ``volume`` (Int64). Tick files have
    ``open=high=low=close=price`` per tick.
    """

    name: str
    format: str
    separator: str
    decimal_comma: bool
    rows_read: int
    rows: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    raw: bytes | None = field(default=None, repr=False)
    #: ``source`` label of the bars (``ninjatrader``; ``tradingview`` for TradingView exports)
    source: str = "ninjatrader"
    #: zone the stamps are known to be in (times written with a UTC offset); None = to be found
    zone: str | None = None
    #: stamp convention fixed by the format (TradingView: ``open``); None = to be found
    fixed_stamp: str | None = None

    def texts(self, lines: list[int]) -> dict[int, str]:
        """Original text of some lines (for messages about rejected rows)."""
        if "text" in self.rows.columns:
            sub = self.rows.filter(pl.col("line").is_in(lines)).select("line", "text")
            return dict(zip(sub["line"].to_list(), sub["text"].to_list()))
        if self.raw is None:
            return {}
        all_lines = self.raw.split(b"\n")
        return {ln: all_lines[ln - 1].decode("utf-8", "replace").strip() for ln in lines if 0 < ln <= len(all_lines)}

    @property
    def is_daily(self) -> bool:
        return self.format in (DAILY, CSV_DAILY)

    @property
    def is_tick(self) -> bool:
        return self.format in (TICK, TICK_BA)

    @property
    def zone_known(self) -> bool:
        """The stamps carry their zone (UTC offsets): zone detection does not apply."""
        return self.zone is not None

    def to_json(self) -> dict:
        return {"name": self.name, "format": self.format, "separator": self.separator,
                "decimal_comma": self.decimal_comma, "rows_read": self.rows_read}


# ----------------------------------------------------------------------------- decoding
def _clean(data: bytes, name: str) -> bytes:
    """Reject empty / UTF-16 / NUL input; strip a UTF-8 BOM; normalise CRLF and CR to LF."""
    if not data or data.isspace():  # isspace: no copy of a big file
        raise ParseError(f"{name}: line 1: file is empty; expected NinjaTrader export lines", file=name, line=1)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        msg = f"{name}: line 1: file is UTF-16 encoded; expected UTF-8/ASCII text (re-export as UTF-8)"
        raise ParseError(msg, file=name, line=1)
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        msg = f"{name}: line {line}: NUL byte in the text; expected plain UTF-8 text (UTF-16 or binary file?)"
        raise ParseError(msg, file=name, line=line)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if b"\r" in data and b"\n" not in data:  # old Mac line ends; CRLF is handled by both paths
        data = data.replace(b"\r", b"\n")
    return data


def _decode(data: bytes, name: str) -> str:
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        msg = f"{name}: line {line}: bytes that are not UTF-8 ({err.reason}); expected plain text"
        raise ParseError(msg, file=name, line=line) from err


def _err(name: str, line: int, text: str, what: str, fmt: str, field_: str | None = None) -> ParseError:
    where = f" field {field_!r}" if field_ else ""
    msg = (f"{name}: line {line}{where}: {what}: {text[:120]!r}; expected {_EXPECT[fmt]}")
    return ParseError(msg, file=name, line=line, field=field_)


# ----------------------------------------------------------------------------- detection
def _detect(first: str, name: str) -> tuple[str, str, list[str] | None]:
    """(format, separator, header columns or None) from the first non-blank line."""
    head = first.strip()
    sep = ";" if head.count(";") >= head.count(",") and ";" in head else ","
    fields = [f.strip() for f in head.rstrip(sep).split(sep)]
    stamp = fields[0]
    if not stamp[:1].isdigit() and any(c.isalpha() for c in head):
        cols = [f.strip().strip('"').lower().replace(" ", "") for f in fields]
        if "open" in cols and "close" in cols:
            return CSV, sep, cols
        raise _err(name, 1, head, "unrecognised header", CSV)
    if re.match(_RE[TICK], stamp):
        return (TICK if len(fields) <= 3 else TICK_BA), sep, None
    if re.match(_RE[MINUTE], stamp):
        return MINUTE, sep, None
    if re.match(_RE[DAILY], stamp):
        return DAILY, sep, None
    raise ParseError(f"{name}: line 1: not a NinjaTrader export line: {head[:120]!r}; expected one of "
                     f"{'; '.join(_EXPECT.values())}", file=name, line=1, field="datetime")


# ----------------------------------------------------------------------------- parse
def parse_export(data: bytes, name: str) -> ParsedExport:
    """Parse the bytes of one NinjaTrader export.

    Parameters
    ----------
    data : bytes
        The file content (an upload or a file read by the caller).
    name : str
        Display name used in messages only; never opened.

    Returns
    -------
    ParsedExport
        Local wall-clock stamps and values, one row per data line, with line numbers.

    Raises
    ------
    ParseError
        On any line that cannot be parsed, naming the line, the text and what was expected.
    """
    data = _clean(data, name)
    fast = _fast_path(data, name)
    if fast is not None:
        fast.rows = _oldest_first(fast.rows, fast.notes)  # same rule as the careful path below
        return fast
    text = _decode(data, name)
    lines = pl.DataFrame({"text": pl.Series([text]).str.split("\n")}).explode("text")
    lines = lines.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
    lines = lines.with_columns(pl.col("text").str.strip_chars(" \t"))
    lines = lines.filter(pl.col("text").str.len_bytes() > 0)
    if lines.height == 0:
        raise ParseError(f"{name}: line 1: file has only blank lines; expected NinjaTrader export lines", file=name, line=1)
    first = lines.row(0, named=True)
    fmt, sep, header = _detect(first["text"], name)
    if header is not None:
        hdr = first["text"]
        lines = lines.filter(pl.col("text") != hdr)  # the header, and repeated header lines
        if lines.height == 0:
            msg = f"{name}: line {first['line']}: header only, no data lines; expected data after the header"
            raise ParseError(msg, file=name, line=int(first["line"]))
    rows_read = lines.height
    decimal_comma = False
    if sep == ";":
        sample = lines["text"].head(50).str.split(";").list.slice(1).list.join(";")
        decimal_comma = bool(sample.str.contains(",").any())
    cols = _column_names(fmt, header, name, int(first["line"]))
    n = len(cols)
    t = pl.col("text")
    # one trailing separator is tolerated
    lines = lines.with_columns(pl.when(t.str.ends_with(sep)).then(t.str.slice(0, t.str.len_chars() - 1))
                               .otherwise(t).alias("text"))
    lines = lines.with_columns((pl.col("text").str.count_matches(sep, literal=True) + 1).alias("nf"))
    bad = lines.filter(pl.col("nf") != n)
    if bad.height:
        r = bad.row(0, named=True)
        what = f"{r['nf']} field(s) where {n} were expected ({', '.join(cols)})"
        raise _err(name, r["line"], r["text"], what, fmt)
    split = lines.select("line", "text", pl.col("text").str.split_exact(sep, n - 1).struct.rename_fields(
        cols).alias("f")).unnest("f")
    out = _typed(split, fmt, cols, decimal_comma, name)
    notes = []
    if fmt == CSV and "time" not in cols and "datetime" not in cols:
        fmt = CSV_DAILY  # Date,Open,High,Low,Close,Volume: one bar per date
    out = _oldest_first(out, notes)
    log.info("parsed %s: %s, %d rows", name, fmt, out.height)
    return ParsedExport(name, fmt, sep, decimal_comma, rows_read, out, notes)


def _oldest_first(rows: pl.DataFrame, notes: list[str]) -> pl.DataFrame:
    """Rows that are *all* newest first (as Yahoo writes CSVs) read oldest first, with a note; one
    line out of order in an oldest-first file is not a reason to turn the file around (the placing
    step rejects that line)."""
    if rows.height < 2:
        return rows
    s0, s1 = rows["stamp"][0], rows["stamp"][1]
    if s0 is not None and s1 is not None and s1 >= s0:  # the first step already goes forward
        return rows
    if rows["stamp"].diff().drop_nulls().max() < dt.timedelta(0):
        notes.append("rows were newest first; read oldest first")
        return rows.reverse()
    return rows


def _fast_path(data: bytes, name: str) -> ParsedExport | None:
    """Multi-threaded read of a clean NT8 minute/daily file; None sends it to the careful path
    (which finds and names the first bad line). Clean = ';' separated, no decimal comma, no blank
    lines, every field parses, every stamp has the exact layout."""
    first = data[: data.find(b"\n")] if b"\n" in data else data
    m = re.match(rb"^(\d{8} \d{6}|\d{8});[^,;]+;[^,;]+;[^,;]+;[^,;]+;[^,;]+$", first.strip())
    if not m or data[:1] in (b"\n", b"\r"):  # blank lines inside show up as null rows below
        return None
    fmt = MINUTE if b" " in m.group(1) else DAILY
    schema = {"datetime": pl.String, **{c: pl.Float64 for c in _PRICES}, "volume": pl.Int64}
    try:
        df = pl.read_csv(data, separator=";", has_header=False, schema=schema, quote_char=None)
    except Exception:  # noqa: BLE001 - any reader complaint: let the careful path explain it
        return None
    if df.height == 0 or df.null_count().sum_horizontal().item() != 0:
        return None
    width = 15 if fmt == MINUTE else 8  # strptime is lenient on widths: insist on the layout
    if not df.select((pl.col("datetime").str.len_bytes() == width).all()).item():
        return None
    stamp_fmt = "%Y%m%d %H%M%S" if fmt == MINUTE else "%Y%m%d"
    rows = df.select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line"),
        # cache=False: every stamp is distinct, a cache of parsed strings only costs
        pl.col("datetime").str.strptime(pl.Datetime("us"), stamp_fmt, strict=False, cache=False).alias("stamp"),
        *_PRICES, "volume",
    )
    if rows["stamp"].null_count():
        return None
    return ParsedExport(name, fmt, ";", False, rows.height, rows, raw=data)


def _column_names(fmt: str, header: list[str] | None, name: str, line: int) -> list[str]:
    if fmt == MINUTE or fmt == DAILY:
        return ["datetime", *_PRICES, "volume"]
    if fmt == TICK:
        return ["datetime", "price", "volume"]
    if fmt == TICK_BA:
        return ["datetime", "price", "bid", "ask", "volume"]
    assert header is not None
    alias = {"datetime": "datetime", "date": "date", "time": "time", "open": "open", "high": "high",
             "low": "low", "close": "close", "last": "close", "volume": "volume", "vol": "volume"}
    cols = [alias.get(c, f"_x{i}") for i, c in enumerate(header)]
    need = {"open", "high", "low", "close", "volume"}
    if not need <= set(cols) or not ({"datetime"} <= set(cols) or {"date"} <= set(cols)):
        raise ParseError(f"{name}: line {line}: header {header} lacks columns; expected {_EXPECT[CSV]}",
                         file=name, line=line, field="header")
    return cols


_CSV_DATE_FORMATS = ("%Y%m%d", "%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y", "%Y/%m/%d")
_CSV_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%H%M%S")


def _typed(df: pl.DataFrame, fmt: str, cols: list[str], decimal_comma: bool, name: str) -> pl.DataFrame:
    """Turn string fields into typed columns, raising on the first bad field."""
    if fmt == CSV:
        stamp_txt, stamp_fmt = _csv_stamp(df, name)
    else:
        stamp_txt = pl.col("datetime").str.strip_chars()
        stamp_fmt = {MINUTE: "%Y%m%d %H%M%S", DAILY: "%Y%m%d", TICK: "%Y%m%d %H%M%S %f",
                     TICK_BA: "%Y%m%d %H%M%S %f"}[fmt]
    if fmt in (TICK, TICK_BA):
        # 7-digit fraction (100 ns): parse to the second, add the fraction in microseconds
        base = stamp_txt.str.slice(0, 15).str.strptime(pl.Datetime("us"), "%Y%m%d %H%M%S", strict=False, cache=False)
        frac = stamp_txt.str.slice(16, 7)
        frac_ok = frac.str.contains(r"^\d{7}$") & stamp_txt.str.contains(_RE[TICK])
        stamp = pl.when(frac_ok).then(base + pl.duration(microseconds=frac.str.slice(0, 6).cast(pl.Int64,
                                                                                              strict=False)))
    else:
        stamp = stamp_txt.str.strptime(pl.Datetime("us"), stamp_fmt, strict=False, cache=False)
        if fmt in _RE:  # strptime is lenient on widths ("2025013" parses): insist on the layout
            stamp = pl.when(stamp_txt.str.contains(_RE[fmt])).then(stamp)
    exprs = [pl.col("line"), stamp.alias("stamp")]

    def num(c: str, dtype: pl.DataType) -> pl.Expr:
        e = pl.col(c).str.strip_chars()
        if decimal_comma:
            e = e.str.replace(",", ".", literal=True)
        if dtype == pl.Int64:
            # volumes may be written as "12.0" by some exports; must still be whole numbers
            f = e.cast(pl.Float64, strict=False)
            return pl.when(f == f.round(0)).then(f).cast(pl.Int64, strict=False).alias(c)
        return e.cast(dtype, strict=False).alias(c)

    prices = ["price"] if fmt == TICK else (["price", "bid", "ask"] if fmt == TICK_BA else list(_PRICES))
    exprs += [num(c, pl.Float64) for c in prices] + [num("volume", pl.Int64)]
    typed = df.select([*exprs, pl.col("text")])
    checks = ["stamp", *prices, "volume"]
    bad = typed.filter(pl.any_horizontal([pl.col(c).is_null() for c in checks]))
    if bad.height:
        r = bad.row(0, named=True)
        f = next(c for c in checks if r[c] is None)
        col = "datetime" if f == "stamp" else f
        raw = df.filter(pl.col("line") == r["line"]).row(0, named=True)
        val = raw.get(col) if col in raw else (raw.get("date"), raw.get("time"))
        kind = "date/time" if f == "stamp" else ("whole number" if f == "volume" else "number")
        raise _err(name, r["line"], r["text"], f"{col} {val!r} is not a {kind}", fmt, col)
    if fmt in (TICK, TICK_BA):
        typed = typed.with_columns(*(pl.col("price").alias(c) for c in _PRICES))
    return typed.select("line", "stamp", *_PRICES, "volume", "text")


def _csv_stamp(df: pl.DataFrame, name: str) -> tuple[pl.Expr, str]:
    """The stamp text expression and its strptime format for a header CSV (tried on row 1)."""
    first = df.row(0, named=True)
    if "datetime" in df.columns:
        txt = pl.col("datetime").str.strip_chars().str.replace("T", " ", literal=True)
        sample = str(first["datetime"]).strip().replace("T", " ")
    else:
        tcol = pl.col("time").str.strip_chars() if "time" in df.columns else pl.lit("00:00:00")
        txt = pl.concat_str([pl.col("date").str.strip_chars(), tcol], separator=" ")
        sample = f"{str(first['date']).strip()} {str(first.get('time') or '00:00:00').strip()}"
    for d in _CSV_DATE_FORMATS:
        for t in _CSV_TIME_FORMATS:
            f = f"{d} {t}"
            try:
                dt.datetime.strptime(sample, f)
            except ValueError:
                continue
            return txt, f
    raise _err(name, int(first["line"]), str(first["text"]), f"date/time {sample!r} not understood", CSV,
               "datetime")
