"""Pure ASGI middleware (no BaseHTTPMiddleware): request ids, the access log, the last-resort error page
(`RequestContext`), and the request limits of the spec (`RequestLimits`)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskapi import runtime
from taskapi.auth import Principal
from taskapi.errors import ContentTooLarge, HeaderFieldsTooLarge, UriTooLong, render_error
from taskapi.logs import AccessLog
from taskapi.metrics import Metrics
from taskapi.runtime import HttpError

REQUEST_ID = "X-Request-ID"
_REQUEST_ID_HEADER = REQUEST_ID.lower().encode()


class RequestContext:
    """For every HTTP request: take a well-formed `X-Request-ID` or make one, echo it on the response
    with the spec's constant fields (`constant_headers`: nosniff, no-store; a response that sets one of
    them itself keeps its own), turn any exception that escapes the app into the 500 problem document,
    count the request in the metrics, and write exactly one JSON access-log line (method, route template,
    operationId, status, duration, request id, user id, and the client's address: the peer's, or what a
    trusted proxy says under `--forwarded-allow-ips`)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        request_id_pattern: str,
        access_log: AccessLog,
        metrics: Metrics,
        constant_headers: dict[str, str],
    ) -> None:
        self.app = app
        self._well_formed = re.compile(request_id_pattern)
        self._access_log = access_log
        self._metrics = metrics
        self._constant = [(name.lower().encode(), value.encode()) for name, value in constant_headers.items()]
        self._constant_names = frozenset(name for name, _ in self._constant)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = self._request_id(scope)
        header = (_REQUEST_ID_HEADER, request_id.encode())
        status = 500
        started = False
        metrics = self._metrics
        # The gauge is told the count once a second and at a scrape, and 0 as soon as the worker is idle
        # again: not at every request's start (a worker that serves requests one after the other, as
        # SQLite reads do, would set it twice per request: a measured 4% of GET /tasks/{id}).
        metrics.in_flight += 1

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                headers = message.get("headers", ())
                constant = self._constant
                if any(name in self._constant_names for name, _ in headers):
                    own = {name for name, _ in headers}
                    constant = [field for field in constant if field[0] not in own]
                message["headers"] = [*headers, header, *constant]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            page = await render_error(Request(scope), exc)
            await page(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started_at
            metrics.in_flight -= 1
            if not metrics.in_flight:
                metrics.publish()  # sets the gauge only if it was told another count
            operation_id = scope.get(runtime.OPERATION_ID)
            metrics.observe_request(operation_id, scope["method"], status, seconds)
            principal = scope.get(runtime.PRINCIPAL)
            self._access_log.write(
                method=scope["method"],
                path=scope["path"],
                route=scope.get(runtime.ROUTE_TEMPLATE),
                operation_id=operation_id,
                status=status,
                duration_ms=round(seconds * 1000, 3),
                request_id=request_id,
                user_id=principal.user_id if isinstance(principal, Principal) else None,
                client=client[0] if (client := scope.get("client")) else None,
            )

    def _request_id(self, scope: Scope) -> str:
        return request_id(scope["headers"], self._well_formed)


def request_id(headers: Iterable[tuple[bytes, bytes]], well_formed: re.Pattern[str]) -> str:
    """The request's `X-Request-ID` when it is well-formed, else a new one (32 hex digits)."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if well_formed.fullmatch(candidate):
                return candidate
            break
    return os.urandom(16).hex()


class RequestLimits:
    """The spec's request limits (`x-taskapi-limits`, TASKAPI_MAX_*_BYTES), checked before the app reads
    anything: a request target over `max_url_bytes` is 414, header fields over `max_header_bytes` (names and
    values) 431, a declared `Content-Length` over `max_body_bytes` 413 at once, and a chunked body 413 as
    soon as what has arrived passes the limit (the app never holds more). The 413 says `Connection: close`:
    the rest of the body is not read.

    `taskapi serve`'s protocol (taskapi.serving) already refuses URLs and header fields while it parses them,
    before they are buffered; this is the backstop under any other server (TASKAPI_HTTP_PROTOCOL=uvicorn).
    Inside `RequestContext` (ids, access log) and CORS: refusals are rendered like any other error.
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_header_bytes: int, max_url_bytes: int) -> None:
        self.app = app
        self._max_body = max_body_bytes
        self._max_header = max_header_bytes
        self._max_url = max_url_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope["query_string"]
        # The target as the client sent it: the path below any --root-path prefix, then `?` and the query.
        target = len(scope.get("raw_path") or b"") - len(scope.get("root_path", "")) + (len(query) + 1 if query else 0)
        size = 0
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            size += len(name) + len(value)
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        refusal = self._refusal(target, size, length)
        if refusal is not None:
            await (await render_error(Request(scope), refusal))(scope, receive, send)
            return
        if chunked and length is None:
            receive = self._counting(receive)
        await self.app(scope, receive, send)

    def _refusal(self, target: int, size: int, length: bytes | None) -> HttpError | None:
        if target > self._max_url:
            return UriTooLong(self._max_url)
        if size > self._max_header:
            return HeaderFieldsTooLarge(self._max_header)
        # The server delivers exactly Content-Length bytes: checking the declared length is enough.
        if length is not None and length.isdigit() and (len(length) > 18 or int(length) > self._max_body):
            return ContentTooLarge(self._max_body)
        return None

    def _counting(self, receive: Receive) -> Receive:
        limit = self._max_body
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise ContentTooLarge(limit)
            return message

        return counted
