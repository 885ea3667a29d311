"""Live quote sources: the common WebSocket plumbing and the quote type.

A source delivers quotes (dicts with the fields of :data:`datamgr.live.files.QUOTE_FIELDS`)
through ``on_quote``. :meth:`stream` runs ONE connection: it returns when ``stop`` is set and
raises :class:`~datamgr.core.errors.SourceError` when the connection fails or drops; the feed process
reconnects with backoff. :meth:`close` interrupts a blocking stream from another thread.
Sources: :mod:`.replay` (a stored 1m master), :mod:`.yahoo` (Yahoo streaming), :mod:`.smartapi`
(Angel One SmartAPI WebSocket V2); :func:`datamgr.live.quotes.factory.make_source` picks one.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
Quote = dict[str, Any]


class WebSocketSource:
    """What the WebSocket sources share: the open socket, closed from another thread."""

    name = "websocket"
    _ws: Any = None

    def close(self) -> None:
        """Close the WebSocket (unblocks ``stream`` from another thread)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                ws.close()
            except Exception as err:  # closing a broken socket: nothing left to do
                log.debug("%s: close: %s", self.name, err)


def _num(v: Any) -> float | None:
    return float(v) if v is not None else None


