"""Live quote sources: the common WebSocket plumbing and the quote type.

A source delivers quotes (dicts with the fields of :data:`datamgr.live.files.QUOTE_FIELDS`)
through ``on_quote``. :meth:`stream` runs ONE connection: it returns when ``stop`` is set and
raises :class:`~datamgr.core.errors.SourceError` when the connection fails or drops; the feed process
reconnects with backoff. :meth:`close` interrupts a blocking stream from another thread.
Sources: :mod:`.replay` (a stored 1m master), :mod:`.yahoo` (Yahoo streaming), :mod:`.smartapi`
(Angel One SmartAPI WebSocket V2); :func:`datamgr.live.quotes.factory.make_source` picks one.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from datamgr.core.timefmt import to_et_iso
from datamgr.live.files import exchange_stamp

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




def quote_times(t: dt.datetime | None, tz: str) -> dict[str, str | None]:
    """A quote's exchange time in the document's style (``01-Jan-2024 09:15:30`` in ``tz``) and as
    ISO 8601 with offset (``exchange_time_iso``)."""
    if t is None:
        return {"exchange_timestamp": None, "exchange_time_iso": None}
    return {"exchange_timestamp": exchange_stamp(t, tz), "exchange_time_iso": to_et_iso(t, tz)}
