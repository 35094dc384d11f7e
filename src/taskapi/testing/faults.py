"""A TCP proxy that a test breaks on purpose: in front of Redis or PostgreSQL, it forwards, refuses (a
server that is down) or stalls (a server that accepts connections and never answers), switched while
the code under test holds connections through it. It runs in a thread of its own, with its own event
loop, so in-process apps and live servers alike can be pointed at it.

    with FaultyProxy(("127.0.0.1", 6379)) as proxy:
        settings = Settings(redis_url=f"redis://127.0.0.1:{proxy.port}/0", ...)
        proxy.stall()    # what is sent from now on reaches nobody, and nothing comes back
        proxy.refuse()   # every connection is closed, new ones at once
        proxy.forward()  # a working server again
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Mode = Literal["forward", "refuse", "stall"]
_CHUNK = 65536


class FaultyProxy:
    """A TCP proxy from a free 127.0.0.1 port to `upstream` (see the module docstring). `connections`
    counts the connections it has accepted: how often the code under test tried the server."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = 0
        self.connections = 0
        self._mode: Mode = "forward"
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="faulty-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._flowing: asyncio.Event | None = None
        self._open: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        self._call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        self._call(self._stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    @property
    def mode(self) -> Mode:
        return self._mode

    def forward(self) -> None:
        """Forward both ways (what was held while stalled goes on its way)."""
        self._call(self._switch("forward"))

    def refuse(self) -> None:
        """Close every connection, and each new one as soon as it is accepted: the server is down."""
        self._call(self._switch("refuse"))

    def stall(self) -> None:
        """Accept connections, forward nothing either way: the server never answers."""
        self._call(self._switch("stall"))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    async def _start(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self._close_all()

    async def _switch(self, mode: Mode) -> None:
        assert self._flowing is not None  # noqa: S101 - started in __enter__
        self._mode = mode
        if mode == "forward":
            self._flowing.set()
            return
        self._flowing.clear()
        if mode == "refuse":
            self._close_all()

    def _close_all(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._mode == "refuse":
            client_writer.transport.abort()
            return
        self._open.add(client_writer)
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._open.discard(client_writer)
            client_writer.transport.abort()
            return
        self._open.add(server_writer)
        pumps = [
            asyncio.create_task(self._pump(client_reader, server_writer)),
            asyncio.create_task(self._pump(server_reader, client_writer)),
        ]
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        for pump in pumps:
            pump.cancel()
        for writer in (client_writer, server_writer):
            self._open.discard(writer)
            writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None  # noqa: S101 - started in __enter__
        try:
            while data := await reader.read(_CHUNK):
                await self._flowing.wait()  # stalled: held here, never delivered while it lasts
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            return
