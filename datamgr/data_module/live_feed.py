"""``LiveDataFeed`` of the second requirements document: the live controller with its defaults.

The process control, the feed file and the sources are :mod:`datamgr.live` (one controller for the
app, the CLI and scripts). This adds what the document's scripts expect of ``get_live_feed()``:
a feed that needs no arguments (source and symbols from the environment, default Angel One
SmartAPI with NIFTY and BANKNIFTY, the document's subscription) and, for SmartAPI, a login by
client code + PIN + TOTP when no session token is in the environment: the JWT and feed token are
handed to the feed process through its environment only (never its command line, a file or a log).
"""

from __future__ import annotations

import logging
import os

from datamgr.core.config import Settings
from datamgr.ingest.smartapi import SmartApiHistory
from datamgr.live.controller import LiveDataFeed as _Controller
from datamgr.live.quotes.smartapi import CREDENTIALS

log = logging.getLogger(__name__)
SOURCE_ENV, SYMBOLS_ENV = "DATAMGR_LIVE_SOURCE", "DATAMGR_LIVE_SYMBOLS"
DEFAULT_SOURCE, DEFAULT_SYMBOLS = "smartapi", ("NIFTY", "BANKNIFTY")


class LiveDataFeed(_Controller):
    """The live controller (:class:`datamgr.live.controller.LiveDataFeed`) with the document's defaults.

    Parameters
    ----------
    settings : Settings, optional
        The data folder (default: the configured one).
    source : str, optional
        ``smartapi``, ``yahoo`` or ``replay``; default env ``DATAMGR_LIVE_SOURCE`` or ``smartapi``.
    symbols : list of str, optional
        Default env ``DATAMGR_LIVE_SYMBOLS`` (comma-separated) or NIFTY, BANKNIFTY.
    **options
        Passed to the controller (``interval``, ``speed``, ``url``, backoff).
    """

    def __init__(self, settings: Settings | None = None, source: str | None = None,
                 symbols: list[str] | tuple[str, ...] | None = None, **options) -> None:
        source = source or os.environ.get(SOURCE_ENV) or DEFAULT_SOURCE
        if symbols is None:
            raw = os.environ.get(SYMBOLS_ENV)
            symbols = [s.strip() for s in raw.split(",") if s.strip()] if raw else list(DEFAULT_SYMBOLS)
        super().__init__(settings or Settings.load(), source, symbols, **options)
        self._session_env: dict[str, str] = {}

    def start_feed(self, timeout: float = 15.0) -> bool:
        """Start the feed process (see the controller); logs in to SmartAPI first when needed."""
        if self.source == "smartapi" and not self.is_running() and not os.environ.get(CREDENTIALS["Authorization"]):
            client = SmartApiHistory()
            client.login()
            self._session_env = {CREDENTIALS["Authorization"]: f"Bearer {client.session_token}",
                                 CREDENTIALS["x-feed-token"]: client.feed_token or "",
                                 CREDENTIALS["x-api-key"]: client.api_key,
                                 CREDENTIALS["x-client-code"]: client.client_code}
        return super().start_feed(timeout)

    def _env(self) -> dict[str, str]:
        return {**super()._env(), **self._session_env}
