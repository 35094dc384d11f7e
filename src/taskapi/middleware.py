"""Pure ASGI middleware (no BaseHTTPMiddleware): request ids, the access log, the last-resort error page."""

from __future__ import annotations

import os
import re
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskapi import runtime
from taskapi.auth import Principal
from taskapi.errors import render_error
from taskapi.logs import AccessLog

REQUEST_ID = "X-Request-ID"
_REQUEST_ID_HEADER = REQUEST_ID.lower().encode()


class RequestContext:
    """For every HTTP request: take a well-formed `X-Request-ID` or make one, echo it on the response,
    turn any exception that escapes the app into the 500 problem document, and write exactly one JSON
    access-log line (method, route template, operationId, status, duration, request id, user id, and the
    client's address: the peer's, or what a trusted proxy says under `--forwarded-allow-ips`)."""

    def __init__(self, app: ASGIApp, *, request_id_pattern: str, access_log: AccessLog) -> None:
        self.app = app
        self._well_formed = re.compile(request_id_pattern)
        self._access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_at = time.perf_counter()
        request_id = self._request_id(scope)
        header = (_REQUEST_ID_HEADER, request_id.encode())
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if started:
                raise
            page = await render_error(Request(scope), exc)
            await page(scope, receive, send_with_id)
        finally:
            principal = scope.get(runtime.PRINCIPAL)
            self._access_log.write(
                method=scope["method"],
                path=scope["path"],
                route=scope.get(runtime.ROUTE_TEMPLATE),
                operation_id=scope.get(runtime.OPERATION_ID),
                status=status,
                duration_ms=round((time.perf_counter() - started_at) * 1000, 3),
                request_id=request_id,
                user_id=principal.user_id if isinstance(principal, Principal) else None,
                client=client[0] if (client := scope.get("client")) else None,
            )

    def _request_id(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = bytes(value).decode("latin-1")
                if self._well_formed.fullmatch(candidate):
                    return candidate
                break
        return os.urandom(16).hex()
