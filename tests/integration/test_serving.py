"""`taskapi serve`'s HTTP protocol on a real uvicorn server and real sockets: one write per response,
and clients that half-close their connection after the request still get the answer."""

from __future__ import annotations

import asyncio
import inspect
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from uvicorn.protocols.http import httptools_impl
from uvicorn.server import ServerState

from taskapi.serving import SUPPORTED_UVICORN, SingleWriteHttpToolsProtocol, http_protocol, unsupported_uvicorn
from tests.conftest import ROOT

pytestmark = pytest.mark.anyio
ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def slow_app(seconds: float, seen: list[str] | None = None) -> ASGI:
    """Answers `ok <path>` after `seconds` (a database round trip, say); records disconnects in `seen`."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                if seen is not None:
                    seen.append("disconnect")
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await asyncio.sleep(seconds)
        payload = f"ok {scope['path']} {len(body)}".encode()
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(payload))]}
        )
        await send({"type": "http.response.body", "body": payload})

    return app


@asynccontextmanager
async def serving(app: ASGI, protocol: Any = SingleWriteHttpToolsProtocol) -> AsyncIterator[int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=protocol, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def exchange(port: int, request: bytes, *, half_close: bool = True) -> bytes:
    """Send `request`, shut the write side, and read everything until the server closes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    if half_close:
        writer.write_eof()
    try:
        return await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()


GET = b"GET /one HTTP/1.1\r\nHost: t\r\n\r\n"
POST = b"POST /two HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"


@pytest.mark.parametrize("request_bytes", [GET, POST], ids=["read", "write"])
async def test_a_half_closed_client_gets_its_response(request_bytes: bytes) -> None:
    async with serving(slow_app(0.05)) as port:
        answer = await exchange(port, request_bytes)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
    assert answer.endswith(b"ok /one 0" if request_bytes is GET else b"ok /two 5")


async def test_pipelined_requests_before_a_half_close_are_all_answered() -> None:
    async with serving(slow_app(0.02)) as port:
        answer = await exchange(port, GET + POST + GET)
    assert answer.count(b"HTTP/1.1 200 OK") == 3
    assert answer.index(b"ok /one 0") < answer.index(b"ok /two 5") < answer.rindex(b"ok /one 0")


async def test_a_request_cut_off_by_the_half_close_is_abandoned() -> None:
    seen: list[str] = []
    async with serving(slow_app(0, seen)) as port:
        answer = await exchange(port, b"POST /cut HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf")
        for _ in range(500):  # the app hears of the disconnect right after the connection closes
            if seen:
                break
            await asyncio.sleep(0.01)
    assert answer == b""
    assert seen == ["disconnect"]


async def test_keep_alive_still_works_without_a_half_close() -> None:
    async with serving(slow_app(0)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(3):
                writer.write(GET)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
                assert head.startswith(b"HTTP/1.1 200 OK")
                assert await reader.readexactly(9) == b"ok /one 0"
        finally:
            writer.close()


class FakeTransport(asyncio.Transport):
    """A connection's transport, in memory: what the server writes, and whether it closed."""

    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = asyncio.Event()

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed.set()

    def is_closing(self) -> bool:
        return self.closed.is_set()

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def _protocol(state: ServerState) -> tuple[SingleWriteHttpToolsProtocol, FakeTransport]:
    config = uvicorn.Config(slow_app(0), lifespan="off", log_level="warning")
    config.load()
    protocol = SingleWriteHttpToolsProtocol(config=config, server_state=state, app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    return protocol, transport


async def test_a_connection_made_after_shutdown_began_serves_one_request_and_closes() -> None:
    """uvicorn's race: accepted before the server stopped listening, made after it asked each connection
    to close. Stock uvicorn keeps it alive until the shutdown timeout; here it answers with
    `Connection: close` and closes, or closes at once when it sends nothing."""
    state = ServerState()
    existing, _ = _protocol(state)
    existing.shutdown()  # what uvicorn's Server.shutdown() does to every connection it has
    late, transport = _protocol(state)
    late.data_received(GET)
    await asyncio.wait_for(transport.closed.wait(), timeout=10)
    assert transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"connection: close\r\n" in transport.written.lower()
    _idle, idle_transport = _protocol(state)
    await asyncio.wait_for(idle_transport.closed.wait(), timeout=10)
    assert idle_transport.written == b""


async def test_before_shutdown_connections_stay_alive() -> None:
    protocol, transport = _protocol(ServerState())
    protocol.data_received(GET)
    for _ in range(500):
        if transport.written.endswith(b"ok /one 0"):
            break
        await asyncio.sleep(0.01)
    assert b"connection: close" not in transport.written.lower()
    assert not transport.closed.is_set()
    protocol.connection_lost(None)


def test_the_uvicorn_internals_serving_relies_on_are_still_there() -> None:
    source = inspect.getsource(httptools_impl)
    for needle in (
        "def connection_made(",
        "def eof_received(self) -> None:\n        pass",
        "def on_response_complete(self)",
        "def on_headers_complete(self)",
        "def shutdown(self)",
        "self.cycle.keep_alive = False",
        "self.server_state = server_state",
        "on_response=self.on_response_complete",
        "self.pipeline",
        "self.cycle.more_body = False",
        "self.response_complete = True",
    ):
        assert needle in source, (
            f"uvicorn {uvicorn.__version__} changed HttpToolsProtocol ({needle!r} is gone): taskapi/serving.py "
            "relies on it; fix serving.py, or serve with TASKAPI_HTTP_PROTOCOL=uvicorn meanwhile"
        )
    assert unsupported_uvicorn() is None


def test_pyproject_pins_uvicorn_to_the_checked_series() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    [pin] = [Requirement(text) for text in project["dependencies"] if Requirement(text).name == "uvicorn"]
    (low_major, low_minor), (high_major, high_minor) = SUPPORTED_UVICORN
    assert pin.specifier == SpecifierSet(f">={low_major}.{low_minor}.0,<{high_major}.{high_minor}"), pin


def test_an_unchecked_uvicorn_falls_back_to_stock() -> None:
    assert unsupported_uvicorn("0.55.0") is not None
    assert unsupported_uvicorn("1.0") is not None
    assert unsupported_uvicorn("0.54.9") is None
    assert http_protocol("uvicorn") == "httptools"
    assert http_protocol("single-write") is SingleWriteHttpToolsProtocol


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
