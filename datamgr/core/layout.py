"""The data folder's layout: every path and file-name rule, both ways (name -> parts, parts -> name).

::

    <data>/ES1_1m.parquet ES1_5m.parquet ... ES1_1d.parquet      bar files   ({ticker}_{timeframe}.parquet)
    <data>/ES1_daily_hod_lod.json ES1_profiler.json ES1_level_touches.json   derived analysis
    <data>/web/ES1/index.json + chunks                          web chunks
    <data>/.derived/ES1.json                                     incremental-regeneration state
    <data>/.cache/sessions-<calendar>-<key>.parquet              session calendar cache (regenerable)
    <data>/backups/ quarantine/ live/ journal.jsonl calendar_overrides.toml .datamgr.lock

It sits in ``core`` because the calendar (below the store) reads the overrides file. Pure: no I/O.
"""

from __future__ import annotations

import re
from pathlib import Path

from datamgr.core.errors import ConfigError

TIMEFRAMES: tuple[str, ...] = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")
INTRADAY_DERIVED: tuple[str, ...] = ("5m", "15m", "1h", "4h")
#: derived JSON file kind (``{ticker}_{kind}.json``) -> label
DERIVED_JSON: dict[str, str] = {"daily_hod_lod": "HOD/LOD", "profiler": "Profiler", "level_touches": "Level touches"}
#: derived step -> JSON file kind
STEP_JSON: dict[str, str] = {"hod_lod": "daily_hod_lod", "profiler": "profiler", "levels": "level_touches"}

BACKUPS, QUARANTINE, LIVE, WEB, DERIVED_STATE = "backups", "quarantine", "live", "web", ".derived"
CACHE = ".cache"
JOURNAL, OVERRIDES, LOCK = "journal.jsonl", "calendar_overrides.toml", ".datamgr.lock"
#: entries of the data folder that are the app's own bookkeeping, not data files
INTERNAL = frozenset({BACKUPS, QUARANTINE, LIVE, JOURNAL, OVERRIDES, "README.md"})

_TICKER = r"(?P<ticker>[A-Za-z0-9.\-]+)"
BAR_RE = re.compile(r"^" + _TICKER + r"_(?P<tf>" + "|".join(TIMEFRAMES) + r")\.parquet$")
JSON_RE = re.compile(r"^" + _TICKER + r"_(?P<kind>" + "|".join(DERIVED_JSON) + r")\.json$")


def check_ticker(ticker: str) -> str:
    """Refuse tickers that could escape the data folder or break file names."""
    if not ticker or not all((c.isascii() and c.isalnum()) or c in "-." for c in ticker) or ticker.startswith("."):
        msg = f"invalid ticker {ticker!r}: use ASCII letters, digits, '-' or '.' (e.g. ES1)"
        raise ConfigError(msg)
    return ticker


def check_timeframe(timeframe: str) -> str:
    if timeframe not in TIMEFRAMES:
        msg = f"unknown timeframe {timeframe!r}; expected one of {', '.join(TIMEFRAMES)}"
        raise ConfigError(msg)
    return timeframe


def bar_name(ticker: str, timeframe: str) -> str:
    """``ES1_1m.parquet``."""
    return f"{check_ticker(ticker)}_{check_timeframe(timeframe)}.parquet"


def parse_bar_name(name: str) -> tuple[str, str] | None:
    """``("ES1", "1m")`` for ``ES1_1m.parquet``; None for any other name."""
    m = BAR_RE.match(name)
    return (m["ticker"], m["tf"]) if m else None


def parse_json_name(name: str) -> tuple[str, str] | None:
    """``("ES1", "profiler")`` for ``ES1_profiler.json``; None for any other name."""
    m = JSON_RE.match(name)
    return (m["ticker"], m["kind"]) if m else None


def json_path(data_dir: Path, ticker: str, step: str) -> Path:
    """The derived JSON file of ``step`` (``hod_lod``, ``profiler``, ``levels``)."""
    return Path(data_dir) / f"{check_ticker(ticker)}_{STEP_JSON[step]}.json"


def web_dir(data_dir: Path, ticker: str) -> Path:
    return Path(data_dir) / WEB / check_ticker(ticker)


def web_index(data_dir: Path, ticker: str) -> Path:
    return web_dir(data_dir, ticker) / "index.json"


def state_path(data_dir: Path, ticker: str) -> Path:
    return Path(data_dir) / DERIVED_STATE / f"{check_ticker(ticker)}.json"


def rows_index_path(data_dir: Path, ticker: str, step: str) -> Path:
    """Rows index of a per-day JSON output (regenerable bookkeeping, see ``datamgr.derived.rowsdoc``)."""
    return Path(data_dir) / DERIVED_STATE / f"{check_ticker(ticker)}.{step}.rows.parquet"


def web_splice_path(data_dir: Path, ticker: str) -> Path:
    """What an incremental run needs to splice the latest web chunks (regenerable bookkeeping)."""
    return Path(data_dir) / DERIVED_STATE / f"{check_ticker(ticker)}.web.splice.json"


def cache_dir(data_dir: Path) -> Path:
    """Regenerable caches of the data folder (session calendars); safe to delete."""
    return Path(data_dir) / CACHE
