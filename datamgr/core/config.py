"""Settings: one frozen object built once (defaults <- datamgr.toml <- env <- CLI) and passed
explicitly. Nothing here runs at import time.

``datamgr.toml`` (optional, next to the data folder or given with ``--config``)::

    data_dir = "data"
    display_tz = "America/New_York"

    [backup]
    keep_last = 10          # per file
    keep_daily_days = 30
    destinations = ['G:\\My Drive\\TradingBackups', 'C:\\Users\\{USER}\\OneDrive\\TradingBackups']

    [yahoo]
    auto_update = false

    [derived]
    include_partial = false   # profiler summary statistics skip partial sessions (file edges,
                              # early closes); true counts them like full days

    [merge]
    precedence = ["ninjatrader", "tradingview", "smartapi", "yahoo", "upsampled", "demo"]

    [instruments.ES1]
    yahoo_symbol = "ES=F"
    calendar = "CME Globex Equity"
    tick_size = 0.25
    import_tz = "America/Los_Angeles"
    import_stamp = "close"  # written by `--remember` / the Import page's "remember for ES1"
    sessions = { asia = ["18:00", "03:00"], london = ["03:00", "09:30"], ny = ["09:30", "16:00"] }
    roll = "volume"         # contract roll: "volume" (first session the new month out-trades the old) or "after-old"
    # stale_after_sessions = 1   # health fails when the 1m file is more sessions behind (unset:
    #                            # staleness is information, e.g. for an archived contract)

Where no ``--config`` / ``DATAMGR_CONFIG`` / ``./datamgr.toml`` is given, a ``datamgr.toml`` next
to the data folder (``<data_dir>/../datamgr.toml``) is read: that is where a remembered zone is
written when no configuration file exists yet (:func:`config_file_for`).

    [instruments.NIFTY]     # preconfigured: NSE indices for Angel One SmartAPI
    calendar = "XNSE"
    exchange = "NSE"        # SmartAPI exchange of getCandleData
    token = "99926000"      # SmartAPI symbol token
    display_tz = "Asia/Kolkata"
    source = "smartapi"     # what ``datamgr update`` fetches from

A ticker that is not configured gets the ES1 defaults (CME equity-index futures schedule) with
its own name; ``SPY`` is preconfigured on the NYSE extended-hours calendar, ``NIFTY`` (99926000)
and ``BANKNIFTY`` (99926009) on the NSE calendar (09:15-15:30 IST) with SmartAPI history.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from datamgr.core import layout
from datamgr.core.errors import ConfigError
from datamgr.core.layout import INTRADAY_DERIVED, TIMEFRAMES, check_ticker

__all__ = ["INTRADAY_DERIVED", "TIMEFRAMES", "Instrument", "Settings", "check_ticker"]

DEFAULT_SESSIONS: tuple[tuple[str, str, str], ...] = (
    ("asia", "18:00", "03:00"),
    ("london", "03:00", "09:30"),
    ("ny", "09:30", "16:00"),
)
#: TradingView's "Export chart data" comes from the same exchange feed as NinjaTrader's but is the
#: second choice for the master (NinjaTrader is the SOP source); both rank above the API sources.
DEFAULT_PRECEDENCE: tuple[str, ...] = ("ninjatrader", "tradingview", "smartapi", "yahoo", "upsampled", "demo")
CME_EQUITY = "CME Globex Equity"
CONFIG_NAME = "datamgr.toml"


@dataclass(frozen=True)
class Instrument:
    """One traded instrument and how its data is handled."""

    ticker: str
    yahoo_symbol: str = "ES=F"
    calendar: str = CME_EQUITY
    tick_size: float = 0.25
    import_tz: str = "America/Los_Angeles"
    import_stamp: str = "close"
    sessions: tuple[tuple[str, str, str], ...] = DEFAULT_SESSIONS
    roll: str = "volume"  # contract roll rule: "volume" or "after-old" (datamgr.store.roll)
    stale_after_sessions: int | None = None  # health fails when the file is more sessions behind
    exchange: str | None = None
    token: str | None = None
    display_tz: str | None = None
    source: str = "yahoo"


IST = "Asia/Kolkata"


def _default_instruments() -> dict[str, Instrument]:
    cme = {
        "ES1": "ES=F", "MES1": "MES=F", "NQ1": "NQ=F", "MNQ1": "MNQ=F",
        "YM1": "YM=F", "MYM1": "MYM=F", "RTY1": "RTY=F", "M2K1": "M2K=F", "DEMO1": "ES=F",
    }
    out = {t: Instrument(t, yahoo_symbol=y) for t, y in cme.items()}
    for t in ("NQ1", "MNQ1", "RTY1", "M2K1"):
        out[t] = replace(out[t], tick_size=0.25 if t in ("NQ1", "MNQ1") else 0.1)
    for t in ("YM1", "MYM1"):
        out[t] = replace(out[t], tick_size=1.0)
    out["SPY"] = Instrument("SPY", yahoo_symbol="SPY", calendar="NYSE extended",
                            tick_size=0.01, import_tz="America/New_York")
    for t, token in (("NIFTY", "99926000"), ("BANKNIFTY", "99926009")):
        out[t] = Instrument(t, yahoo_symbol="", calendar="XNSE", tick_size=0.05, import_tz=IST,
                            exchange="NSE", token=token, display_tz=IST, source="smartapi")
    return out


#: the requirements' cloud folders (seed 4.4), offered as defaults when they exist
SEED_DESTINATIONS: tuple[str, ...] = (r"G:\My Drive\TradingBackups", r"C:\Users\{USER}\OneDrive\TradingBackups")


@dataclass(frozen=True)
class Settings:
    """Everything configurable, frozen. Build with :meth:`load`."""

    data_dir: Path = Path("data")
    display_tz: str = "America/New_York"
    instruments: Mapping[str, Instrument] = field(default_factory=_default_instruments)
    backup_keep_last: int = 10
    backup_keep_daily_days: int = 30
    backup_destinations: tuple[str, ...] = ()
    yahoo_auto_update: bool = False
    derived_include_partial: bool = False  # profiler statistics count partial sessions too
    merge_precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    lock_timeout: float = 10.0
    config_path: Path | None = None

    # ---- derived paths -------------------------------------------------------------
    @property
    def backups_dir(self) -> Path:
        return self.data_dir / layout.BACKUPS

    @property
    def quarantine_dir(self) -> Path:
        return self.data_dir / layout.QUARANTINE

    @property
    def live_dir(self) -> Path:
        return self.data_dir / layout.LIVE

    @property
    def journal_path(self) -> Path:
        return self.data_dir / layout.JOURNAL

    @property
    def lock_path(self) -> Path:
        return self.data_dir / layout.LOCK

    @property
    def overrides_path(self) -> Path:
        return self.data_dir / layout.OVERRIDES

    def bar_path(self, ticker: str, timeframe: str) -> Path:
        """Path of the Parquet bar file of ``ticker`` at ``timeframe`` (``ES1_1m.parquet``)."""
        return self.data_dir / layout.bar_name(ticker, timeframe)

    def instrument(self, ticker: str) -> Instrument:
        """The instrument of ``ticker``; unknown tickers get the ES1 defaults under their name."""
        check_ticker(ticker)
        if ticker in self.instruments:
            return self.instruments[ticker]
        return replace(self.instruments.get("ES1", Instrument("ES1")), ticker=ticker)

    def display_tz_for(self, ticker: str) -> str:
        """The zone in which times of ``ticker`` are shown (its ``display_tz``, else the folder's)."""
        try:
            return self.instrument(ticker).display_tz or self.display_tz
        except ConfigError:
            return self.display_tz

    def expanded_destinations(self) -> tuple[Path, ...]:
        user = _user()
        return tuple(Path(d.replace("{USER}", user)) for d in self.backup_destinations)

    def cloud_destinations(self, candidates: tuple[str, ...] = SEED_DESTINATIONS) -> tuple[Path, ...]:
        """The configured ``[backup] destinations``; when none are configured, those of the
        requirements' default folders (``candidates``) that exist on this machine."""
        if self.backup_destinations:
            return self.expanded_destinations()
        user = _user()
        found = (Path(d.replace("{USER}", user)) for d in candidates)
        return tuple(p for p in found if p.is_dir())

    # ---- construction ----------------------------------------------------------------
    @classmethod
    def load(cls, data_dir: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
             env: Mapping[str, str] | None = None) -> Settings:
        """Build settings: defaults, then ``datamgr.toml``, then env, then explicit arguments.

        Parameters
        ----------
        data_dir : path, optional
            ``--data-dir``; wins over ``DATAMGR_DATA_DIR`` and the file's ``data_dir``.
        config : path, optional
            ``--config``; else ``DATAMGR_CONFIG``; else ``./datamgr.toml`` if it exists.
        env : mapping, optional
            Environment (defaults to ``os.environ``).
        """
        env = os.environ if env is None else env
        cfg_path = config or env.get("DATAMGR_CONFIG")
        if cfg_path is None and Path("datamgr.toml").is_file():
            cfg_path = "datamgr.toml"
        chosen = data_dir or env.get("DATAMGR_DATA_DIR")
        if cfg_path is None and chosen and (Path(chosen).parent / CONFIG_NAME).is_file():
            cfg_path = Path(chosen).parent / CONFIG_NAME  # written there by a remembered zone
        raw: dict[str, Any] = {}
        if cfg_path is not None:
            import tomllib  # only when there is a file to read: ~2 ms off every CLI start without one

            cfg_path = Path(cfg_path)
            try:
                raw = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
            except FileNotFoundError as err:
                raise ConfigError(f"{cfg_path}: configuration file not found") from err
            except tomllib.TOMLDecodeError as err:
                raise ConfigError(f"{cfg_path}: {err}") from err
        s = cls.from_mapping(raw, source=str(cfg_path) if cfg_path else "defaults")
        if cfg_path is not None:
            s = replace(s, config_path=Path(cfg_path))
            if "data_dir" in raw and not s.data_dir.is_absolute():
                # A relative data_dir in a config file means: next to that file.
                s = replace(s, data_dir=Path(cfg_path).parent / s.data_dir)
        if chosen:
            s = replace(s, data_dir=Path(chosen))
        return s

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], source: str = "settings") -> Settings:
        """Settings from a parsed ``datamgr.toml``; every unknown key or bad value is a ConfigError
        naming ``source`` (the file) and the key."""
        known = {"data_dir", "display_tz", "backup", "yahoo", "merge", "instruments", "lock_timeout", "derived"}
        unknown = set(raw) - known
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {sorted(unknown)}; expected {sorted(known)}")
        backup = _section(raw, "backup", {"keep_last", "keep_daily_days", "destinations"}, source)
        yahoo = _section(raw, "yahoo", {"auto_update"}, source)
        merge = _section(raw, "merge", {"precedence"}, source)
        derived = _section(raw, "derived", {"include_partial"}, source)
        instruments = _default_instruments()
        for ticker, table in _section(raw, "instruments", None, source).items():
            try:
                check_ticker(ticker)
            except ConfigError as err:
                raise ConfigError(f"{source}: [instruments.{ticker}]: {err}") from err
            if not isinstance(table, Mapping):
                raise ConfigError(f"{source}: [instruments.{ticker}] must be a table")
            instruments[ticker] = _instrument_from(ticker, table, instruments, source)
        kw: dict[str, Any] = {"instruments": instruments}
        for section, key, field_name, read in _SCALARS:
            table = {"": raw, "backup": backup, "yahoo": yahoo, "merge": merge, "derived": derived}[section]
            if key in table:
                where = f"{source}: " + (f"[{section}] " if section else "") + key
                kw[field_name] = read(table[key], where)
        return cls(**kw)


#: (section, key, Settings field, reader) of the scalar settings of ``datamgr.toml``
_SCALARS: tuple[tuple[str, str, str, Any], ...] = (
    ("", "data_dir", "data_dir", lambda v, w: Path(_typed(v, str, w))),
    ("", "display_tz", "display_tz", lambda v, w: _zone(v, w)),
    ("backup", "keep_last", "backup_keep_last", lambda v, w: _typed(v, int, w)),
    ("backup", "keep_daily_days", "backup_keep_daily_days", lambda v, w: _typed(v, int, w)),
    ("backup", "destinations", "backup_destinations", lambda v, w: _strings(v, w)),
    ("yahoo", "auto_update", "yahoo_auto_update", lambda v, w: _typed(v, bool, w)),
    ("merge", "precedence", "merge_precedence", lambda v, w: _strings(v, w)),
    ("derived", "include_partial", "derived_include_partial", lambda v, w: _typed(v, bool, w)),
    ("", "lock_timeout", "lock_timeout", lambda v, w: float(_typed(v, (int, float), w))),
)


def config_file_for(settings: Settings) -> Path:
    """The configuration file a remembered setting is written to: the one that was loaded, else
    ``datamgr.toml`` next to the data folder (found there by :meth:`Settings.load`)."""
    if settings.config_path is not None:
        return Path(settings.config_path)
    return Path(settings.data_dir).parent / CONFIG_NAME


def _section(raw: Mapping[str, Any], name: str, allowed: set[str] | None, source: str) -> Mapping[str, Any]:
    table = raw.get(name) or {}
    if not isinstance(table, Mapping):
        raise ConfigError(f"{source}: [{name}] must be a table")
    bad = set(table) - allowed if allowed is not None else set()
    if bad:
        raise ConfigError(f"{source}: [{name}] unknown key(s) {sorted(bad)}; expected {sorted(allowed or ())}")
    return table


def _typed(value: Any, kind: type | tuple[type, ...], where: str) -> Any:
    # bool is an int in Python: refuse it where a number is expected.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}: expected {names}, got {value!r}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    return tuple(value)


def _instrument_from(ticker: str, table: Mapping[str, Any], known: Mapping[str, Instrument],
                     source: str) -> Instrument:
    check_ticker(ticker)
    base = known.get(ticker) or replace(known["ES1"], ticker=ticker)
    allowed = {"yahoo_symbol", "calendar", "tick_size", "import_tz", "import_stamp", "sessions", "roll",
               "stale_after_sessions", "exchange", "token", "display_tz", "source"}
    bad = set(table) - allowed
    if bad:
        raise ConfigError(f"{source}: [instruments.{ticker}] unknown key(s) {sorted(bad)}")
    kw: dict[str, Any] = {k: table[k] for k in ("yahoo_symbol", "calendar") if k in table}
    kw.update(_provider_keys(ticker, table, source))
    if "tick_size" in table:
        kw["tick_size"] = float(_typed(table["tick_size"], (int, float), f"{source}: [instruments.{ticker}] tick_size"))
        if kw["tick_size"] <= 0:
            raise ConfigError(f"{source}: [instruments.{ticker}] tick_size must be > 0")
    if "stale_after_sessions" in table:
        v = _typed(table["stale_after_sessions"], (int,), f"{source}: [instruments.{ticker}] stale_after_sessions")
        if v < 0:
            raise ConfigError(f"{source}: [instruments.{ticker}] stale_after_sessions must be >= 0")
        kw["stale_after_sessions"] = int(v)
    if "import_tz" in table:
        kw["import_tz"] = _zone(table["import_tz"], f"{source}: [instruments.{ticker}] import_tz")
    for key, options in (("import_stamp", ("close", "open")), ("roll", ("volume", "after-old"))):
        if key in table:
            kw[key] = _choice(table[key], options, f"{source}: [instruments.{ticker}] {key}")
    if "sessions" in table:
        sess = table["sessions"]
        if not isinstance(sess, Mapping) or not all(isinstance(w, list) and len(w) == 2 for w in sess.values()):
            raise ConfigError(f"{source}: [instruments.{ticker}] sessions: expected {{name = [\"HH:MM\", \"HH:MM\"]}}")
        kw["sessions"] = tuple((name, str(w[0]), str(w[1])) for name, w in sess.items())
    return replace(base, **kw)


def _provider_keys(ticker: str, table: Mapping[str, Any], source: str) -> dict[str, Any]:
    """``exchange``, ``token``, ``source`` and ``display_tz`` of an ``[instruments.X]`` table."""
    kw: dict[str, Any] = {}
    for k in ("exchange", "token", "source"):
        if k in table:
            kw[k] = str(_typed(table[k], str, f"{source}: [instruments.{ticker}] {k}"))
    if kw.get("source", "yahoo") not in ("yahoo", "smartapi", "none"):
        raise ConfigError(f"{source}: [instruments.{ticker}] source must be yahoo, smartapi or none, got {kw['source']!r}")
    if "display_tz" in table:
        kw["display_tz"] = _zone(table["display_tz"], f"{source}: [instruments.{ticker}] display_tz")
    return kw


def _choice(value: Any, options: tuple[str, ...], where: str) -> str:
    if value not in options:
        raise ConfigError(f"{where}: expected {' or '.join(repr(o) for o in options)}, got {value!r}")
    return value


def _zone(name: str, where: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"{where}: unknown time zone {name!r}") from err
    return name


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database (containers)
        return os.environ.get("USERNAME") or os.environ.get("USER") or "user"
