"""datamgr: market-data management for futures traders (library; never imports Streamlit).

The house plan: one package per concern, arrows pointing down only (tests/test_architecture.py
enforces the layers, the forbidden arrows and "no import cycles")::

    core/         config (Settings), layout (every path and file-name rule), schema, errors,
                  timefmt, progress                                        imports nothing of datamgr
    calendar/     sessions (eras, SessionCalendar), overrides (read)       core
    store/        store (the verified atomic write), atomic, backup, journal, merge
    ingest/       files and providers -> frames in the canonical schema:
                  ninjatrader/ (parse, place, verify), tradingview, draft (ImportDraft: parse once,
                  describe/verify/overlap/plan), yahoo, validate (quarantine rules), base
    health/       read-only answers: gaps, quiet (the quiet-minute model), staleness, integrity,
                  report
    derived/      resample, steps (one registry), regenerate, lineage, hod_lod, profiler, levels,
                  web_chunks
    live/         controller, feed (the process), files, quotes/ (base, replay, yahoo, smartapi)
    ops/          use cases that orchestrate the layers below: import_export (commit), remember
                  (zones into datamgr.toml), update, restore, acknowledge, cloud_backup, demo,
                  inventory, jobs, ranges (export / delete a range, the Chart page's bars)
    plots/        figures and display tables for the pages (health, derived, yahoo, imports, chart,
                  tables)
    data_module/  the second requirements document's facade (LiveDataFeed, HistoricalDataManager,
                  DataProcessor)
    cli/          main + one module per command (imported explicitly in cli/main.py)

Layers: core (0) <- calendar (1) <- store (2) <- ingest / health / derived / live (3) <- ops / plots
(4) <- data_module (5) <- cli (6); the Streamlit pages (app_pages/) sit beside cli and call one
function of ops, plots or below per action. Never: core or calendar importing store; store importing
anything above it; ingest importing derived (ops runs "after a master write"); the library importing
streamlit. Data flows one way: source -> frame in the canonical schema -> validate -> plan ->
store (backup + atomic write + journal) -> derived.

Function-local imports are kept only for optional heavy dependencies (pandas_market_calendars,
yfinance, websockets, pandas), each with a one-line reason.
"""

from __future__ import annotations

__version__ = "0.1.0"
_FACTORIES = ("get_live_feed", "get_historical_manager", "get_data_processor")


def __getattr__(name: str):
    """``from datamgr import get_live_feed, get_historical_manager, get_data_processor``, imported on first
    use so that ``import datamgr`` stays light (no pandas, no polars) and no package imports its parent."""
    if name in _FACTORIES:
        import importlib  # the data module loads pandas and polars: only when a factory is asked for

        return getattr(importlib.import_module("datamgr.data_module"), name)
    raise AttributeError(f"module 'datamgr' has no attribute {name!r}")


__all__ = ["__version__", *_FACTORIES]
