"""Dispatch: the one place where a request is matched to an operation of the spec.

`Dispatch` is pure ASGI middleware in front of the application's router. It matches a request by its
method and its path below the app's `root_path`, records the operation in the ASGI scope (for the
access log), awaits the operation's endpoint, renders whatever the endpoint raises through the
application's error renderer, and adds the `RateLimit-Policy` and `RateLimit` fields of the policies the
request was counted against (`ratelimits`) to the response, whichever it is. A path of the spec with
another method is answered 405 with `Allow`.
Anything else (the documentation pages, unknown paths) goes on to the router, which holds no operation.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from taskapi.runtime.errors import MethodNotAllowed
from taskapi.runtime.ratelimits import RATE_LIMITS, ratelimit_headers

# What dispatch records in the ASGI scope, for middleware (the access log) to read.
OPERATION_ID = "taskapi.operation_id"
ROUTE_TEMPLATE = "taskapi.route"
PRINCIPAL = "taskapi.principal"

Endpoint = Callable[[Request], Awaitable[Response]]
ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class OperationInfo:
    """One operation of the spec, the name of the handler method that implements it, and the headers it
    declares (what the contract recorder counts: taskapi.recorder)."""

    operation_id: str
    method: str
    path: str
    tag: str
    handler: str
    request_headers: tuple[str, ...] = ()
    """Its header parameters, and `Authorization` when it is secured."""
    responses: Mapping[int, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """Every status it declares, with the headers declared on that response."""


class BoundOperation(NamedTuple):
    """An operation and the endpoint that serves it (parameters, body, handler, response)."""

    info: OperationInfo
    endpoint: Endpoint


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SpecPath(Generic[T]):
    """One path of the spec: its template, what each method has there (HEAD has GET's) and `Allow`."""

    template: str
    methods: dict[str, T]
    allow: str


class Routes(Generic[T]):
    """The spec's paths, each with a value per method (`Dispatch`'s endpoints; the recorder's operations):
    a request path is matched to one of them the way `Dispatch` serves it."""

    def __init__(self, entries: Iterable[tuple[OperationInfo, T]]) -> None:
        grouped: dict[str, dict[str, T]] = {}
        for info, value in entries:
            methods = grouped.setdefault(info.path, {})
            if info.method in methods:
                raise ValueError(f"{info.method} {info.path} is bound twice")
            methods[info.method] = value
        self._static: dict[str, SpecPath[T]] = {}
        self._templated: list[tuple[re.Pattern[str], SpecPath[T]]] = []
        for template, methods in grouped.items():
            if "GET" in methods and "HEAD" not in methods:
                methods["HEAD"] = methods["GET"]
            path = SpecPath(template, methods, ", ".join(sorted(methods)))
            if _PARAMETER.search(template):
                self._templated.append((_pattern(template), path))
            else:
                self._static[template] = path

    def match(self, path_text: str) -> tuple[SpecPath[T], dict[str, str]] | None:
        """The spec's path a request path (below the root path) is, with its parameters; None when it is
        none of them."""
        path = self._static.get(path_text)
        if path is not None:
            return path, {}
        for pattern, candidate in self._templated:
            found = pattern.fullmatch(path_text)
            if found is not None:
                return candidate, found.groupdict()
        return None


def route_path(scope: Scope) -> str:
    """The request's path below the app's root path (uvicorn's `--root-path` puts the prefix in both)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest
    return path


class Dispatch:
    """The spec's operations in front of the app's router: see the module docstring."""

    def __init__(self, app: ASGIApp, *, operations: Iterable[BoundOperation], on_error: ErrorRenderer) -> None:
        self.app = app
        self._on_error = on_error
        self.match = Routes((bound.info, bound) for bound in operations).match

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matched = self.match(route_path(scope) if scope.get("root_path") else scope["path"])
        if matched is None:
            await self.app(scope, receive, send)
            return
        path, path_params = matched
        scope["path_params"] = path_params
        scope[ROUTE_TEMPLATE] = path.template
        request = Request(scope, receive, send)
        bound = path.methods.get(scope["method"])
        try:
            if bound is None:
                raise MethodNotAllowed(scope["method"], scope["path"], path.allow)
            scope[OPERATION_ID] = bound.info.operation_id
            response = await bound.endpoint(request)
        except Exception as exc:
            response = await self._on_error(request, exc)
        if RATE_LIMITS in scope:
            # The policies the request was counted against: on success, error and 429 alike.
            response.raw_headers.extend(ratelimit_headers(scope))
        await response(scope, receive, send)


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PARAMETER.split(template)
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)))


def require_handlers(handlers: dict[str, object], operations: Iterable[OperationInfo]) -> None:
    """Fail, naming each operation, when a handler object lacks the method for it."""
    missing = [
        f"{op.operation_id} ({op.method} {op.path}) needs {type(handlers[op.tag]).__name__}.{op.handler}()"
        for op in operations
        if not callable(getattr(handlers[op.tag], op.handler, None))
    ]
    if missing:
        raise NotImplementedError("operations in the spec without a handler: " + "; ".join(missing))


def require_authenticator(security: object) -> None:
    """Fail when the object that checks bearer tokens lacks `authenticate_bearer()`."""
    if not callable(getattr(security, "authenticate_bearer", None)):
        raise NotImplementedError(f"{type(security).__name__} needs authenticate_bearer() to check bearer tokens")
