"""Yahoo Finance bars through yfinance (SPEC 7): the adapter only fetches.

* ``1m``: ``Ticker(symbol, session=...).history(start, end, interval="1m", prepost=True)`` in
  chunks of at most :data:`CHUNK` (Yahoo serves about 8 days of 1-minute bars per request and
  only the last ~30 days: :data:`REACH_1M`). Yahoo labels bars by their **open** time, as the
  store does, so stamps are kept as they come (converted to UTC).
* ``1d`` / ``1wk``: downloaded directly (official settlement closes), labelled by the date
  Yahoo gives (trading date for ``1d``, the week's Monday for ``1wk``) at 00:00 UTC, the
  importer's convention for daily files.

The HTTP session is injected (``session=``; yfinance 1.x expects a ``curl_cffi`` session), so
tests feed recorded-shape chart responses through yfinance's real parsing code.

yfinance logs most failures and returns an empty frame; this module turns every failure into
:class:`~datamgr.core.errors.SourceError` with the reason yfinance logged: network errors,
``YFRateLimitError``, HTTP errors and empty answers. Nothing is written by this module.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

import polars as pl

from datamgr.core.errors import InputError, SourceError
from datamgr.core.progress import Progress, report
from datamgr.core.schema import conform
from datamgr.ingest.input_file import read_input_file

log = logging.getLogger(__name__)
NAME = "yahoo"
CHUNK = dt.timedelta(days=7)
REACH_1M = dt.timedelta(days=29)  # Yahoo keeps ~30 days of 1m bars; one day of margin
INTERVALS = {"1m": "1m", "1d": "1d", "1wk": "1wk", "1w": "1wk"}
TIMEFRAME_OF = {"1m": "1m", "1d": "1d", "1wk": "1w", "1w": "1w"}


class _Capture(logging.Handler):
    """Collects what yfinance logs at WARNING and above during one call."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _yf_errors() -> Iterator[_Capture]:
    cap = _Capture()
    lg = logging.getLogger("yfinance")
    lg.addHandler(cap)
    try:
        yield cap
    finally:
        lg.removeHandler(cap)


class YahooSource:
    """Fetch raw bars from Yahoo Finance (a :class:`~datamgr.ingest.base.BarSource`).

    Parameters
    ----------
    session : curl_cffi.requests.Session, optional
        HTTP session handed to yfinance (tests inject a fake transport); None lets yfinance
        make its own.
    timeout : float
        Seconds per HTTP request.
    """

    name = NAME

    def __init__(self, session: Any = None, timeout: float = 30.0) -> None:
        self.session = session
        self.timeout = timeout

    def fetch(self, symbol: str, interval: str, start: dt.datetime, end: dt.datetime, *,
              progress: Progress = None) -> pl.DataFrame:
        """Bars with open times in ``[start, end)``; see :class:`~datamgr.ingest.base.BarSource`.

        Raises
        ------
        SourceError
            Network error, rate limit, HTTP error or an empty answer (for any chunk).
        """
        if interval not in INTERVALS:
            raise SourceError(f"Yahoo interval {interval!r} not supported; expected 1m, 1d or 1wk")
        yf_interval = INTERVALS[interval]
        chunks = chunk_range(start, end) if yf_interval == "1m" else [(start, end)]
        frames = []
        for i, (a, b) in enumerate(chunks):
            report(progress, i, len(chunks), f"Yahoo {symbol} {yf_interval} {a:%Y-%m-%d %H:%M} .. {b:%Y-%m-%d %H:%M} UTC")
            pdf = self._history(symbol, yf_interval, a, b)
            bars = frame_to_bars(pdf, yf_interval, what=f"Yahoo {symbol}")
            if yf_interval == "1m":
                utc = pl.Datetime("us", "UTC")
                bars = bars.filter(pl.col("datetime").is_between(pl.lit(a).cast(utc), pl.lit(b).cast(utc),
                                                                 closed="left"))
            frames.append(bars)
        report(progress, len(chunks), len(chunks), f"Yahoo {symbol}: fetched")
        out = pl.concat(frames).unique("datetime", keep="last").sort("datetime")
        log.info("yahoo %s %s: %d bars in %d request(s)", symbol, yf_interval, out.height, len(chunks))
        return out

    def _history(self, symbol: str, interval: str, start: dt.datetime, end: dt.datetime):
        import yfinance as yf  # heavy (~0.5 s): only when Yahoo is asked
        from yfinance.data import YfData
        from yfinance.exceptions import YFRateLimitError

        # yfinance memoises past-range responses per process; a fetch must reflect this
        # session's answer, never one cached from an earlier session.
        YfData.cache_get.cache_clear()
        span = f"{symbol} {interval} {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC"
        with _yf_errors() as cap:
            try:
                tk = yf.Ticker(symbol, session=self.session)
                pdf = tk.history(start=start, end=end, interval=interval, prepost=True, auto_adjust=False,
                                 actions=False, repair=False, timeout=self.timeout)
            except YFRateLimitError as err:
                msg = f"Yahoo rate limit (YFRateLimitError) for {span}: try again later. Nothing was written."
                raise SourceError(msg) from err
            except Exception as err:  # noqa: BLE001 - any provider failure is translated here
                msg = f"Yahoo request failed for {span}: {type(err).__name__}: {err}. Nothing was written."
                raise SourceError(msg) from err
        if pdf is None or len(pdf) == 0:
            why = "; ".join(dict.fromkeys(cap.messages)) or "no rows"
            msg = f"Yahoo returned no data for {span} ({why}). Nothing was written."
            raise SourceError(msg)
        return pdf


def chunk_range(start: dt.datetime, end: dt.datetime, chunk: dt.timedelta = CHUNK) -> list[tuple[dt.datetime, dt.datetime]]:
    """Split ``[start, end)`` into equal pieces of at most ``chunk`` (no tiny last piece)."""
    if end <= start:
        return []
    n = max(1, math.ceil((end - start) / chunk))
    step = (end - start) / n
    edges = [start + step * i for i in range(n)] + [end]
    edges = [e.replace(second=0, microsecond=0) if 0 < i < n else e for i, e in enumerate(edges)]
    return list(zip(edges[:-1], edges[1:]))


def frame_to_bars(pdf, interval: str, *, what: str, source: str = NAME) -> pl.DataFrame:
    """A yfinance-shaped pandas frame (index ``Datetime``/``Date``; ``Open High Low Close Volume``)
    as canonical bars (not validated; NaN prices stay NaN for validation to reject)."""
    import pandas as pd  # heavy: yfinance answers in pandas

    df = pdf.reset_index() if not isinstance(pdf.index, pd.RangeIndex) else pdf
    cols = {c.lower().replace(" ", "_"): c for c in df.columns}
    tcol = next((cols[k] for k in ("datetime", "date", "index", "timestamp") if k in cols), None)
    missing = [c for c in ("open", "high", "low", "close", "volume") if c not in cols]
    if tcol is None or missing:
        need = "Datetime (or Date), Open, High, Low, Close, Volume"
        msg = f"{what}: not a yfinance-shaped frame: missing {missing or ['Datetime']}; expected {need}"
        raise InputError(msg, file=what, field=(missing or ["Datetime"])[0])
    ts = pd.to_datetime(df[tcol], utc=interval == "1m") if interval == "1m" else df[tcol]
    if interval == "1m":
        stamps = pl.Series("datetime", ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
                           .astype("datetime64[us]")).dt.replace_time_zone("UTC")
    else:
        days = [pd.Timestamp(x).date() for x in ts]  # the date Yahoo labels (exchange zone)
        stamps = pl.Series("datetime", days, dtype=pl.Date).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    vol = pd.to_numeric(df[cols["volume"]], errors="coerce").fillna(0)
    frac = (vol != vol.round()).to_numpy()
    if frac.any():  # reported, never rounded silently
        i = int(frac.nonzero()[0][0])
        msg = (f"{what}: row {i + 1}: field Volume: {vol.iloc[i]!r} is not a whole number of contracts "
               f"({int(frac.sum())} row(s)); nothing was rounded")
        raise InputError(msg, file=what, line=i + 1, field="Volume")
    out = pl.DataFrame({
        "datetime": stamps,
        **{c: pl.Series(c, pd.to_numeric(df[cols[c]], errors="coerce").to_numpy(dtype="float64"))
           for c in ("open", "high", "low", "close")},
        "volume": pl.Series("volume", vol.round().astype("int64").to_numpy()),
        "source": pl.Series("source", [source] * len(df), dtype=pl.String),
    })
    return conform(out).sort("datetime", maintain_order=True)


def read_saved(data: bytes, name: str, interval: str, tz: str | None = None) -> pl.DataFrame:
    """Bars from a saved yfinance frame (``df.to_csv()`` or ``df.to_parquet()``), for ``--from-file``.

    Parameters
    ----------
    tz : str, optional
        Zone of intraday times written without an offset. Without it such a file is refused:
        reading naive exchange times as UTC would shift every bar by hours.

    Raises
    ------
    InputError
        Not CSV/Parquet, missing columns, a row whose time or price cannot be read, an intraday
        time without an offset (and no ``tz``), a volume that is not a whole number (names the
        file, line and field).
    """
    import pandas as pd  # heavy: yfinance answers in pandas

    if interval not in INTERVALS:
        raise InputError(f"{name}: interval {interval!r} not supported; expected 1m, 1d or 1wk", field="interval")
    if not data:
        raise InputError(f"{name}: the file is empty", file=name, line=1)
    try:
        if data[:4] == b"PAR1":
            pdf = pd.read_parquet(BytesIO(data))
        else:
            pdf = pd.read_csv(BytesIO(data))
    except Exception as err:  # noqa: BLE001 - reported as bad input
        raise InputError(f"{name}: cannot be read as a yfinance CSV/Parquet: {err}", file=name) from err
    if pdf.index.name and not isinstance(pdf.index, pd.RangeIndex):
        pdf = pdf.reset_index()
    tcol = next((c for c in pdf.columns if str(c).lower() in ("datetime", "date")), None)
    if tcol is not None and interval == "1m":
        pdf[tcol] = _localize_naive(pdf[tcol], name, tcol, tz)
    if tcol is not None:
        parsed = pd.to_datetime(pdf[tcol], utc=True, errors="coerce", format="mixed")
        bad = parsed.isna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            msg = f"{name}: line {i + 2}: field {tcol}: {pdf[tcol].iloc[i]!r} is not a date/time"
            raise InputError(msg, file=name, line=i + 2, field=str(tcol))
        if interval != "1m":
            # the label date as written (before any zone conversion)
            parsed = pd.to_datetime(pdf[tcol].astype(str).str[:10], errors="coerce")
        pdf[tcol] = parsed
    _check_numbers(pdf, name)
    return frame_to_bars(pdf, INTERVALS[interval], what=name)


def _check_numbers(pdf, name: str) -> None:
    """Prices and volumes must be numbers, volumes whole numbers (InputError naming line and field)."""
    import pandas as pd  # heavy: yfinance answers in pandas

    for c in ("Open", "High", "Low", "Close", "Volume"):
        col = next((x for x in pdf.columns if str(x).lower() == c.lower()), None)
        if col is None:
            continue
        num = pd.to_numeric(pdf[col], errors="coerce")
        bad = num.isna() & pdf[col].notna()
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            msg = f"{name}: line {i + 2}: field {col}: {pdf[col].iloc[i]!r} is not a number"
            raise InputError(msg, file=name, line=i + 2, field=c)
        if c == "Volume":
            frac = (num.notna() & (num != num.round())).to_numpy()
            if frac.any():
                i = int(frac.nonzero()[0][0])
                msg = (f"{name}: line {i + 2}: field {col}: {pdf[col].iloc[i]!r} is not a whole number of "
                       f"contracts ({int(frac.sum())} row(s)); not rounded: fix the file")
                raise InputError(msg, file=name, line=i + 2, field=c)


def _localize_naive(col, name: str, tcol: str, tz: str | None):
    """Intraday times: keep those with an offset; naive ones need ``tz`` (else InputError)."""
    import pandas as pd  # heavy: yfinance answers in pandas

    if pd.api.types.is_datetime64_any_dtype(col):
        if getattr(col.dt, "tz", None) is not None:
            return col
        naive = pd.Series(True, index=col.index)
    else:
        text = col.astype(str).str.strip()
        naive = ~text.str.contains(r"(?:Z|[+-]\d\d:?\d\d)$", regex=True) & col.notna()
        if not naive.any():
            return col
    if tz is None:
        i = int(naive.to_numpy().nonzero()[0][0])
        msg = (f"{name}: line {i + 2}: field {tcol}: {col.iloc[i]!s} has no UTC offset; give the zone the "
               f"times are in (--tz, e.g. America/New_York) or save the file with offsets")
        raise InputError(msg, file=name, line=i + 2, field=str(tcol))
    try:
        local = pd.to_datetime(col[naive], errors="coerce", format="mixed").dt.tz_localize(
            tz, ambiguous="NaT", nonexistent="NaT")
    except Exception as err:  # noqa: BLE001 - an unknown zone name
        raise InputError(f"{name}: --tz {tz!r} is not a time zone: {err}", field="tz") from err
    out = col.astype(object).copy()
    out[naive] = local.dt.tz_convert("UTC").astype(object)
    return out


def read_saved_path(path: str | Path, interval: str, tz: str | None = None) -> pl.DataFrame:
    """:func:`read_saved` of a file given on the command line."""
    p = Path(path)
    return read_saved(read_input_file(p, "input file"), p.name, interval, tz)
