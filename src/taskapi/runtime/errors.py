"""What the runtime raises when it refuses a request: an `HttpError` carrying its HTTP status.

    HttpError                   status, detail, headers
    ├── MalformedBody           400: the body does not decode (bad JSON, not UTF-8, a broken form)
    ├── MissingCredentials      401: no `Authorization: Bearer <token>` (the challenge goes in `WWW-Authenticate`)
    ├── MethodNotAllowed        405: the path exists, the method does not (`Allow` lists the ones it has)
    ├── UnsupportedMediaType    415: the body is not of the operation's media type
    └── InvalidRequest          422: parameters or body violate the spec; `errors` says where and what

The application renders every `HttpError` (its own handler errors derive from it too) as one problem
document; the runtime itself renders nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class HttpError(Exception):
    """An error with an HTTP status, raised on purpose; `detail` is safe to show the client."""

    status: ClassVar[int] = 500

    def __init__(self, detail: str, *, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})


class MalformedBody(HttpError):
    """The body is not well-formed in its media type."""

    status = 400


class MissingCredentials(HttpError):
    """An operation that needs a bearer token got none, or a malformed `Authorization` header (RFC 6750)."""

    status = 401

    def __init__(self, detail: str, *, error: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": f'Bearer error="{error}"' if error else "Bearer"})


class MethodNotAllowed(HttpError):
    """The path is one of the spec's, the method is not one of its operations."""

    status = 405

    def __init__(self, method: str, path: str, allow: str) -> None:
        super().__init__(f"{method} is not allowed on {path}; see the Allow header.", headers={"Allow": allow})


class UnsupportedMediaType(HttpError):
    """The body is not of the media type the operation declares."""

    status = 415


class InvalidRequest(HttpError):
    """Parameters or body violate the spec. Each error is a dict with `type`, `loc` (the location —
    `body`, `path`, `query` or `header` — then the parameter name or the path into the body) and `msg`."""

    status = 422

    def __init__(self, errors: Sequence[Mapping[str, Any]]) -> None:
        self.errors = [dict(error) for error in errors]
        super().__init__(f"{len(self.errors)} violation(s) of the spec")


class MalformedHeader(InvalidRequest):
    """A header parameter violates the spec (a malformed `If-Match`, say): 400, with the same `errors`."""

    status = 400
