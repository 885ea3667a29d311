"""The second requirements document's Data Module: ``get_live_feed``, ``get_historical_manager``,
``get_data_processor`` (also importable as ``from datamgr import ...``).

The factories return shared instances bound to the configured data folder (``Settings.load()``:
``--data-dir`` / ``DATAMGR_DATA_DIR`` / ``datamgr.toml`` / ``./data``). :func:`configure` rebinds
them (another folder, a pinned clock for tests, an injected SmartAPI client, live-feed options)
and drops the shared instances. Components:

* :class:`~datamgr.data_module.live_feed.LiveDataFeed`: the live controller (subprocess feed,
  ``live/live_feed_data.json``) with the document's defaults;
* :class:`~datamgr.data_module.historical.HistoricalDataManager`: SmartAPI history into the
  Parquet store (+ CSV exports), late-start backfill;
* :class:`~datamgr.data_module.processor.DataProcessor`: validation, market hours, resampling,
  TTL cache.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

from datamgr.core.config import Settings
from datamgr.data_module.historical import INTERVALS, HistoricalDataManager
from datamgr.data_module.live_feed import LiveDataFeed
from datamgr.data_module.processor import DataProcessor
from datamgr.ingest.smartapi import SmartApiHistory

__all__ = ["INTERVALS", "DataProcessor", "HistoricalDataManager", "LiveDataFeed", "configure",
           "get_data_processor", "get_historical_manager", "get_live_feed"]

_guard = threading.Lock()
_config: dict[str, Any] = {}
_shared: dict[str, Any] = {}


def configure(data_dir: str | None = None, *, settings: Settings | None = None,
              clock: Callable[[], dt.datetime] | None = None, history_source: SmartApiHistory | None = None,
              cache_clock: Callable[[], float] | None = None, live_source: str | None = None,
              live_symbols: list[str] | None = None, **live_options: Any) -> None:
    """Bind the factories to a data folder and options; the next ``get_*`` call builds new instances.

    Parameters
    ----------
    data_dir : str, optional
        Data folder (else ``settings``, else the configured one).
    settings : Settings, optional
    clock : callable, optional
        "Now" (aware datetime) for the historical manager (tests pin it).
    history_source : SmartApiHistory, optional
        The SmartAPI client (default: from the environment).
    cache_clock : callable, optional
        Unix seconds for the processor's cache TTL.
    live_source, live_symbols, **live_options
        The live feed's source, symbols and controller options (``interval``, ``speed``, ``url``...).
    """
    with _guard:
        _config.clear()
        _config.update(data_dir=data_dir, settings=settings, clock=clock, history_source=history_source,
                       cache_clock=cache_clock, live_source=live_source, live_symbols=live_symbols,
                       live_options=live_options)
        _shared.clear()


def _settings() -> Settings:
    if _config.get("settings") is not None:
        return _config["settings"]
    return Settings.load(data_dir=_config.get("data_dir"))


def get_data_processor() -> DataProcessor:
    """The shared :class:`DataProcessor` (its resampled files are saved by the shared manager)."""
    return get_historical_manager().processor


def get_historical_manager() -> HistoricalDataManager:
    """The shared :class:`HistoricalDataManager` of the configured data folder."""
    with _guard:
        if "history" not in _shared:
            settings = _settings()
            kw = {"clock": _config["cache_clock"]} if _config.get("cache_clock") else {}
            processor = DataProcessor(settings, **kw)
            _shared["history"] = HistoricalDataManager(settings=settings, source=_config.get("history_source"),
                                                       clock=_config.get("clock"), processor=processor)
        return _shared["history"]


def get_live_feed() -> LiveDataFeed:
    """The shared :class:`LiveDataFeed` of the configured data folder."""
    with _guard:
        if "live" not in _shared:
            _shared["live"] = LiveDataFeed(_settings(), _config.get("live_source"), _config.get("live_symbols"),
                                           **(_config.get("live_options") or {}))
        return _shared["live"]
