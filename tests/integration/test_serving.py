"""`taskapi serve`'s HTTP protocol on a real uvicorn server and real sockets: one write per response,
clients that half-close their connection after the request still get the answer, and the limits it
holds connections to (what the live server does with them: tests/contract/test_limits.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import json
import socket
import time
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

from taskapi.serving import (
    SUPPORTED_UVICORN,
    ConnectionLimits,
    SingleWriteHttpToolsProtocol,
    http_protocol,
    unsupported_uvicorn,
)
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

    def can_write_eof(self) -> bool:
        return False


def _protocol(
    state: ServerState, limits: ConnectionLimits | None = None, app: ASGI | None = None
) -> tuple[SingleWriteHttpToolsProtocol, FakeTransport]:
    config = uvicorn.Config(app or slow_app(0), lifespan="off", log_level="warning")
    config.load()
    protocol = SingleWriteHttpToolsProtocol(config=config, server_state=state, app_state={}, limits=limits)
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
        "def data_received(self, data: bytes) -> None:\n        self._unset_keepalive_if_required()",
        "self.parser.feed_data(data)",
        "except httptools.HttpParserUpgrade:",
        "def on_message_begin(self)",
        "def on_url(self, url: bytes) -> None:\n        self.url += url\n\n",
        "    def on_header(self, name: bytes, value: bytes) -> None:\n"
        "        name = name.lower()\n"
        '        if name == b"expect" and value.lower() == b"100-continue":\n'
        "            self.expect_100_continue = True\n"
        "        self.headers.append((name, value))\n\n",
        "def on_message_complete(self)",
        "def connection_lost(self, exc: Exception | None)",
        "self.cycle.disconnected = True",
        "self.cycle.message_event.set()",
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


LIMITS = ConnectionLimits(
    max_url_bytes=1024,
    max_header_bytes=2048,
    max_body_bytes=65536,
    header_timeout=0.3,
    body_timeout=0.3,
    max_connections=100,
)


def recording_app(seen: list[str]) -> ASGI:
    """Answers 200 to anything, recording the paths it was asked for."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    return app


def head_and_problem(answer: bytes) -> tuple[bytes, dict[str, Any]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    head += b"\r\n"
    assert b"\r\ncontent-type: application/problem+json\r\n" in head
    assert b"\r\nconnection: close\r\n" in head
    assert b"\r\nx-request-id: " in head
    return head, json.loads(body)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"GET /" + b"u" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 60_000 + b"\r\n\r\n", 431),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: %s\r\n" % (n, b"v" * 50) for n in range(50)) + b"\r\n", 431),
        (b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 60_000, 431),  # unfinished: not waited for
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # a TLS hello
    ],
    ids=["url", "one-field", "many-fields", "unfinished-field", "not-http"],
)
async def test_the_protocol_refuses_a_head_over_the_limits_before_the_app_sees_it(
    request_bytes: bytes, status: int
) -> None:
    seen: list[str] = []
    async with serving(recording_app(seen), http_protocol("single-write", LIMITS)) as port:
        answer = await exchange(port, request_bytes, half_close=False)
    head, problem = head_and_problem(answer)
    assert head.startswith(b"HTTP/1.1 %d " % status), head
    assert problem["status"] == status
    assert seen == []


async def test_a_head_within_the_limits_is_served() -> None:
    seen: list[str] = []
    fields = b"".join(b"X-%d: %s\r\n" % (n, b"v" * 50) for n in range(30))  # 30 × 53 = 1,590 bytes
    async with serving(recording_app(seen), http_protocol("single-write", LIMITS)) as port:
        answer = await exchange(port, b"GET /" + b"u" * 1000 + b" HTTP/1.1\r\n" + fields + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert seen == ["/" + "u" * 1000]


async def test_a_header_arriving_in_pieces_is_refused_within_a_slice_of_the_limit() -> None:
    protocol, transport = _protocol(ServerState(), LIMITS)
    protocol.data_received(b"GET / HTTP/1.1\r\nX-Big: ")
    fed = 0
    while not transport.written:
        protocol.data_received(b"b" * 100)
        fed += 100
        assert fed < 1_000_000
    assert LIMITS.max_header_bytes < fed <= LIMITS.max_header_bytes + 100
    assert transport.written.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    protocol.connection_lost(None)


@pytest.mark.serial  # a window of the wall clock around the protocol's timer: the machine to itself
async def test_an_answer_before_the_body_was_read_is_followed_by_a_lingering_close() -> None:
    """After an answer to a request it has not read (here the app's 413), the server shuts its side (FIN),
    goes on reading (and discarding) what the client still sends, and closes after `linger_seconds`.
    Closing at once with unread input would send a reset, which can destroy the answer in the client."""

    async def refusing(scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"3"), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": b"413"})

    class QuickLinger(SingleWriteHttpToolsProtocol):
        linger_seconds = 0.5

    async with serving(refusing, QuickLinger) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n" + b"x" * 65536)
            answer = b""
            while chunk := await asyncio.to_thread(sock.recv, 65536):  # up to the server's FIN
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 413 ") and answer.endswith(b"\r\n\r\n413")
            shut_at = time.monotonic()
            sent = 0
            try:
                while time.monotonic() - shut_at < 3:
                    await asyncio.to_thread(sock.sendall, b"x" * 65536)
                    sent += 65536
            except OSError:
                pass
    assert sent > 1_000_000  # the server kept reading after its answer…
    assert time.monotonic() - shut_at < 2  # …and then closed


@pytest.mark.serial  # a window of the wall clock around the protocol's timer: the machine to itself
async def test_a_body_answered_before_it_was_read_is_read_on_only_up_to_the_limit() -> None:
    """The app answers (401, say) without reading a chunked body that does not end: the connection is kept
    for the next request while the rest of the body is read and thrown away, but only up to the body
    limit; then it is closed (lingering), long before the body timeout would drop it."""

    class QuickLinger(SingleWriteHttpToolsProtocol):
        linger_seconds = 0.2

    seen: list[str] = []
    protocol = functools.partial(QuickLinger, limits=dataclasses.replace(LIMITS, body_timeout=30))
    chunk = b"4000\r\n" + b"x" * 16384 + b"\r\n"

    def send_until_closed(sock: socket.socket) -> bool:
        """Whether the server closed the connection within 10 s."""
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                sock.sendall(chunk)
        except OSError:
            return True
        return False

    async with serving(recording_app(seen), protocol) as port:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk)
            assert (await asyncio.to_thread(sock.recv, 65536)).startswith(b"HTTP/1.1 200 OK\r\n")
            started = time.monotonic()
            assert await asyncio.to_thread(send_until_closed, sock)
    assert seen == ["/"]
    assert time.monotonic() - started < 3  # not the 30 s body timeout


@pytest.mark.serial  # a window of the wall clock around the protocol's timer: the machine to itself
async def test_a_slow_app_does_not_make_a_client_late() -> None:
    """The body timeout counts while the server reads: a body it stopped reading because the app has not
    taken it yet (uvicorn pauses past 64 KiB) does not get the client dropped."""

    async def late_reader(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await asyncio.sleep(1)  # three body timeouts
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        payload = b"%d" % len(body)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(payload))]}
        )
        await send({"type": "http.response.body", "body": payload})

    async with serving(late_reader, http_protocol("single-write", LIMITS)) as port:
        answer = await exchange(port, b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 500000\r\n\r\n" + b"x" * 500_000)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"500000")


@pytest.mark.serial  # a window of the wall clock around the protocol's timer: the machine to itself
async def test_a_client_that_stops_sending_its_body_is_dropped() -> None:
    seen: list[str] = []
    async with serving(slow_app(0, seen), http_protocol("single-write", LIMITS)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b""
        writer.close()
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
    assert 0.25 < time.monotonic() - started < 1
    assert seen == ["disconnect"]


async def test_past_the_connection_cap_a_request_is_503() -> None:
    state = ServerState()
    limits = dataclasses.replace(LIMITS, header_timeout=5, body_timeout=5, max_connections=1)
    first, first_transport = _protocol(state, limits)
    second, transport = _protocol(state, limits)
    second.data_received(GET)
    await asyncio.wait_for(transport.closed.wait(), timeout=5)
    head, problem = head_and_problem(transport.written)
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nretry-after: 1\r\n" in head
    assert problem["status"] == 503
    first.data_received(GET)
    for _ in range(500):
        if first_transport.written.endswith(b"ok /one 0"):
            break
        await asyncio.sleep(0.01)
    assert first_transport.written.startswith(b"HTTP/1.1 200 OK\r\n")
    for protocol in (first, second):
        protocol.connection_lost(None)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
