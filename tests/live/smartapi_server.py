"""A WebSocket server on 127.0.0.1 speaking Angel One's SmartAPI WebSocket V2 (for the tests).

It checks the four credential headers (HTTP 401 otherwise), reads the JSON subscription, then
sends little-endian QUOTE-mode packets for every subscribed token and answers ``ping`` with
``pong``. ``drop_after`` closes each connection after that many rounds.
"""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

CREDS = {"Authorization": "Bearer test-jwt", "x-api-key": "key1", "x-client-code": "C123", "x-feed-token": "feed9"}
ENV = {"DATAMGR_SMARTAPI_JWT": "Bearer test-jwt", "DATAMGR_SMARTAPI_API_KEY": "key1",
       "DATAMGR_SMARTAPI_CLIENT_CODE": "C123", "DATAMGR_SMARTAPI_FEED_TOKEN": "feed9"}
BASE_MS = 1_763_700_000_000


def quote_packet(exchange: int, token: str, ltp_paise: int, n: int) -> bytes:
    head = struct.pack("<BB25sqqq", 2, exchange, token.encode(), n, BASE_MS + n * 1000, ltp_paise)
    return head + struct.pack("<qqqddqqqq", 50, ltp_paise, 10_000 + n, 1.0, 2.0, 2_400_000, 2_450_000,
                              2_390_000, 2_410_000)


class SmartStream:
    def __init__(self, drop_after: int | None = None, period: float = 0.02, creds: dict[str, str] | None = None) -> None:
        self.drop_after, self.period = drop_after, period
        self.creds = creds or CREDS
        self.subscriptions: list[dict] = []
        self.rejected = 0
        self.pings = 0
        self.port = 0
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/smart-stream"

    def __enter__(self) -> SmartStream:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _process_request(self, connection, request):
        if any(request.headers.get(k) != v for k, v in self.creds.items()):
            self.rejected += 1
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Invalid headers\n")
        return None

    async def _reader(self, ws) -> None:
        async for msg in ws:
            if msg == "ping":
                self.pings += 1
                await ws.send("pong")

    async def _handler(self, ws) -> None:
        sub = json.loads(await ws.recv())
        self.subscriptions.append(sub)
        reader = asyncio.create_task(self._reader(ws))
        n = 0
        try:
            while self.drop_after is None or n < self.drop_after:
                n += 1
                for group in sub["params"]["tokenList"]:
                    for token in group["tokens"]:
                        await ws.send(quote_packet(group["exchangeType"], token, 2_400_000 + 25 * n, n))
                await asyncio.sleep(self.period)
            await ws.close()
        except ConnectionClosed:
            pass
        finally:
            reader.cancel()

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        async with serve(self._handler, "127.0.0.1", 0, process_request=self._process_request) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop.wait()
