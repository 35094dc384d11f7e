"""Dispatch: every operation of the spec in one route of the application's router.

`Operations` matches a request by its method and its path below the app's `root_path`, records the
operation in the ASGI scope (for the access log), and awaits its endpoint. A path of the spec with
another method is a partial match that answers 405 with `Allow`; a path outside the spec does not
match, and the router answers 404. Exceptions propagate to the application's exception handlers.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URLPath
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from taskapi.runtime.errors import MethodNotAllowed

# What dispatch records in the ASGI scope, for middleware (the access log) to read.
OPERATION_ID = "taskapi.operation_id"
ROUTE_TEMPLATE = "taskapi.route"
PRINCIPAL = "taskapi.principal"
_MATCHED = "taskapi.endpoint"
_ALLOW = "taskapi.allow"

Endpoint = Callable[[Request], Awaitable[Response]]
_PARAMETER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class OperationInfo:
    """One operation of the spec and the name of the handler method that implements it."""

    operation_id: str
    method: str
    path: str
    tag: str
    handler: str


@dataclass(frozen=True, slots=True)
class _Path:
    """One path of the spec: its template, its endpoints by method (HEAD with GET's) and the `Allow` value."""

    template: str
    methods: dict[str, tuple[OperationInfo, Endpoint]]
    allow: str


def route_path(scope: Scope) -> str:
    """The request's path below the app's root path (uvicorn's `--root-path` puts the prefix in both)."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        rest = path[len(root_path) :]
        if not rest or rest.startswith("/"):
            return rest
    return path


class Operations(BaseRoute):
    """The spec's operations as one route: see the module docstring."""

    def __init__(self, endpoints: Iterable[tuple[OperationInfo, Endpoint]]) -> None:
        grouped: dict[str, dict[str, tuple[OperationInfo, Endpoint]]] = {}
        for info, endpoint in endpoints:
            methods = grouped.setdefault(info.path, {})
            if info.method in methods:
                raise ValueError(f"{info.method} {info.path} is bound twice")
            methods[info.method] = (info, endpoint)
        self._static: dict[str, _Path] = {}
        self._templated: list[tuple[re.Pattern[str], _Path]] = []
        self._by_id: dict[str, OperationInfo] = {}
        for template, methods in grouped.items():
            if "GET" in methods and "HEAD" not in methods:
                methods["HEAD"] = methods["GET"]
            path = _Path(template, methods, ", ".join(sorted(methods)))
            if _PARAMETER.search(template):
                self._templated.append((_pattern(template), path))
            else:
                self._static[template] = path
            self._by_id.update((info.operation_id, info) for info, _ in methods.values())

    @property
    def operations(self) -> list[OperationInfo]:
        """Every operation, once each."""
        return list(self._by_id.values())

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http":
            return Match.NONE, {}
        path_text = route_path(scope)
        path = self._static.get(path_text)
        path_params: dict[str, str] = {}
        if path is None:
            for pattern, candidate in self._templated:
                found = pattern.fullmatch(path_text)
                if found is not None:
                    path, path_params = candidate, found.groupdict()
                    break
            else:
                return Match.NONE, {}
        operation = path.methods.get(scope["method"])
        if operation is None:
            return Match.PARTIAL, {"path_params": path_params, ROUTE_TEMPLATE: path.template, _ALLOW: path.allow}
        info = operation[0]
        child: Scope = {
            "path_params": path_params,
            ROUTE_TEMPLATE: info.path,
            OPERATION_ID: info.operation_id,
            _MATCHED: operation[1],
        }
        return Match.FULL, child

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint: Endpoint | None = scope.pop(_MATCHED, None)
        if endpoint is None:
            raise MethodNotAllowed(scope["method"], scope["path"], scope[_ALLOW])
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The path of the operation with this operationId, its parameters filled in."""
        info = self._by_id.get(name)
        if info is None or set(path_params) != set(_PARAMETER.findall(info.path)):
            raise NoMatchFound(name, path_params)
        return URLPath(_PARAMETER.sub(lambda m: str(path_params[m.group(1)]), info.path), protocol="http")


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
