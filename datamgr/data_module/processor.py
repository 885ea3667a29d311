"""``DataProcessor``: validation, cleaning, market-hours filtering, resampling and a TTL cache.

The second requirements document's processor over pandas frames with a ``timestamp`` column
(``open high low close volume``). Market hours come from the instrument's exchange calendar
(:mod:`datamgr.calendar.sessions`): the frame's ``attrs["symbol"]`` (set by
:meth:`HistoricalDataManager.load_historical_data`) picks the instrument, else the processor's
default market (NSE: ``MARKET_OPEN = "09:15"``, ``MARKET_CLOSE = "15:30"`` IST, with the NSE
holidays of pandas_market_calendars).

Decisions where the document is silent:

* Naive timestamps mean the instrument's display zone (IST for NSE); aware ones keep their zone
  and the output keeps the input's zone.
* :meth:`filter_market_hours` keeps candles with ``open <= timestamp <= close`` of a session of
  the calendar (the document: "removes candles after 15:30"; a 15:30 candle is kept). Candles
  of days that are not sessions are removed too (they are the health check's business).
* :meth:`resample_data` anchors every bucket at its session's open (09:15 -> 09:15, 10:15, ...
  for ``1H``), never spans two sessions, and keeps partial buckets (the last ``1H`` candle is
  15:15-15:30). OHLCV = first / max / min / last / sum. Vectorised: one ``searchsorted`` against
  the session opens and one polars group-by, no loop over days.
* The cache keeps values in memory and on disk (``<data>/cache/``): DataFrames as Parquet, other
  values as JSON when they can be (else memory only), each with a ``.meta.json`` holding the key,
  the expiry (Unix seconds) and the payload's sha256; files are written atomically, so a cache
  survives restarts and a torn or tampered entry reads as a miss.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import re
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import polars as pl

from datamgr.calendar.sessions import calendar_for
from datamgr.core.config import Instrument, Settings
from datamgr.core.errors import ConfigError
from datamgr.store.atomic import atomic_write_bytes

log = logging.getLogger(__name__)
#: target interval -> minutes (``1D``: one candle per session)
RESAMPLE_MINUTES = {"1min": 1, "3min": 3, "5min": 5, "10min": 10, "15min": 15, "30min": 30, "1H": 60, "1h": 60,
                    "60min": 60, "1hour": 60, "1D": 0, "1d": 0, "1day": 0}
#: the timeframes of :meth:`DataProcessor.update_resampled_data` -> the document's interval names
RESAMPLED = {"3min": "THREE_MINUTE", "5min": "FIVE_MINUTE", "10min": "TEN_MINUTE", "15min": "FIFTEEN_MINUTE",
             "30min": "THIRTY_MINUTE", "1H": "ONE_HOUR"}
CANDLE_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
_US = 1_000_000


class DataProcessor:
    """Validation, cleaning, market-hours filtering, resampling and caching of candle frames.

    Parameters
    ----------
    settings : Settings
        The data folder (cache under ``<data>/cache``; resampled files under ``<data>/historical``).
    market : str
        Instrument whose calendar applies to frames without ``attrs["symbol"]`` (default NIFTY: NSE).
    clock : callable
        Unix time in seconds for cache expiry (``time.time``; tests pin it).
    writer : callable, optional
        ``writer(symbol, interval_name, pandas frame) -> None`` that stores a resampled frame
        (the historical manager's Parquet + CSV writer); set by the factories.
    """

    MARKET_OPEN = "09:15"
    MARKET_CLOSE = "15:30"

    def __init__(self, settings: Settings | None = None, market: str = "NIFTY",
                 clock: Callable[[], float] = time.time,
                 writer: Callable[[str, str, pd.DataFrame], None] | None = None) -> None:
        self.settings = settings or Settings.load()
        self.market = market
        self.clock = clock
        self.writer = writer
        self.cache_dir = Path(self.settings.data_dir) / "cache"
        self._memory: dict[str, tuple[float, Any]] = {}
        ins = self._instrument(market)
        sess = calendar_for(self._settings_with(ins), ins.ticker).sessions(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
        if sess.height:
            zone = self.settings.display_tz_for(market)
            self.MARKET_OPEN = f"{sess['open'][0].astimezone(ZoneInfo(zone)):%H:%M}"
            self.MARKET_CLOSE = f"{sess['close'][0].astimezone(ZoneInfo(zone)):%H:%M}"

    # ------------------------------------------------------------------ instruments
    def _instrument(self, symbol: str | None) -> Instrument:
        symbol = symbol or self.market
        if symbol in self.settings.instruments:
            return self.settings.instruments[symbol]
        base = self.settings.instruments.get(self.market) or self.settings.instrument(self.market)
        return replace(base, ticker=symbol)

    def _settings_with(self, ins: Instrument) -> Settings:
        if ins.ticker in self.settings.instruments:
            return self.settings
        return replace(self.settings, instruments={**self.settings.instruments, ins.ticker: ins})

    def _zone(self, df: pd.DataFrame) -> str:
        ts = df["timestamp"]
        tz = getattr(ts.dt, "tz", None) if len(ts) else None
        if tz is not None:
            return str(tz)
        ins = self._instrument(df.attrs.get("symbol"))
        return ins.display_tz or self.settings.display_tz

    def _sessions_us(self, df: pd.DataFrame, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ins = self._instrument(df.attrs.get("symbol"))
        cal = calendar_for(self._settings_with(ins), ins.ticker)
        lo = dt.datetime.fromtimestamp(int(t.min()) / _US, dt.UTC).date() - dt.timedelta(days=3)
        hi = dt.datetime.fromtimestamp(int(t.max()) / _US, dt.UTC).date() + dt.timedelta(days=3)
        sess = cal.sessions(lo, hi)
        opens = sess["open"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        closes = sess["close"].dt.replace_time_zone(None).cast(pl.Int64).to_numpy()
        return opens, closes

    def _utc_us(self, df: pd.DataFrame) -> np.ndarray:
        ts = pd.to_datetime(df["timestamp"])
        if ts.dt.tz is None:
            ts = ts.dt.tz_localize(self._zone(df), ambiguous="NaT", nonexistent="NaT")
        return ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]").astype("int64")

    # ------------------------------------------------------------------ validation
    def candle_problems(self, df: pd.DataFrame | None) -> list[str]:
        """Every problem of a candle frame (empty list: valid), each naming the column and rows."""
        if df is None:
            return ["no data (None)"]
        if not isinstance(df, pd.DataFrame):
            return [f"expected a pandas DataFrame, got {type(df).__name__}"]
        missing = [c for c in ("timestamp", "open", "high", "low", "close") if c not in df.columns]
        if missing:
            return [f"missing column(s) {', '.join(missing)}; expected {', '.join(CANDLE_COLUMNS)}"]
        if df.empty:
            return ["no candles (empty frame)"]
        out = []
        ts = pd.to_datetime(df["timestamp"], errors="coerce")
        if ts.isna().any():
            out.append(f"timestamp: {int(ts.isna().sum())} value(s) are not times (first at row {int(ts.isna().argmax())})")
        prices = df[["open", "high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
        rules = [
            ("open/high/low/close: missing or not a number", prices.isna().any(axis=1)),
            ("price <= 0", (prices <= 0).any(axis=1)),
            ("high < max(open, close)", prices["high"] < prices[["open", "close"]].max(axis=1)),
            ("low > min(open, close)", prices["low"] > prices[["open", "close"]].min(axis=1)),
            ("duplicate timestamp", ts.duplicated() & ts.notna()),
        ]
        if "volume" in df.columns:
            vol = pd.to_numeric(df["volume"], errors="coerce")
            rules.append(("volume: negative or not a number", vol.isna() | (vol < 0)))
        for rule, mask in rules:
            n = int(mask.sum())
            if n:
                rows = ", ".join(str(i) for i in np.flatnonzero(mask.to_numpy())[:5])
                out.append(f"{rule}: {n} row(s), rows {rows}{' ...' if n > 5 else ''}")
        return out

    def validate_candle_data(self, df: pd.DataFrame | None) -> bool:
        """``True`` when ``df`` is a non-empty candle frame with consistent OHLC (see :meth:`candle_problems`,
        logged as warnings when it is not)."""
        problems = self.candle_problems(df)
        for p in problems:
            log.warning("candle data invalid: %s", p)
        return not problems

    def clean_candle_data(self, df: pd.DataFrame) -> pd.DataFrame:
        """Drop rows with a missing time or price, keep the last of duplicate timestamps, sort by time."""
        out = df.copy()
        out["timestamp"] = pd.to_datetime(out["timestamp"], errors="coerce")
        for c in ("open", "high", "low", "close", "volume"):
            if c in out.columns:
                out[c] = pd.to_numeric(out[c], errors="coerce")
        out = out.dropna(subset=["timestamp", "open", "high", "low", "close"])
        out = out.drop_duplicates("timestamp", keep="last").sort_values("timestamp").reset_index(drop=True)
        out.attrs = dict(df.attrs)
        return out

    # ------------------------------------------------------------------ market hours
    def _in_session(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self._utc_us(df)
        opens, closes = self._sessions_us(df, t)
        idx = np.searchsorted(opens, t, side="right") - 1
        cidx = np.clip(idx, 0, None)
        ok = (idx >= 0) & (t <= closes[cidx]) if len(opens) else np.zeros(len(t), bool)
        return t, ok, opens[cidx] if len(opens) else np.zeros(len(t), "int64")

    def filter_market_hours(self, df: pd.DataFrame) -> pd.DataFrame:
        """Candles inside a session of the instrument's calendar (``open <= timestamp <= close``).

        For NSE: 09:15-15:30 IST on NSE trading days; a candle after 15:30 is removed.
        """
        if df is None or df.empty:
            return df
        _, ok, _ = self._in_session(df)
        out = df.loc[ok].reset_index(drop=True)
        out.attrs = dict(df.attrs)
        if (~ok).any():
            log.info("filter_market_hours: removed %d candle(s) outside market hours", int((~ok).sum()))
        return out

    # ------------------------------------------------------------------ resampling
    def resample_data(self, df: pd.DataFrame, target_interval: str = "5min") -> pd.DataFrame:
        """Resample candles to ``target_interval`` (``3min 5min 10min 15min 30min 1H``, also ``1D``).

        Buckets are anchored at each session's open and never span two sessions; partial buckets
        are kept. Candles outside market hours are left out (:meth:`filter_market_hours`).

        Raises
        ------
        ConfigError
            ``target_interval`` is not one of the supported names.
        """
        if target_interval not in RESAMPLE_MINUTES:
            msg = f"target_interval {target_interval!r} not supported; expected one of {', '.join(RESAMPLED)} (or 1D)"
            raise ConfigError(msg)
        if df is None or df.empty:
            return pd.DataFrame(columns=list(CANDLE_COLUMNS))
        zone = self._zone(df)
        aware = getattr(pd.to_datetime(df["timestamp"]).dt, "tz", None) is not None
        t, ok, open_us = self._in_session(df)
        minutes = RESAMPLE_MINUTES[target_interval]
        rel = t - open_us
        label = open_us + (rel // (minutes * 60 * _US)) * (minutes * 60 * _US) if minutes else open_us
        vol = df["volume"].to_numpy() if "volume" in df.columns else np.zeros(len(df), "int64")
        frame = pl.DataFrame({"t": t, "label": label, "open": df["open"].to_numpy(dtype="float64"),
                              "high": df["high"].to_numpy(dtype="float64"), "low": df["low"].to_numpy(dtype="float64"),
                              "close": df["close"].to_numpy(dtype="float64"),
                              "volume": np.nan_to_num(vol.astype("float64")).astype("int64")}).filter(pl.Series(ok))
        agg = (frame.sort("t").group_by("label", maintain_order=True)
               .agg(pl.col("open").first(), pl.col("high").max(), pl.col("low").min(), pl.col("close").last(),
                    pl.col("volume").sum()).sort("label"))
        stamps = pd.to_datetime(agg["label"].to_numpy().astype("datetime64[us]")).tz_localize("UTC").tz_convert(zone)
        out = pd.DataFrame({"timestamp": stamps if aware else stamps.tz_localize(None),
                            **{c: agg[c].to_numpy() for c in ("open", "high", "low", "close", "volume")}})
        out.attrs = {**df.attrs, "interval": target_interval}
        return out

    def update_resampled_data(self, symbol: str, df_1min: pd.DataFrame,
                              timeframes: list[str] | None = None) -> dict[str, bool]:
        """Resample 1-minute candles to every timeframe (3min, 5min, 10min, 15min, 30min, 1H) and save them.

        Each timeframe is saved through the store (Parquet under ``<data>/historical`` + CSV export);
        the days covered by ``df_1min`` are rebuilt, other days of the file are kept.

        Returns
        -------
        dict
            ``{timeframe: saved}`` (``False`` with the reason logged when one fails).
        """
        results: dict[str, bool] = {}
        df = df_1min.copy()
        df.attrs = {**df_1min.attrs, "symbol": symbol}
        for tf in timeframes or list(RESAMPLED):
            try:
                if tf not in RESAMPLED:
                    raise ConfigError(f"timeframe {tf!r} not supported; expected one of {', '.join(RESAMPLED)}")
                out = self.resample_data(df, tf)
                if self.writer is None:
                    raise ConfigError("no writer: build the processor with get_data_processor()")
                self.writer(symbol, RESAMPLED[tf], out)
                results[tf] = True
            except Exception as err:  # noqa: BLE001 - the document reports each timeframe's outcome
                log.error("resampling %s to %s failed: %s", symbol, tf, err)
                results[tf] = False
        log.info("Resampling complete: %d/%d timeframes successful", sum(results.values()), len(results))
        return results

    # ------------------------------------------------------------------ cache
    def _paths(self, key: str) -> tuple[Path, Path]:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)[:40]
        stem = f"{safe}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
        return self.cache_dir / f"{stem}.data", self.cache_dir / f"{stem}.meta.json"

    def cache_data(self, key: str, data: Any, ttl_seconds: int = 300) -> bool:
        """Cache ``data`` under ``key`` for ``ttl_seconds`` (memory, and disk when it can be serialised).

        Returns ``True`` when cached (in memory at least).
        """
        if ttl_seconds <= 0:
            raise ConfigError(f"ttl_seconds must be > 0, got {ttl_seconds}")
        expires = self.clock() + ttl_seconds
        self._memory[key] = (expires, data.copy() if isinstance(data, pd.DataFrame) else data)
        payload, kind = _serialise(data)
        if payload is None:
            log.debug("cache %s: kept in memory only (%s is not serialisable)", key, type(data).__name__)
            return True
        data_path, meta_path = self._paths(key)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(data_path, payload)
            meta = {"key": key, "expires": expires, "kind": kind, "sha256": hashlib.sha256(payload).hexdigest()}
            atomic_write_bytes(meta_path, json.dumps(meta).encode())
        except OSError as err:
            log.warning("cache %s: not written to disk (%s); kept in memory", key, err)
        return True

    def get_cached_data(self, key: str) -> Any | None:
        """The cached value of ``key``, or ``None`` when missing or expired (expired entries are removed)."""
        now = self.clock()
        hit = self._memory.get(key)
        if hit is not None:
            if hit[0] > now:
                return hit[1].copy() if isinstance(hit[1], pd.DataFrame) else hit[1]
            self.clear_cache(key)
            return None
        data_path, meta_path = self._paths(key)
        try:
            meta = json.loads(meta_path.read_bytes())
            payload = data_path.read_bytes()
        except (OSError, ValueError):
            return None
        if meta.get("key") != key or hashlib.sha256(payload).hexdigest() != meta.get("sha256"):
            return None
        if float(meta.get("expires", 0)) <= now:
            self.clear_cache(key)
            return None
        value = _deserialise(payload, meta.get("kind"))
        self._memory[key] = (float(meta["expires"]), value)
        return value.copy() if isinstance(value, pd.DataFrame) else value

    def clear_cache(self, key: str | None = None) -> None:
        """Forget ``key`` (or every entry when ``None``), in memory and on disk."""
        if key is None:
            self._memory.clear()
            if self.cache_dir.is_dir():
                for p in self.cache_dir.iterdir():
                    if p.name.endswith((".data", ".meta.json")):
                        p.unlink(missing_ok=True)
            return
        self._memory.pop(key, None)
        for p in self._paths(key):
            p.unlink(missing_ok=True)


def _serialise(data: Any) -> tuple[bytes | None, str]:
    if isinstance(data, pd.DataFrame):
        buf = io.BytesIO()
        try:
            data.to_parquet(buf)
        except Exception:  # noqa: BLE001 - object columns pyarrow cannot write: memory only
            return None, "parquet"
        return buf.getvalue(), "parquet"
    try:
        return json.dumps(data, allow_nan=False).encode(), "json"
    except (TypeError, ValueError):
        return None, "json"


def _deserialise(payload: bytes, kind: str | None) -> Any:
    if kind == "parquet":
        return pd.read_parquet(io.BytesIO(payload))
    return json.loads(payload)


__all__ = ["RESAMPLED", "DataProcessor"]
