"""A WebSocket server on 127.0.0.1 speaking Yahoo's streaming protocol (for the live-feed tests).

Protocol (as yfinance's ``yfinance.live`` client speaks it): the client sends
``{"subscribe": [symbols]}`` as JSON text; the server sends JSON text frames
``{"type": "pricing", "message": <base64 of a PricingData protobuf>}``.

``drop_after``: close each connection after that many messages (the server "drops" clients);
``reject_first``: refuse the first N handshakes with HTTP 503 (connection attempts that fail).
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from yfinance.pricing_pb2 import PricingData

BASE_MS = 1_763_700_000_000  # a fixed exchange time (2025-11-21 ~04:40 UTC)


def pricing_frame(symbol: str, price: float, n: int) -> str:
    msg = PricingData(id=symbol, price=price, time=BASE_MS + n * 1000, exchange="CME", open_price=6000.0,
                      day_high=max(price, 6010.0), day_low=min(price, 5990.0), day_volume=1000 + n)
    return json.dumps({"type": "pricing", "message": base64.b64encode(msg.SerializeToString()).decode()})


class YahooStreamer:
    def __init__(self, drop_after: int | None = None, reject_first: int = 0, period: float = 0.02) -> None:
        self.drop_after, self.reject_first, self.period = drop_after, reject_first, period
        self.attempts: list[float] = []       # monotonic time of every connection attempt
        self.subscriptions: list[list[str]] = []
        self.sent = 0
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/?version=2"

    def __enter__(self) -> YahooStreamer:
        self._thread.start()
        assert self._ready.wait(10), "server did not start"
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _process_request(self, connection, request):
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= self.reject_first:
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "busy\n")
        return None

    async def _handler(self, ws) -> None:
        sub = json.loads(await ws.recv())
        symbols = sub["subscribe"]
        self.subscriptions.append(symbols)
        n = 0
        try:
            while self.drop_after is None or n < self.drop_after:
                self.sent += 1
                for s in symbols:
                    await ws.send(pricing_frame(s, 6000.0 + self.sent * 0.25, self.sent))
                n += 1
                await asyncio.sleep(self.period)
        except ConnectionClosed:  # the client went away (feed stopped): nothing to do
            return
        await ws.close()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0, process_request=self._process_request) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
