"""How `taskapi serve` runs uvicorn: its httptools protocol over a transport that sends each response in
one write, and that answers a client which half-closes its connection after its request.

It also closes a race of uvicorn's graceful shutdown: a connection accepted just before the server
stops listening but made just after it asked every connection to close was never asked, and kept
serving with keep-alive until the shutdown timeout, by when the database pool was closing.

This subclasses uvicorn's `HttpToolsProtocol` and relies on a few of its internals: `connection_made`
(where the transport is wrapped), `eof_received`, `on_response_complete`, `on_headers_complete`,
`shutdown`, and the `cycle` (with `more_body`, `response_complete` and `keep_alive`), `pipeline` and
`server_state` attributes. pyproject.toml pins uvicorn to the series these were checked against
(`SUPPORTED_UVICORN`); on any other series `http_protocol()` falls back to stock uvicorn with a warning,
and tests/integration/test_serving.py fails naming what changed. `TASKAPI_HTTP_PROTOCOL=uvicorn`
chooses stock uvicorn outright.
"""

from __future__ import annotations

import asyncio
import logging
import re
import weakref
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The uvicorn releases this module was checked against: at least the first, below the second.
SUPPORTED_UVICORN = ((0, 54), (0, 55))
# Past this, pending bytes are sent at once instead of at the end of the loop's turn.
_MAX_PENDING = 64 * 1024
# How long a connection made during shutdown may take to send its request.
_LATE_GRACE_SECONDS = 0.1
# uvicorn's per-server state of the servers that have begun to shut down (they call shutdown() on each
# connection they have); weak, so a finished server's state is not kept.
_shutting_down: weakref.WeakSet[Any] = weakref.WeakSet()

logger = logging.getLogger("taskapi.serving")


class CoalescingTransport(asyncio.Transport):
    """A transport that collects what is written during one turn of the event loop and sends it with
    one write at the end of the turn (or when it grows past 64 KiB, or on close).

    uvicorn writes a response's status line and headers, then its body: two `send()` calls and, with
    TCP_NODELAY, two packets per response. The second costs about as much as serving a small request
    (bench/README.md, "What each change bought").
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))
        self._pending_size += len(data)
        if self._pending_size >= _MAX_PENDING:
            self.flush()

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what is pending now."""
        if not self._pending:
            return
        pending, self._pending, self._pending_size = self._pending, [], 0
        if self._transport.is_closing():
            return  # the connection is gone (uvloop's transports raise on a write after close)
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_size = [], 0
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_size

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)


class SingleWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`, answering half-closed clients.

    A client may shut its write side once its request is sent (`shutdown(SHUT_WR)`: socat, some proxies
    and load testers do). Stock uvicorn lets asyncio close the connection at that end-of-input, so a
    response not written by then is lost although the request was served. Here the connection stays
    open until every request received whole has its response, then closes.
    """

    _half_closed = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))
        if self.server_state in _shutting_down:
            # Made after the server asked its connections to close: one request at most, then close.
            self.loop.call_later(_LATE_GRACE_SECONDS, self._close_if_idle)

    def shutdown(self) -> None:
        _shutting_down.add(self.server_state)
        super().shutdown()

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        if self.server_state in _shutting_down and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with `Connection: close`, then closed

    def _close_if_idle(self) -> None:
        if self.cycle is None and not self.transport.is_closing():
            self.transport.close()

    def eof_received(self) -> bool:  # type: ignore[override]  # asyncio.Protocol allows a bool
        """The client will send nothing more: keep the connection open (True) while a response is owed
        for a request that arrived whole; otherwise let asyncio close it (an unfinished request is
        abandoned, as stock uvicorn abandons it)."""
        cycle = self.cycle
        owed = cycle is not None and not cycle.response_complete and not cycle.more_body
        self._half_closed = owed
        if not owed and isinstance(self.transport, CoalescingTransport):
            self.transport.flush()
        return owed

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._half_closed and not self.pipeline and (self.cycle is None or self.cycle.response_complete):
            self.transport.close()


def _series(version: str) -> tuple[int, int]:
    found = re.match(r"(\d+)(?:\.(\d+))?", version)
    return (int(found.group(1)), int(found.group(2) or 0)) if found else (0, 0)


def unsupported_uvicorn(version: str = uvicorn.__version__) -> str | None:
    """Why `SingleWriteHttpToolsProtocol` must not run on this uvicorn, or None when it may."""
    low, high = SUPPORTED_UVICORN
    if not low <= _series(version) < high:
        supported = f">={low[0]}.{low[1]},<{high[0]}.{high[1]}"
        return f"uvicorn {version} is not the series taskapi.serving was checked against ({supported})"
    return None


def http_protocol(choice: str) -> type[asyncio.Protocol] | str:
    """What `taskapi serve` gives uvicorn as `http`: the single-write protocol, or stock httptools when
    `choice` is "uvicorn" or this uvicorn is not a supported one (with a warning)."""
    if choice == "uvicorn":
        return "httptools"
    reason = unsupported_uvicorn()
    if reason is not None:
        logger.warning("%s: serving with stock uvicorn (two writes per response)", reason)
        return "httptools"
    return SingleWriteHttpToolsProtocol
