"""``HistoricalDataManager``: SmartAPI candle history into the Parquet store, with the document's API.

Storage (Parquet stays the store of record; CSV is an export beside it)::

    <data>/NIFTY_1m.parquet                                   ONE_MINUTE (the 1m master: Health,
                                                               Inventory and derived steps see it)
    <data>/historical/NIFTY_FIVE_MINUTE/NIFTY_FIVE_MINUTE.parquet   other intervals
    <data>/historical/NIFTY_<INTERVAL>/NIFTY_<INTERVAL>.csv         CSV export of each interval
                                                               (timestamp in the instrument's zone)

Every write goes through :class:`~datamgr.store.store.Store` (lock, verified backup, atomic write,
read-back, journal); a fetch that fails, comes back empty or carries a malformed candle raises
before anything is written.

Late start (:meth:`HistoricalDataManager.update_intraday_data`): the sessions of the instrument's
calendar since the last stored 1m candle are filled up to ``now``: a finished session to its close
(after-close start: the full day 09:15-15:30), the session in progress to its last complete hour
window anchored at the open (a 13:45 start fetches 09:15-13:15, both ends inclusive like the API:
241 candles), then every timeframe is resampled. Before the open nothing is fetched.

Decisions where the document is silent:

* Failures raise :class:`~datamgr.core.errors.DataMgrError` subclasses with a clear message
  (the document's methods return ``None`` on failure; an exception says why, and a script's
  ``try/except`` as in its "Error Handling" section catches it). ``load_historical_data`` returns
  ``None`` when there is no data, as the document's examples expect.
* DataFrames carry aware timestamps in the instrument's zone (IST for NSE); naive arguments
  (``from_date``, ``start_time``) mean that zone.
* A symbol configured with a token (NIFTY 99926000, BANKNIFTY 99926009) refuses another token or
  exchange; an unconfigured NSE/BSE symbol is taken as given on the NSE calendar.
* Merges follow the store's precedence (an equal-precedence re-fetch corrects a partial candle);
  only complete candles are stored (a candle still forming at ``now`` is dropped).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import polars as pl

from datamgr.calendar.sessions import calendar_for
from datamgr.core.config import IST, Instrument, Settings
from datamgr.core.errors import ConfigError, InputError
from datamgr.core.schema import conform, validate_bars
from datamgr.core.timefmt import now_utc
from datamgr.data_module.processor import DataProcessor
from datamgr.ingest.smartapi import EXCHANGES, INTERVAL_MINUTES, SmartApiHistory
from datamgr.store.merge import plan_merge
from datamgr.store.store import Store, read_footer

log = logging.getLogger(__name__)
INTERVALS = {"ONE_MINUTE": "1min", "THREE_MINUTE": "3min", "FIVE_MINUTE": "5min", "TEN_MINUTE": "10min",
             "FIFTEEN_MINUTE": "15min", "THIRTY_MINUTE": "30min", "ONE_HOUR": "1hour", "ONE_DAY": "1day"}
HISTORICAL = "historical"
_RULE = "=" * 60
MINUTE = dt.timedelta(minutes=1)


class HistoricalDataManager:
    """Fetch, store, load and update candle history (Angel One SmartAPI ``getCandleData``).

    Parameters
    ----------
    data_dir : str, optional
        Data folder (default: the configured one, ``./data``).
    settings : Settings, optional
        Wins over ``data_dir``.
    source : SmartApiHistory, optional
        The SmartAPI client (default: credentials from the environment, URL from
        ``DATAMGR_SMARTAPI_URL``); built at the first fetch.
    clock : callable, optional
        Returns "now" (aware); tests pin it. Default: the wall clock.
    processor : DataProcessor, optional
        Resampler used after intraday updates (default: one bound to this manager).
    """

    INTERVALS = INTERVALS

    def __init__(self, data_dir: str | None = None, *, settings: Settings | None = None,
                 source: SmartApiHistory | None = None, clock: Callable[[], dt.datetime] | None = None,
                 processor: DataProcessor | None = None) -> None:
        self.settings = settings or Settings.load(data_dir=data_dir)
        self.store = Store(self.settings)
        self.historical_dir = Path(self.settings.data_dir) / HISTORICAL
        self._source = source
        self.clock = clock or now_utc
        self.processor = processor or DataProcessor(self.settings, writer=self.save_resampled)
        if self.processor.writer is None:
            self.processor.writer = self.save_resampled

    # ------------------------------------------------------------------ helpers
    @property
    def source(self) -> SmartApiHistory:
        if self._source is None:
            self._source = SmartApiHistory()
        return self._source

    def _now(self) -> dt.datetime:
        now = self.clock()
        return (now if now.tzinfo else now.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)

    def _instrument(self, symbol: str, token: str | None = None, exchange: str | None = None) -> Instrument:
        """The instrument of ``symbol``; refuses a token or exchange that is not its own."""
        ins = self.settings.instruments.get(symbol)
        if ins is not None and token is not None and ins.token and str(token) != ins.token:
            msg = (f"token {token!r} is not {symbol}'s SmartAPI token ({ins.token} on {ins.exchange}); "
                   f"check the token= argument")
            raise ConfigError(msg)
        if ins is not None and exchange is not None and ins.exchange and exchange != ins.exchange:
            msg = (f"exchange {exchange!r} is not {symbol}'s exchange ({ins.exchange}, token {ins.token}); "
                   f"check the exchange= argument")
            raise ConfigError(msg)
        if ins is not None:
            return ins
        if exchange is not None and exchange not in ("NSE", "NFO", "BSE", "BFO"):
            msg = (f"exchange {exchange!r} for the unconfigured symbol {symbol!r}: only NSE/NFO/BSE/BFO hours are "
                   f"known (09:15-15:30 IST); configure [instruments.{symbol}] in datamgr.toml with its calendar")
            raise ConfigError(msg if exchange in EXCHANGES else f"exchange {exchange!r} not supported; expected one of "
                              f"{', '.join(EXCHANGES)}")
        base = self.settings.instruments.get("NIFTY") or Instrument(symbol, calendar="XNSE")
        ins = replace(base, ticker=symbol, token=str(token) if token else None, exchange=exchange or "NSE")
        self.settings = replace(self.settings, instruments={**self.settings.instruments, symbol: ins})
        self.store = Store(self.settings)
        self.processor.settings = self.settings
        return ins

    def _zone(self, symbol: str) -> str:
        return self.settings.display_tz_for(symbol) if symbol in self.settings.instruments else IST

    @staticmethod
    def _check_interval(interval: str) -> str:
        if interval not in INTERVALS:
            raise ConfigError(f"interval {interval!r} not supported; expected one of {', '.join(INTERVALS)}")
        return interval

    def parquet_path(self, symbol: str, interval: str) -> Path:
        """The Parquet file of ``symbol`` at ``interval`` (ONE_MINUTE: the 1m master)."""
        self._check_interval(interval)
        if interval == "ONE_MINUTE":
            return self.settings.bar_path(symbol, "1m")
        return self.historical_dir / f"{symbol}_{interval}" / f"{symbol}_{interval}.parquet"

    def csv_path(self, symbol: str, interval: str) -> Path:
        """The CSV export of ``symbol`` at ``interval``."""
        self._check_interval(interval)
        return self.historical_dir / f"{symbol}_{interval}" / f"{symbol}_{interval}.csv"

    def _read(self, symbol: str, interval: str) -> pl.DataFrame:
        p = self.parquet_path(symbol, interval)
        if interval == "ONE_MINUTE":
            return self.store.read(symbol, "1m")
        return self.store.read_path(p) if p.is_file() else conform(self.store.read(symbol, "1m").head(0))

    def _to_pandas(self, bars: pl.DataFrame, symbol: str, interval: str) -> pd.DataFrame:
        zone = self._zone(symbol)
        stamps = pd.to_datetime(bars["datetime"].dt.replace_time_zone(None).to_numpy()).tz_localize("UTC").tz_convert(zone)
        df = pd.DataFrame({"timestamp": stamps, **{c: bars[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}})
        df.attrs = {"symbol": symbol, "interval": interval}
        return df

    def _from_pandas(self, df: pd.DataFrame, symbol: str, source: str, what: str) -> pl.DataFrame:
        problems = self.processor.candle_problems(df)
        if problems:
            raise InputError(f"{what}: {'; '.join(problems)}. Nothing was written.", field="df")
        ts = pd.to_datetime(df["timestamp"])
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(self._zone(symbol))
        utc = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
        vol = df["volume"].to_numpy() if "volume" in df.columns else [0] * len(df)
        out = pl.DataFrame({"datetime": pl.Series(utc).dt.replace_time_zone("UTC"),
                            **{c: pl.Series(df[c].to_numpy(dtype="float64")) for c in ("open", "high", "low", "close")},
                            "volume": pl.Series(pd.Series(vol).fillna(0).round().astype("int64").to_numpy()),
                            "source": pl.Series([source] * len(df), dtype=pl.String)})
        return conform(out).sort("datetime")

    def _complete(self, bars: pl.DataFrame, interval: str, ins: Instrument, now: dt.datetime) -> pl.DataFrame:
        """Drop a candle still forming at ``now``."""
        minutes = INTERVAL_MINUTES[interval]
        if minutes < 1440:
            return bars.filter(pl.col("datetime") + pl.duration(minutes=minutes) <= now)
        sess = calendar_for(self.settings, ins.ticker).sessions(now.date() - dt.timedelta(days=7), now.date() + dt.timedelta(days=1))
        open_days = sess.filter(pl.col("close") > now)["trading_day"]
        local = pl.col("datetime").dt.convert_time_zone(self._zone(ins.ticker)).dt.date()
        return bars.filter(~local.is_in(open_days.implode()))

    # ------------------------------------------------------------------ writes
    def _save(self, symbol: str, interval: str, incoming: pl.DataFrame, *, operation: str, origin: str,
              rebuild: bool = False) -> pl.DataFrame:
        """Merge ``incoming`` into the file of ``symbol``/``interval`` (or rebuild the days it covers)
        through the store, then rewrite the CSV export. Returns the file's new content."""
        violations = validate_bars(incoming)
        if violations:
            lines = "; ".join(str(v) for v in violations)
            raise InputError(f"{symbol} {interval} from {origin}: candles break the bar rules: {lines}. Nothing was written.",
                             file=origin)
        path = self.parquet_path(symbol, interval)
        with self.store.lock(f"{operation} {path.name}"):
            existing = self._read(symbol, interval)
            if rebuild:
                zone = self._zone(symbol)
                day = pl.col("datetime").dt.convert_time_zone(zone).dt.date()
                days = incoming.select(day.unique()).to_series()
                kept = existing.filter(~day.is_in(days.implode()))
                result = pl.concat([kept, incoming]).sort("datetime")
                added, details = incoming.height, {"origin": origin, "rebuilt_days": days.len()}
            else:
                plan = plan_merge(existing, incoming, precedence=self.settings.merge_precedence)
                result, added = plan.result, plan.new
                details = {"origin": origin, "added": plan.new, "replaced": plan.replaced, "identical": plan.identical,
                           "conflicts": plan.conflicts, "kept": plan.kept}
            if result.height == 0:
                return result
            derived_only = rebuild and not existing.filter(pl.col("source") != "upsampled").height
            self.store.write(symbol, "1m" if interval == "ONE_MINUTE" else interval, result, operation=operation,
                             details=details, backup=not derived_only,
                             path=None if interval == "ONE_MINUTE" else path)
            self._export(symbol, interval, result, operation)
        log.info("%s %s: %d new candle(s), %d in the file", symbol, interval, added, result.height)
        return result

    def _export(self, symbol: str, interval: str, bars: pl.DataFrame, operation: str) -> Path:
        zone = self._zone(symbol)
        fmt = "%Y-%m-%d" if interval == "ONE_DAY" else "%Y-%m-%d %H:%M:%S"
        csv = bars.select(pl.col("datetime").dt.convert_time_zone(zone).dt.strftime(fmt).alias("timestamp"),
                          "open", "high", "low", "close", "volume").write_csv()
        return self.store.write_export(self.csv_path(symbol, interval), csv.encode("utf-8"), operation=f"{operation} csv",
                                       details={"rows": bars.height, "timezone": zone})

    def save_resampled(self, symbol: str, interval: str, df: pd.DataFrame) -> None:
        """Store a resampled frame (the processor's writer): the days it covers are rebuilt."""
        self._instrument(symbol)
        bars = self._from_pandas(df, symbol, "upsampled", f"{symbol} {interval} resampled")
        self._save(symbol, interval, bars, operation="resample", origin="resampled from ONE_MINUTE", rebuild=True)

    def save_to_csv(self, df: pd.DataFrame, symbol: str, interval: str) -> bool:
        """Store ``df`` (merged into the Parquet file of ``symbol``/``interval``) and rewrite its CSV export.

        Raises
        ------
        InputError
            ``df`` is not a valid candle frame (names the problem); nothing written.
        """
        self._check_interval(interval)
        self._instrument(symbol)
        bars = self._from_pandas(df, symbol, "smartapi", f"save_to_csv({symbol}, {interval})")
        self._save(symbol, interval, bars, operation="save", origin="save_to_csv")
        return True

    # ------------------------------------------------------------------ fetch
    def _fetch_bars(self, ins: Instrument, token: str, exchange: str, interval: str,
                    start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
        bars = self.source.candles(exchange, str(token), interval, start, end)
        bars = self._complete(bars, interval, ins, self._now())
        violations = validate_bars(bars)
        if violations:
            lines = "; ".join(str(v) for v in violations)
            raise InputError(f"SmartAPI {exchange}:{token} {interval}: malformed candles: {lines}. Nothing was written.",
                             file=f"getCandleData {exchange}:{token}")
        return bars

    def _local(self, t: dt.datetime, symbol: str) -> dt.datetime:
        zone = ZoneInfo(self._zone(symbol))
        return t.replace(tzinfo=zone) if t.tzinfo is None else t.astimezone(zone)

    def fetch_historical_data(self, symbol: str, token: str, exchange: str = "NSE", interval: str = "FIVE_MINUTE",
                              from_date: dt.datetime | None = None, to_date: dt.datetime | None = None,
                              days: int = 5) -> pd.DataFrame | None:
        """Fetch candles from SmartAPI (nothing is stored).

        Parameters
        ----------
        symbol, token, exchange : str
            ``NIFTY``, ``99926000``, ``NSE``.
        interval : str
            A key of :data:`INTERVALS`.
        from_date, to_date : datetime, optional
            Inclusive range (naive: the instrument's zone); default the last ``days`` days up to now.
        days : int
            Span when ``from_date`` is not given.

        Returns
        -------
        pandas.DataFrame
            ``timestamp`` (aware, instrument zone), ``open high low close volume``.

        Raises
        ------
        ConfigError, SourceError, InputError
            Bad arguments, provider failure or empty answer, malformed candles.
        """
        self._check_interval(interval)
        if days <= 0:
            raise ConfigError(f"days must be > 0, got {days}")
        ins = self._instrument(symbol, token, exchange)
        end = self._local(to_date, symbol) if to_date else self._now().astimezone(ZoneInfo(self._zone(symbol)))
        start = self._local(from_date, symbol) if from_date else (end - dt.timedelta(days=days)).replace(
            hour=0, minute=0, second=0, microsecond=0)
        bars = self._fetch_bars(ins, token, exchange, interval, start, end)
        return self._to_pandas(bars, symbol, interval)

    def fetch_and_save_historical_data(self, symbol: str, token: str, exchange: str = "NSE",
                                       interval: str = "FIVE_MINUTE", days: int = 5,
                                       from_date: dt.datetime | None = None,
                                       to_date: dt.datetime | None = None) -> pd.DataFrame | None:
        """Fetch (see :meth:`fetch_historical_data`) and store; returns the fetched candles."""
        self._check_interval(interval)
        ins = self._instrument(symbol, token, exchange)
        df = self.fetch_historical_data(symbol, token, exchange, interval, from_date, to_date, days)
        bars = self._from_pandas(df, symbol, "smartapi", f"SmartAPI {symbol} {interval}")
        self._save(ins.ticker, interval, bars, operation="fetch", origin=f"smartapi {exchange}:{token} {interval}")
        log.info("Fetched %d candles of %s %s", len(df), symbol, interval)
        return df

    def load_historical_data(self, symbol: str, interval: str) -> pd.DataFrame | None:
        """The stored candles of ``symbol`` at ``interval`` (``None`` when there are none)."""
        self._check_interval(interval)
        bars = self._read(symbol, interval)
        if bars.height == 0:
            return None
        return self._to_pandas(bars, symbol, interval)

    def update_historical_data(self, symbol: str, token: str, exchange: str = "NSE",
                               interval: str = "FIVE_MINUTE") -> pd.DataFrame | None:
        """Fetch the candles after the last stored one (re-fetching that one) and merge; returns the whole file.

        Without stored data: the last 5 days.
        """
        self._check_interval(interval)
        ins = self._instrument(symbol, token, exchange)
        existing = self._read(symbol, interval)
        if existing.height == 0:
            self.fetch_and_save_historical_data(symbol, token, exchange, interval, days=5)
            return self.load_historical_data(symbol, interval)
        now = self._now()
        start = existing["datetime"][-1]
        if start + dt.timedelta(minutes=INTERVAL_MINUTES[interval]) > now:
            return self._to_pandas(existing, symbol, interval)
        bars = self._fetch_bars(ins, token, exchange, interval, start, now)
        self._save(symbol, interval, bars, operation="update", origin=f"smartapi {exchange}:{token} {interval}")
        return self.load_historical_data(symbol, interval)

    # ------------------------------------------------------------------ intraday
    def missing_window(self, symbol: str, now: dt.datetime | None = None,
                       auto_backfill: bool = True) -> tuple[dt.datetime, dt.datetime] | None:
        """The 1m window ``[start, end]`` (aware, instrument zone) :meth:`update_intraday_data` would fetch."""
        ins = self._instrument(symbol)
        now = (now or self._now()).astimezone(ZoneInfo(self._zone(symbol)))
        meta = self.store.read_meta(symbol, "1m")
        last = meta.end if meta and meta.rows else None
        lo = (last or now).date() - dt.timedelta(days=1 if last else 10)
        sess = calendar_for(self.settings, ins.ticker).sessions(lo, now.date())
        if last is None:  # no data yet: the latest session that has begun
            sess = sess.filter(pl.col("open") <= now.astimezone(dt.UTC)).tail(1)
        start = end = None
        for o, c in zip(sess["open"], sess["close"]):
            if o > now or (last is not None and last + MINUTE >= c):
                continue
            if c <= now:
                s_end = c
            else:
                hours = int((now - o) / dt.timedelta(hours=1))
                s_end = o + dt.timedelta(hours=hours)
            s_start = max(o, last + MINUTE) if last is not None else o
            if not auto_backfill and s_start < s_end - dt.timedelta(hours=1) and c > now:
                s_start = max(s_start, s_end - dt.timedelta(hours=1))
            if s_start > s_end:
                continue
            start = s_start if start is None else start
            end = s_end
        if start is None:
            return None
        zone = ZoneInfo(self._zone(symbol))
        return start.astimezone(zone), end.astimezone(zone)

    def update_intraday_data(self, symbol: str, token: str, auto_backfill: bool = True,
                             exchange: str = "NSE") -> pd.DataFrame | None:
        """Bring the 1m data of ``symbol`` up to the last complete hour window and resample every timeframe.

        Late start (stored data ends before today's session and the session has begun): backfill
        from the session open (see the module docstring). Returns the whole 1m history.
        """
        ins = self._instrument(symbol, token, exchange)
        now = self._now()
        window = self.missing_window(symbol, now, auto_backfill)
        if window is None:
            log.info("%s: 1-minute data is current; nothing to fetch", symbol)
            return self.load_historical_data(symbol, "ONE_MINUTE")
        meta = self.store.read_meta(symbol, "1m")
        zone = ZoneInfo(self._zone(symbol))
        if meta and meta.rows and meta.end.astimezone(zone).date() < window[1].date():
            log.warning("⚠ Late start detected! Initiating automatic backfill...")
        return self.backfill_intraday_data(ins.ticker, token, window[0], window[1], exchange=exchange)

    def backfill_intraday_data(self, symbol: str, token: str, start_time: dt.datetime, end_time: dt.datetime,
                               exchange: str = "NSE") -> pd.DataFrame | None:
        """Fetch 1m candles ``[start_time, end_time]`` (naive: the instrument's zone), merge them into the 1m
        master, save, and resample every timeframe. Returns the whole 1m history."""
        ins = self._instrument(symbol, token, exchange)
        start, end = self._local(start_time, symbol), self._local(end_time, symbol)
        if end < start:
            raise ConfigError(f"end_time {end:%Y-%m-%d %H:%M} is before start_time {start:%Y-%m-%d %H:%M}")
        log.info(_RULE)
        log.info("BACKFILLING MISSING INTRADAY DATA")
        log.info(_RULE)
        log.info("Symbol: %s", symbol)
        log.info("Window: %s → %s", f"{start:%Y-%m-%d %H:%M:%S}", f"{end:%Y-%m-%d %H:%M:%S}")
        log.info("Step 1: Fetching 1-minute data for missing window...")
        bars = self._fetch_bars(ins, token, exchange, "ONE_MINUTE", start, end)
        log.info("✓ Fetched %d 1-minute candles", bars.height)
        log.info("Step 2: Merging with existing 1-minute data...")
        before = self.store.read_meta(symbol, "1m")
        result = self._save(symbol, "ONE_MINUTE", bars, operation="backfill",
                            origin=f"smartapi {exchange}:{token} ONE_MINUTE")
        added = result.height - (before.rows if before else 0)
        log.info("✓ Merged: added %d new candles, total: %d", added, result.height)
        log.info("Step 3: Saving updated 1-minute data...")
        log.info("✓ Saved %d 1-minute candles to CSV", result.height)
        log.info("Step 4: Resampling to higher timeframes...")
        zone = self._zone(symbol)
        day = pl.col("datetime").dt.convert_time_zone(zone).dt.date()
        touched = result.filter(day.is_in(bars.select(day.unique()).to_series().implode()))
        outcome = self.processor.update_resampled_data(symbol, self._to_pandas(touched, symbol, "ONE_MINUTE"))
        for tf, ok in outcome.items():
            log.info("  %s %s", "✓" if ok else "✗", tf)
        log.info(_RULE)
        log.info("BACKFILL COMPLETE")
        log.info(_RULE)
        return self._to_pandas(result, symbol, "ONE_MINUTE")

    # ------------------------------------------------------------------ listing
    def get_available_data_files(self) -> list[dict[str, str]]:
        """Every stored interval file: ``symbol``, ``interval``, ``filepath`` (Parquet), ``csv``, ``rows``."""
        out = []
        for p in sorted(Path(self.settings.data_dir).glob("*_1m.parquet")):
            symbol = p.name[: -len("_1m.parquet")]
            csv = self.csv_path(symbol, "ONE_MINUTE")
            out.append({"symbol": symbol, "interval": "ONE_MINUTE", "filepath": str(p),
                        "csv": str(csv) if csv.is_file() else "", "rows": str(_rows(p))})
        if self.historical_dir.is_dir():
            for p in sorted(self.historical_dir.glob("*/*.parquet")):
                symbol, _, interval = p.stem.rpartition("_")
                for name in INTERVALS:
                    if p.stem.endswith("_" + name):
                        symbol, interval = p.stem[: -len(name) - 1], name
                csv = p.with_suffix(".csv")
                out.append({"symbol": symbol, "interval": interval, "filepath": str(p),
                            "csv": str(csv) if csv.is_file() else "", "rows": str(_rows(p))})
        return out


def _rows(p: Path) -> int:
    return read_footer(p).rows
