"""Pick a live quote source by name."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from datamgr.core.config import Settings
from datamgr.core.errors import ConfigError
from datamgr.live.quotes.replay import ReplaySource
from datamgr.live.quotes.smartapi import SmartApiSource
from datamgr.live.quotes.yahoo import YahooSource

SOURCES = ("replay", "yahoo", "smartapi")


def make_source(settings: Settings, name: str, symbols: list[str], *, speed: float = 60.0,
                url: str | None = None, start: dt.datetime | None = None, env: Mapping[str, str] | None = None):
    """The source called ``name`` (``replay``, ``yahoo`` or ``smartapi``); ``env``: the environment the feed
    process will get (SmartAPI credentials are checked in it)."""
    if not symbols:
        raise ConfigError("live feed: give at least one symbol (--symbols)")
    if name == "replay":
        return ReplaySource(settings, symbols, speed=speed, start=start)
    if name == "yahoo":
        return YahooSource(settings, symbols, url=url)
    if name == "smartapi":
        return SmartApiSource(settings, symbols, url=url, env=env)
    raise ConfigError(f"unknown live source {name!r}; expected one of {', '.join(SOURCES)}")
