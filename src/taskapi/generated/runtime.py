# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.

"""Request parsing and response rendering shared by the generated routes.

Spec-independent: codegen copies it next to the spec-specific modules so that generated code imports
nothing hand-written. Every rejection is raised as a framework exception that the application renders
as problem+json: `RequestValidationError` for 422 (with `loc` = location + name or JSON path),
`HTTPException` for 400 and 415.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn, TypeVar
from urllib.parse import parse_qsl

import pydantic_core
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

# What the generated routes record in the ASGI scope, for middleware (access logs) to read.
OPERATION_ID = "taskapi.operation_id"
ROUTE_TEMPLATE = "taskapi.route"
PRINCIPAL = "taskapi.principal"

ModelT = TypeVar("ModelT", bound=BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]

_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
# Integral JSON numbers larger than this stay floats (and fail integer validation) instead of
# being expanded into enormous Python ints.
_MAX_INTEGRAL_EXPONENT = 400


@dataclass(frozen=True, slots=True)
class OperationInfo:
    """One operation of the spec and the handler method that implements it."""

    operation_id: str
    method: str
    path: str
    tag: str
    handler: str


class OperationRoute(Route):
    """One path of the spec with its operations by method; other methods get 405 with `Allow`."""

    def __init__(self, path: str, operations: Mapping[str, tuple[OperationInfo, Endpoint]]) -> None:
        self.operations = dict(operations)

        async def dispatch(request: Request) -> Response:
            info, endpoint = self.operations["GET" if request.method == "HEAD" else request.method]
            request.scope[OPERATION_ID] = info.operation_id
            request.scope[ROUTE_TEMPLATE] = info.path
            return await endpoint(request)

        super().__init__(path, dispatch, methods=sorted(self.operations), include_in_schema=False)


ErrorRenderer = Callable[[Request, Exception], Awaitable[Response]]


class FastPath:
    """Pure ASGI middleware that serves the spec's operations directly and hands every other request
    (documentation, unknown paths, wrong methods: 404 and 405 with `Allow`) to the app it wraps.

    The same endpoints are also mounted as `OperationRoute`s in the app's router; the fast path only
    skips the router and the per-request exception machinery between it and the endpoint. Any exception
    an endpoint raises becomes the response `on_error` renders.
    """

    def __init__(self, app: ASGIApp, *, routes: Iterable[BaseRoute], on_error: ErrorRenderer) -> None:
        self.app = app
        self._on_error = on_error
        self._static: dict[tuple[str, str], tuple[OperationInfo, Endpoint]] = {}
        self._templated: list[tuple[re.Pattern[str], dict[str, tuple[OperationInfo, Endpoint]]]] = []
        for route in routes:
            if not isinstance(route, OperationRoute):
                continue
            by_method = dict(route.operations)
            if "GET" in by_method:
                by_method["HEAD"] = by_method["GET"]
            if "{" in route.path:
                self._templated.append((_path_pattern(route.path), by_method))
            else:
                for method, operation in by_method.items():
                    self._static[(method, route.path)] = operation

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        operation = self._static.get((method, path))
        path_params: dict[str, str] = {}
        if operation is None:
            for pattern, by_method in self._templated:
                match = pattern.fullmatch(path) if method in by_method else None
                if match is not None:
                    operation = by_method[method]
                    path_params = match.groupdict()
                    break
        if operation is None:
            await self.app(scope, receive, send)
            return
        info, endpoint = operation
        scope["path_params"] = path_params
        scope[OPERATION_ID] = info.operation_id
        scope[ROUTE_TEMPLATE] = info.path
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = await self._on_error(request, exc)
        await response(scope, receive, send)


def _path_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts))
    return re.compile(regex)


def require_handlers(handlers: Mapping[str, object], operations: Iterable[OperationInfo]) -> None:
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


class _OutOfRange:
    """A number too long to convert (Python caps int() at 4300 digits): every typed field refuses it."""

    def __repr__(self) -> str:
        return "<a number with more than 4000 digits>"


_HUGE = _OutOfRange()
_MAX_DIGITS = 4000


def _parse_int(text: str) -> int | _OutOfRange:
    return _HUGE if len(text) > _MAX_DIGITS else int(text)


def _parse_float(text: str) -> float | int | _OutOfRange:
    if len(text) > _MAX_DIGITS:
        return _HUGE
    # JSON Schema counts 5.0 as an integer: hand whole numbers to the models as ints.
    value = Decimal(text)
    if value == value.to_integral_value() and value.adjusted() <= _MAX_INTEGRAL_EXPONENT:
        return int(value)
    return float(text)


def _reject_constant(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a JSON value")


# One decoder for every body (json.loads would build one per call).
_JSON = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant)


async def read_json_body(request: Request, declared: str = "application/json") -> Any:
    """The request's JSON body: 415 unless it is of the `declared` media type, 400 unless it decodes,
    422 when absent."""
    raw = await request.body()
    content_type = request.headers.get("content-type")
    if content_type is None:
        if not raw:
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "A JSON body is required"}])
        raise HTTPException(415, f"The body must be {declared}; the request has no Content-Type.")
    media_type, _, params = content_type.partition(";")
    media_type = media_type.strip().lower()
    if media_type != declared:
        raise HTTPException(415, f"The body must be {declared}, not {media_type or 'an empty media type'}.")
    charset = dict(_media_params(params)).get("charset", "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise HTTPException(415, f"JSON bodies are UTF-8, not {charset}.")
    try:
        return _JSON.decode(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise HTTPException(400, "The body is not valid UTF-8.") from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise HTTPException(400, f"The body is not valid JSON: {reason}.") from None


async def read_form_body(request: Request) -> dict[str, str]:
    """The request's form fields: 415 unless form-encoded, 400 unless it decodes, 422 for repeated fields."""
    raw = await request.body()
    content_type = request.headers.get("content-type")
    if content_type is None and not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "A form body is required"}])
    media_type = (content_type or "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, f"The body must be application/x-www-form-urlencoded, not {media_type or 'untyped'}.")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(400, f"The body is not a valid form: {exc}.") from None
    fields: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for name, value in pairs:
        if name in fields:
            errors.append({"type": "repeated", "loc": ("body", name), "msg": "The field appears more than once"})
        fields[name] = value
    if errors:
        raise RequestValidationError(errors)
    return fields


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`; 401 with `WWW-Authenticate: Bearer` without one."""
    header = request.headers.get("authorization")
    if header is None:
        raise HTTPException(401, "This operation needs a bearer token.", headers={"WWW-Authenticate": "Bearer"})
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(
            401,
            "The Authorization header must be `Bearer <token>`.",
            headers={"WWW-Authenticate": 'Bearer error="invalid_request"'},
        )
    return token.strip()


def _media_params(params: str) -> Iterable[tuple[str, str]]:
    for item in params.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            yield key.strip().lower(), value.strip().strip('"').lower()


def validate_body(
    model: type[ModelT], data: Any, *, min_properties: int | None = None, max_properties: int | None = None
) -> ModelT:
    """Validate a decoded JSON body against its generated model (and the object-size rules of the spec)."""
    errors: list[dict[str, Any]] = []
    if isinstance(data, dict):
        if min_properties is not None and len(data) < min_properties:
            errors.append(
                {"type": "too_short", "loc": ("body",), "msg": f"The body needs at least {min_properties} properties"}
            )
        if max_properties is not None and len(data) > max_properties:
            errors.append(
                {"type": "too_long", "loc": ("body",), "msg": f"The body takes at most {max_properties} properties"}
            )
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        errors.extend(_prefixed(exc, lambda loc: ("body", *loc)))
    if errors:
        raise RequestValidationError(errors)
    return result


def parse_parameters(model: type[ModelT], raw: Iterable[tuple[str, str, str, str | None]]) -> ModelT:
    """Parse text parameters per their JSON type, then validate them against the operation's model.

    `raw` holds (name, location, JSON type, text or None when absent) for each declared parameter.
    """
    values: dict[str, Any] = {}
    locations: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for name, location, json_type, text in raw:
        locations[name] = location
        if text is None:
            continue
        value = _parse_text(json_type, text)
        if value is _INVALID:
            errors.append(
                {"type": f"{json_type}_parsing", "loc": (location, name), "msg": f"Input should be a valid {json_type}"}
            )
        else:
            values[name] = value
    try:
        result = model.model_validate(values)
    except ValidationError as exc:
        unparsed = {error["loc"][1] for error in errors}
        located = _prefixed(exc, lambda loc: (locations[str(loc[0])], *loc))
        errors.extend(error for error in located if error["loc"][1] not in unparsed)
    if errors:
        raise RequestValidationError(errors)
    return result


_INVALID = object()


def _parse_text(json_type: str, text: str) -> Any:
    if json_type == "integer":
        return _parse_int(text) if _INTEGER.fullmatch(text) else _INVALID
    if json_type == "number":
        return _parse_float(text) if _NUMBER.fullmatch(text) else _INVALID
    if json_type == "boolean":
        return _BOOLEANS.get(text, _INVALID)
    return text


def _prefixed(
    exc: ValidationError, locate: Callable[[tuple[int | str, ...]], tuple[int | str, ...]]
) -> list[dict[str, Any]]:
    return [
        {"type": error["type"], "loc": locate(tuple(error["loc"])), "msg": error["msg"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def json_response(
    body: BaseModel | Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    """Render a generated model, or the TypedDict of its shape, as the response body by the spec's
    property names. Both go through pydantic-core's serialiser; the dict skips building a model."""
    content = body.model_dump_json(by_alias=True) if isinstance(body, BaseModel) else pydantic_core.to_json(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A response without a body (204 and the like)."""
    return Response(status_code=status, headers=headers)
