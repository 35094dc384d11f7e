"""Errors and the one place that renders them as RFC 9457 problem+json.

    Exception
    ├── runtime.HttpError               carries its HTTP status (taskapi/runtime/errors.py)
    │   ├── raised by the generated glue: 400 malformed body, 401 no bearer token, 405 + Allow,
    │   │                               415 wrong media type, 422 InvalidRequest with `errors` (400,
    │   │                               MalformedHeader, when a header parameter is malformed),
    │   │                               429 TooManyRequests with Retry-After (its limiter: ratelimit.py,
    │   │                               whose RateLimiterUnavailable is 503 when it fails closed)
    │   ├── ApiError                    raised by handlers
    │   │   ├── Unauthorized            401 with `WWW-Authenticate: Bearer`: no valid token, or bad credentials
    │   │   ├── NotFound                404: the resource does not exist (for this caller)
    │   │   ├── Conflict                409: the request collides with the current state (a taken username,
    │   │   │                           an Idempotency-Key whose first request is in flight: with Retry-After)
    │   │   ├── PreconditionFailed      412: If-Match names a version the task is no longer at
    │   │   └── PreconditionRequired    428: the deployment requires If-Match on writes
    │   ├── NotReady                    503 with Retry-After from /readyz: the database (or Redis) did not answer
    │   └── the server's limits         raised by middleware.RequestLimits, auth.Passwords, serving's protocol
    │       ├── MalformedRequest        400: not HTTP/1.1 (answered by the protocol)
    │       ├── ContentTooLarge         413 with `Connection: close`: the body is over TASKAPI_MAX_BODY_BYTES
    │       ├── UriTooLong              414: the request target is over TASKAPI_MAX_URL_BYTES
    │       ├── HeaderFieldsTooLarge    431: the header fields are over TASKAPI_MAX_HEADER_BYTES
    │       └── Overloaded              503 with Retry-After: too many connections, or password checks waiting
    ├── storage.DatabaseUnavailable     503 with Retry-After: the database is closing, unreachable, locked or
    │                                   full, or no connection came free
    ├── starlette HTTPException         404 from the router: no path of the spec (or of the docs) matches
    ├── ClientDisconnect                the client left before its body arrived: 400, nobody reads it
    └── anything else                   500, logged with its traceback, never sent to the client

`render_error` turns each of these into a problem document whose `status` equals the HTTP status; the
shapes are the spec's `Problem` and `ValidationProblem` schemas. `add_exception_handlers(app)` registers it
with the application for the first three; anything else escapes to `middleware.RequestContext`, which
renders it with the same function.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, NotRequired, TypedDict
from urllib.parse import quote

import pydantic_core
from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from taskapi.runtime import HttpError, InvalidRequest
from taskapi.storage import DatabaseUnavailable

logger = logging.getLogger("taskapi.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
# What a 503 tells the client: a closing database or a full pool is a matter of moments.
RETRY_AFTER_SECONDS = "1"
# Characters RFC 3986 allows unescaped in a path: `instance` stays a valid URI reference.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
# RFC 9110 names; Python's http module still has some older ones.
_TITLES = {413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content"}


class ApiError(HttpError):
    """An error a handler raises on purpose; its `status` becomes the HTTP status."""


class Unauthorized(ApiError):
    """No valid credentials; the challenge goes in `WWW-Authenticate` (RFC 6750)."""

    status = 401

    def __init__(self, detail: str, *, error: str | None = "invalid_token") -> None:
        challenge = f'Bearer error="{error}"' if error else "Bearer"
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class NotFound(ApiError):
    """The resource does not exist, or is not the caller's to see."""

    status = 404


class Conflict(ApiError):
    """The request conflicts with the current state of the resource."""

    status = 409


class PreconditionFailed(ApiError):
    """`If-Match` names a version the resource is no longer at: nothing was written."""

    status = 412


class PreconditionRequired(ApiError):
    """The deployment requires `If-Match` on writes (TASKAPI_REQUIRE_IF_MATCH) and the request has none."""

    status = 428


class MalformedRequest(HttpError):
    """The bytes are not an HTTP/1.1 request (the protocol answers this, not the app)."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(f"The request is not well-formed HTTP/1.1: {reason.rstrip('.')}.")


class ContentTooLarge(HttpError):
    """The body is longer than the server accepts. The rest of it is never read: the connection closes."""

    status = 413

    def __init__(self, limit: int) -> None:
        super().__init__(f"The body is longer than {limit} bytes.", headers={"Connection": "close"})


class UriTooLong(HttpError):
    """The request target (path and query) is longer than the server accepts."""

    status = 414

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request target is longer than {limit} bytes.")


class HeaderFieldsTooLarge(HttpError):
    """The header fields together (names and values) are larger than the server accepts."""

    status = 431

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request's header fields are larger than {limit} bytes.")


class Overloaded(HttpError):
    """The server will not take on this request now; nothing was done. Retry after `Retry-After` seconds."""

    status = 503

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": RETRY_AFTER_SECONDS})


class NotReady(HttpError):
    """503 from `/readyz`: a dependency did not answer; Retry-After says when to ask again."""

    status = 503

    def __init__(self, reason: str, *, retry_after: int) -> None:
        super().__init__(f"Not ready: {reason}.", headers={"Retry-After": str(retry_after)})


def title_for(status: int) -> str:
    """The standard reason phrase of a status code."""
    return _TITLES.get(status) or HTTPStatus(status).phrase


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    violations: Sequence[Violation] = (),
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render one problem document as a response (see `problem_json`)."""
    return Response(
        problem_json(status, detail, request.url.path, violations=violations),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def problem_json(status: int, detail: str, path: str | None = None, *, violations: Sequence[Violation] = ()) -> bytes:
    """One problem document's JSON, `instance` being the request's path (none when it is not known); the
    only place that builds error bodies (the protocol's refusals in `taskapi.serving` use it too). Its shape
    is the spec's `Problem` (`ValidationProblem` with violations), which the contract tests hold it to."""
    fields: dict[str, Any] = {"type": "about:blank", "title": title_for(status), "status": status, "detail": detail}
    if path:
        fields["instance"] = quote(path, safe=_PATH_SAFE)
    if violations:
        fields["errors"] = list(violations)
    return pydantic_core.to_json(fields)


class Violation(TypedDict):
    """One violation of a 422 (or 400) problem, as the spec's `Violation` schema has it."""

    location: str
    """`body`, or where the parameter is: `path`, `query`, `header` or `cookie`."""
    pointer: NotRequired[str]
    parameter: NotRequired[str]
    detail: str


PARAMETER_LOCATIONS = ("path", "query", "header", "cookie")


def violations_of(errors: Sequence[Any]) -> list[Violation]:
    """Translate validation errors (`loc` = location + name or path) into the spec's `Violation`s."""
    result: list[Violation] = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        location = str(loc[0]) if loc else "body"
        message = str(error.get("msg", "Invalid value"))
        if location == "body":
            pointer = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in loc[1:])
            result.append({"location": "body", "pointer": pointer, "detail": message})
        elif location in PARAMETER_LOCATIONS and len(loc) > 1:
            result.append({"location": location, "parameter": str(loc[1]), "detail": message})
        else:
            result.append({"location": "body", "pointer": "", "detail": message})
    return result


def _describe(violation: Violation) -> str:
    where = violation.get("pointer") if violation["location"] == "body" else violation.get("parameter")
    return f"{violation['location']} {where or '(whole body)'}: {violation['detail']}"


async def render_error(request: Request, exc: Exception) -> Response:
    """The problem document for any exception: see the module docstring."""
    if isinstance(exc, InvalidRequest):
        violations = violations_of(exc.errors)
        more = f" (and {len(violations) - 1} more)" if len(violations) > 1 else ""
        detail = f"The request is not valid: {_describe(violations[0])}{more}."
        return problem_response(request, exc.status, detail, violations=violations)
    if isinstance(exc, HttpError):
        return problem_response(request, exc.status, exc.detail, headers=exc.headers)
    if isinstance(exc, DatabaseUnavailable):
        logger.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
        detail = "The database is not available right now; retry in a moment."
        return problem_response(request, 503, detail, headers={"Retry-After": RETRY_AFTER_SECONDS})
    if isinstance(exc, HTTPException):
        return problem_response(request, exc.status_code, _http_detail(request, exc), headers=exc.headers)
    if isinstance(exc, ClientDisconnect):
        # Nobody is left to read the answer: not a server error, and not worth a traceback.
        logger.info("client disconnected during %s %s", request.method, request.url.path)
        return problem_response(request, 400, "The client closed the connection before the body was read.")
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "The server failed to handle the request.")


def _http_detail(request: Request, exc: HTTPException) -> str:
    status = exc.status_code
    if status == 404:
        return f"Nothing is served at {request.url.path}."
    if status == 405:
        return f"{request.method} is not allowed on {request.url.path}; see the Allow header."
    if exc.detail and exc.detail != title_for(status):
        return str(exc.detail)
    return title_for(status) + "."


def add_exception_handlers(app: FastAPI) -> None:
    """Send the errors raised on purpose through `render_error` (the rest: see RequestContext)."""
    for exc_type in (HttpError, DatabaseUnavailable, HTTPException):
        app.add_exception_handler(exc_type, render_error)
