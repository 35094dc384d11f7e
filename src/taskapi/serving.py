"""How `taskapi serve` runs uvicorn: its httptools protocol over a transport that sends each response in
one write, and that answers a client which half-closes its connection after its request.

It also closes a race of uvicorn's graceful shutdown: a connection accepted just before the server
stops listening but made just after it asked every connection to close was never asked, and kept
serving with keep-alive until the shutdown timeout, by when the database pool was closing.

And it holds each connection to `ConnectionLimits` (README.md, "Limits"), which stock uvicorn does not:

- a request target over `max_url_bytes` is answered 414 and header fields over `max_header_bytes` 431
  while they arrive, so the server never buffers more than the limit and a slice (`_SLICE`) of them;
- a connection that has not sent a request's headers within `header_timeout`, or its body within
  `body_timeout` of them, is dropped (slowloris); an idle keep-alive connection is closed by uvicorn;
- past `max_connections` connections in this worker, a new one is answered 503 with Retry-After and closed;
- a body the app answered without reading is read on (to keep the connection) up to `max_body_bytes`, and
  the connection closed past that (the app itself refuses bodies over the limit: middleware.RequestLimits);
- bytes that are not HTTP/1.1 get 400.

These answers are problem+json with an `X-Request-ID`, have a line in the access log and are counted by the
contract recorder when it is on (taskapi.recorder), like the app's (stock uvicorn answers a malformed
request with a text/plain 400, and a full worker with a text/plain 503).
Whenever the server closes a connection whose request it has not read to the end (these answers, and the
app's 413), it shuts its side first and reads what is still coming for a moment (`linger_seconds`) before
closing (RFC 9112, section 9.6): closing with unread input makes the kernel reset the connection, and the
client may lose the answer.

This subclasses uvicorn's `HttpToolsProtocol` and relies on a few of its internals: `connection_made`
(where the transport is wrapped), `data_received` (replaced: it feeds `parser`), the parser callbacks
(`on_message_begin`, `on_url`, `on_header`, `on_headers_complete`, `on_message_complete`),
`eof_received`, `on_response_complete`, `shutdown`, and the `cycle` (with `more_body`, `response_complete`
and `keep_alive`), `pipeline`, `flow`, `url`, `headers` and `server_state` attributes. pyproject.toml pins
uvicorn to the series these were checked against (`SUPPORTED_UVICORN`); on any other series
`http_protocol()` falls back to stock uvicorn with a warning, and tests/integration/test_serving.py fails
naming what changed. `TASKAPI_HTTP_PROTOCOL=uvicorn` chooses stock uvicorn outright.
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import re
import resource
import socket
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import httptools
import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from taskapi.errors import (
    PROBLEM_MEDIA_TYPE,
    HeaderFieldsTooLarge,
    MalformedRequest,
    Overloaded,
    UriTooLong,
    problem_json,
    title_for,
)
from taskapi.generated import server
from taskapi.logs import AccessLog
from taskapi.middleware import REQUEST_ID, request_id
from taskapi.recorder import Recorder
from taskapi.runtime import HttpError
from taskapi.settings import Settings

# The uvicorn releases this module was checked against: at least the first, below the second.
SUPPORTED_UVICORN = ((0, 54), (0, 55))
# Past this, pending bytes are sent at once instead of at the end of the loop's turn.
_MAX_PENDING = 64 * 1024
# How long a connection made during shutdown may take to send its request.
_LATE_GRACE_SECONDS = 0.1
# uvicorn's per-server state of the servers that have begun to shut down (they call shutdown() on each
# connection they have); weak, so a finished server's state is not kept.
_shutting_down: weakref.WeakSet[Any] = weakref.WeakSet()
# While a request's head arrives, larger reads are parsed in slices of this size, so that the bytes of a
# header field still arriving are counted to within a slice (the parser holds them without telling).
_SLICE = 4096
# How long a connection past `max_connections` has to send the request that is answered 503.
_OVER_CAPACITY_GRACE_SECONDS = 1.0
# The files a worker needs besides its connections (listening socket, database files and connections,
# the event loop's own, log files): `connection_cap` keeps this many free.
_OWN_FILES = 64
_WELL_FORMED_ID = re.compile(server.MIDDLEWARE_HEADERS[REQUEST_ID])
# The fields of one value the spec puts on every response (nosniff, no-store), on these answers too.
_CONSTANT_FIELDS = tuple((name.lower().encode(), value.encode()) for name, value in server.CONSTANT_HEADERS.items())

logger = logging.getLogger("taskapi.serving")


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one connection may take of a worker (the TASKAPI_* settings of the same names)."""

    max_url_bytes: int
    max_header_bytes: int
    max_body_bytes: int
    header_timeout: float
    body_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings, *, max_connections: int | None = None) -> ConnectionLimits:
        """The settings' limits; `max_connections` replaces the setting's (see `connection_cap`)."""
        return cls(
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_body_bytes=settings.max_body_bytes,
            header_timeout=settings.header_timeout_seconds,
            body_timeout=settings.body_timeout_seconds,
            max_connections=settings.max_connections if max_connections is None else max_connections,
        )


_DEFAULT_LIMITS = ConnectionLimits.from_settings(Settings.model_construct())


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (workers inherit it), and return the
    soft limit now in force. Every connection is a file; the soft limit is often 1024 where the hard one
    is far higher."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)  # Linux refuses more than fs.nr_open, 1,048,576 by default
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        except (ValueError, OSError) as exc:
            logger.warning("could not raise the open-files limit from %d to %d: %s", soft, hard, exc)
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def connection_cap(settings: Settings, open_files: int) -> int:
    """`max_connections`, lowered (with a warning) to leave the worker files of its own under `open_files`.

    A worker out of file descriptors fails every accept (see `EventLoop`) and cannot open a database
    connection: it stops serving everyone. A worker at its cap answers new connections 503 and goes on
    serving the ones it has.
    """
    own = _OWN_FILES + settings.db_pool_size + settings.db_max_overflow
    cap = min(settings.max_connections, max(open_files - own, 1))
    if cap < settings.max_connections:
        logger.warning(
            "TASKAPI_MAX_CONNECTIONS=%d does not fit in %d open files (%d kept for the worker): serving %d",
            settings.max_connections,
            open_files,
            own,
            cap,
        )
    return cap


class CoalescingTransport(asyncio.Transport):
    """A transport that collects what is written during one turn of the event loop and sends it with
    one write at the end of the turn (or when it grows past 64 KiB, or on close).

    uvicorn writes a response's status line and headers, then its body: two `send()` calls and, with
    TCP_NODELAY, two packets per response. The second costs about as much as serving a small request
    (bench/README.md, "What each change bought").
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        loop: asyncio.AbstractEventLoop,
        *,
        unread: Callable[[], bool] = lambda: False,
        linger_seconds: float = 2.0,
    ) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._unread = unread
        self._linger_seconds = linger_seconds
        self._linger_timer: asyncio.TimerHandle | None = None
        self.lingering = False  # closed by the server, still reading (see close())

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self.lingering:
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
        """Send what is pending, then close; when `unread()` says the client may still be sending (a request
        answered before it was read whole), shut the write side and close after `linger_seconds` or at the
        client's end of input, whichever comes first. The protocol discards what arrives meanwhile."""
        self.flush()
        if self.lingering or self._transport.is_closing():
            return
        if self._unread() and self._transport.can_write_eof():
            self._transport.write_eof()
            self._transport.resume_reading()
            self.lingering = True
            self._linger_timer = self._loop.call_later(self._linger_seconds, self._transport.close)
            return
        self._transport.close()

    def abort(self) -> None:
        self._pending, self._pending_size = [], 0
        if self._linger_timer is not None:
            self._linger_timer.cancel()
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

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


class _Refused(Exception):
    """Raised in a parser callback to stop the parser; the refusal is in `_refusing`."""


class SingleWriteHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a `CoalescingTransport`, answering half-closed clients and
    holding each connection to `limits` (see the module docstring; `taskapi serve` passes them with
    `functools.partial`, as `http_protocol()` makes it).

    A client may shut its write side once its request is sent (`shutdown(SHUT_WR)`: socat, some proxies
    and load testers do). Stock uvicorn lets asyncio close the connection at that end-of-input, so a
    response not written by then is lost although the request was served. Here the connection stays
    open until every request received whole has its response, then closes.
    """

    # How long a connection answered before its request was read whole is still read (RFC 9112, 9.6).
    linger_seconds: ClassVar[float] = 2.0

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits | None = None,
        access_log: AccessLog | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._limits = limits = limits or _DEFAULT_LIMITS
        self._max_url, self._max_header = limits.max_url_bytes, limits.max_header_bytes
        self._access_log = access_log or AccessLog(enabled=False)
        self._recorder = recorder  # the contract recorder (TASKAPI_CONTRACT_RECORD_DIR), usually None
        self._coalescing: CoalescingTransport  # made in connection_made
        self._half_closed = False
        # Per request being read: its head has begun and not ended, its body has not ended; the name and
        # value bytes of its complete header fields; the bytes of reads that ended no field and added to no
        # URL (`_feed`); the URL pieces and requests begun so far, which tell such reads apart.
        self._head_open = self._in_body = False
        self._header_bytes = self._partial = self._pieces = 0
        self._unread_body = 0  # bytes of a body that arrived after its response
        # Per connection: the read deadline (head or body), a refusal being made or waiting for earlier
        # responses, whether nothing more is parsed, whether this connection is past `max_connections`.
        self._deadline: asyncio.TimerHandle | None = None
        self._refusing: HttpError | None = None
        self._refusal: bytes | None = None
        self._discarding = self._over_capacity = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._coalescing = CoalescingTransport(
            transport, self.loop, unread=self._input_unread, linger_seconds=self.linger_seconds
        )
        super().connection_made(self._coalescing)
        if self.server_state in _shutting_down:
            # Made after the server asked its connections to close: one request at most, then close.
            self.loop.call_later(_LATE_GRACE_SECONDS, self._close_if_idle)
        if len(self.connections) > self._limits.max_connections:
            self._over_capacity = True  # its request is answered 503, if it comes at once
            self._deadline = self.loop.call_later(_OVER_CAPACITY_GRACE_SECONDS, self._read_timed_out)
        else:
            self._deadline = self.loop.call_later(self._limits.header_timeout, self._read_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        _shutting_down.add(self.server_state)
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        """uvicorn's, reading a request's head in slices (`_SLICE`) and refusing what is over a limit."""
        if self._discarding or self._coalescing.lingering:
            return  # refused, or answered before it was read whole: what still arrives is not read
        self._unset_keepalive_if_required()
        if len(data) <= _SLICE or self._in_body:
            self._feed(data)  # most reads: a whole request, or a body
        else:
            view = memoryview(data)
            for start in range(0, len(view), _SLICE):
                if self._in_body:
                    self._feed(view[start:])
                    break
                if not self._feed(view[start : start + _SLICE]):
                    break
        if self._deadline is None and not self._discarding and (self._head_open or self._in_body):
            timeout = self._limits.header_timeout if self._head_open else self._limits.body_timeout
            self._deadline = self.loop.call_later(timeout, self._read_timed_out)

    def _feed(self, data: bytes | memoryview) -> bool:
        """Parse `data`; whether to go on parsing."""
        pieces, header_bytes = self._pieces, self._header_bytes
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return False
        except httptools.HttpParserError as exc:
            self._refuse(self._refusing or MalformedRequest(str(exc)))
            return False
        if self._head_open:
            if self._pieces != pieces or self._header_bytes != header_bytes:
                self._partial = 0  # a field ended, or the URL grew: the field arriving began in `data`
            else:
                # No field ended in `data`, nor did the URL grow: it is all one header field still arriving.
                self._partial += len(data)
                if self._header_bytes + self._partial > self._max_header:
                    self._refuse(HeaderFieldsTooLarge(self._max_header))
                    return False
        return True

    def on_message_begin(self) -> None:
        HttpToolsProtocol.on_message_begin(self)
        self._head_open = True
        self._header_bytes = self._partial = 0
        self._pieces += 1

    # on_url and on_header are uvicorn's, inlined (they run for every piece of every request), with the
    # URL's length and the header fields' size checked.

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._pieces += 1
        if len(self.url) > self._max_url:
            self._stop(UriTooLong(self._max_url))

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        self.headers.append((name, value))
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > self._max_header:
            self._stop(HeaderFieldsTooLarge(self._max_header))

    def on_body(self, body: bytes) -> None:
        if not self.cycle.response_complete:
            super().on_body(body)
            return
        # Answered before it was read whole: uvicorn reads the rest, to serve the next request on this
        # connection, but not past the body limit.
        self._unread_body += len(body)
        if self._unread_body > self._limits.max_body_bytes and not self._discarding:
            self._discarding = True
            self.transport.close()

    def on_headers_complete(self) -> None:
        if self._over_capacity:
            self._stop(Overloaded("This server has too many connections; retry in a moment."))
        self._head_open = False
        self._in_body = True  # until on_message_complete, which for a request without a body is at once
        self._unread_body = 0
        if self._deadline is not None:
            self._cancel_deadline()
        HttpToolsProtocol.on_headers_complete(self)
        if self.server_state in _shutting_down and self.cycle is not None:
            self.cycle.keep_alive = False  # answered with `Connection: close`, then closed

    def on_message_complete(self) -> None:
        HttpToolsProtocol.on_message_complete(self)
        self._in_body = False
        if self._deadline is not None:
            self._cancel_deadline()

    def _stop(self, refusal: HttpError) -> None:
        self._refusing = refusal
        raise _Refused

    def _input_unread(self) -> bool:
        """Whether the client may still be sending: a refused request, or a body not yet received whole."""
        return self._discarding or self._in_body

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _read_timed_out(self) -> None:
        self._deadline = None
        if self.flow.read_paused:
            # Not reading is our doing (pipelined requests wait their turn, or the app has yet to take the
            # body): the client is not late. Look again later.
            self._deadline = self.loop.call_later(self._limits.body_timeout, self._read_timed_out)
            return
        if self._head_open or self._in_body:
            what = "request headers" if self._head_open else "body"
            logger.info("dropped a connection from %s: its %s did not arrive in time", self._client(), what)
        self.transport.abort()

    def _refuse(self, error: HttpError) -> None:
        """Answer the request being read with `error` as problem+json (after any responses still owed for
        earlier requests), log it, and close: nothing more is parsed on this connection."""
        in_body = self._in_body
        began = self._head_open or self._over_capacity or in_body  # the request has a method, URL, fields
        self._refusing, self._discarding = None, True
        self._head_open = self._in_body = False
        self._cancel_deadline()
        cycle = self.cycle
        if in_body and cycle is not None and not cycle.response_complete:
            # The app is reading a body whose rest will not come (its framing is broken): it hears that
            # the client is gone, and its answer, if it makes one, is not sent. Ours is, unless the app
            # has begun to answer or earlier requests are still owed theirs: then the connection just ends.
            cycle.disconnected = True
            cycle.message_event.set()
            if cycle.response_started or self.pipeline:
                self.transport.abort()
                return
        target = self._target_path() if began and not isinstance(error, UriTooLong) else None
        path = None if target is None else self.root_path + target
        method = self.parser.get_method().decode("ascii", "replace") if began and self.url else ""
        rid = request_id(self.headers if began else (), _WELL_FORMED_ID)
        body = problem_json(error.status, error.detail, path)
        fields = [
            *self.server_state.default_headers,
            (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
            (b"content-length", b"%d" % len(body)),
            (b"x-request-id", rid.encode()),
            *_CONSTANT_FIELDS,
            *((name.lower().encode(), value.encode()) for name, value in error.headers.items()),
            (b"connection", b"close"),
        ]
        head = b"".join(name + b": " + value + b"\r\n" for name, value in fields)
        status_line = f"HTTP/1.1 {error.status} {title_for(error.status)}\r\n".encode()
        self._refusal = status_line + head + b"\r\n" + body
        self._access_log.write(
            method=method,
            path=path or "",
            route=None,
            operation_id=None,
            status=error.status,
            duration_ms=0.0,
            request_id=rid,
            user_id=None,
            client=self._client(),
        )
        if self._recorder is not None:
            # Bytes that are not HTTP are no operation's request; a 414's path is not known.
            operation = None
            if target is not None and not isinstance(error, MalformedRequest):
                operation = self._recorder.operation(method, target)
            self._recorder.record(operation, error.status, self.headers if began else (), fields)
        if not self.pipeline and (cycle is None or cycle.response_complete or cycle.disconnected):
            self._send_refusal()

    def _send_refusal(self) -> None:
        refusal, self._refusal = self._refusal, None
        if refusal is not None and not self.transport.is_closing():
            self.transport.write(refusal)
            self.transport.close()

    def _target_path(self) -> str | None:
        """The request target's path, decoded (as the app gets it, below any root path); None if it is bad."""
        try:
            path = httptools.parse_url(self.url).path.decode("ascii")
        except (httptools.HttpParserInvalidURLError, UnicodeDecodeError):
            return None
        return urllib.parse.unquote(path)

    def _client(self) -> str | None:
        return self.client[0] if self.client else None

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
        if not (self._half_closed or self._refusal is not None) or self.pipeline:
            return
        if self.cycle is None or self.cycle.response_complete:  # every response owed is sent
            if self._refusal is not None:
                self._send_refusal()
            else:
                self.transport.close()


class AcceptErrors:
    """An event loop's exception handler that reports a listening socket out of file descriptors at most
    once every `every` seconds, with how many accepts failed meanwhile (asyncio logs each with its
    traceback); anything else goes to the loop's default handler."""

    MESSAGE = "socket.accept() out of system resource"

    def __init__(self, every: float = 10.0) -> None:
        self._every = every
        self._next = float("-inf")
        self._failed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") != self.MESSAGE:
            loop.default_exception_handler(context)
            return
        self._failed += 1
        now = loop.time()
        if now >= self._next:
            logger.error(
                "out of file descriptors: %d connection(s) not accepted (%s); raise the open-files limit, "
                "or lower TASKAPI_MAX_CONNECTIONS",
                self._failed,
                context.get("exception"),
            )
            self._failed, self._next = 0, now + self._every


_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class _ListeningSocket:
    """A listening socket as `EventLoop` hands it to asyncio's accept loop: once an accept has failed for
    want of resources, the next ones of the same turn say that no connection is waiting."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.exhausted = False

    def accept(self) -> tuple[socket.socket, Any]:
        if self.exhausted:
            raise BlockingIOError
        try:
            return self.sock.accept()
        except OSError as exc:
            self.exhausted = exc.errno in _OUT_OF_RESOURCES
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


class EventLoop(asyncio.SelectorEventLoop):
    """asyncio's event loop (`taskapi serve` with TASKAPI_EVENT_LOOP=asyncio), except when the process is
    out of file descriptors. There CPython 3.11's accept loop goes on trying up to `backlog` (2,048) more
    accepts in the same turn, logging each failure with a traceback and scheduling a retry for each
    (python/cpython#151615), which floods the log and keeps the worker busy failing. Here it stops at the
    first failure and tries again a second later, and `AcceptErrors` says so once every 10 s."""

    def __init__(self) -> None:
        super().__init__()
        self.set_exception_handler(AcceptErrors())

    def _accept_connection(self, protocol_factory: Any, sock: Any, *args: Any, **kwargs: Any) -> None:
        listening = sock if isinstance(sock, _ListeningSocket) else _ListeningSocket(sock)
        listening.exhausted = False
        super()._accept_connection(protocol_factory, listening, *args, **kwargs)  # type: ignore[misc]


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


def http_protocol(
    choice: str,
    limits: ConnectionLimits | None = None,
    access_log: AccessLog | None = None,
    recorder: Recorder | None = None,
) -> type[asyncio.Protocol] | str:
    """What `taskapi serve` gives uvicorn as `http`: the single-write protocol (with these limits, this
    access log and this contract recorder), or stock httptools when `choice` is "uvicorn" or this uvicorn is
    not a supported one (with a warning)."""
    if choice == "uvicorn":
        return "httptools"
    reason = unsupported_uvicorn()
    if reason is not None:
        logger.warning("%s: serving with stock uvicorn (two writes per response, fewer limits)", reason)
        return "httptools"
    if limits is None and access_log is None and recorder is None:
        return SingleWriteHttpToolsProtocol
    # A partial, not a subclass: uvicorn's workers are spawned processes, which unpickle it.
    factory = functools.partial(SingleWriteHttpToolsProtocol, limits=limits, access_log=access_log, recorder=recorder)
    return cast("type[asyncio.Protocol]", factory)
