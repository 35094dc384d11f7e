# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.

"""The operations of taskapi 0.1.0: response types, handler interfaces and their dispatch.

Implement each `...Operations` protocol (one per tag) in a `...Handlers` class and pass the objects to
`build_operations()`: mypy proves every operation has a handler with the right types, and
`build_operations()` refuses to start without one. Its result is what `runtime.Dispatch` serves.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any, Literal, Protocol, TypedDict, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from taskapi import runtime

from . import models, validation


class TaskDict(TypedDict):
    """A task. The JSON of `models.Task`, for a handler that
    builds a response without the model (pydantic-core serialises both the same way)."""

    id: int
    title: str
    description: str | None
    priority: int
    completed: bool
    created_at: datetime
    updated_at: datetime


class TaskPageDict(TypedDict):
    """One page of tasks, oldest first. The JSON of `models.TaskPage`, for a handler that
    builds a response without the model (pydantic-core serialises both the same way)."""

    items: list[TaskDict]
    next_cursor: str | None


class UserDict(TypedDict):
    """A user. The JSON of `models.User`, for a handler that
    builds a response without the model (pydantic-core serialises both the same way)."""

    id: int
    username: str
    created_at: datetime


class TokenDict(TypedDict):
    """A bearer token (RFC 6749, section 5.1). The JSON of `models.Token`, for a handler that
    builds a response without the model (pydantic-core serialises both the same way)."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int


class HealthDict(TypedDict):
    """The JSON of `models.Health`, for a handler that
    builds a response without the model (pydantic-core serialises both the same way)."""

    status: Literal["ok"]


class ReadinessDict(TypedDict):
    """The JSON of `models.Readiness`, for a handler that
    builds a response without the model (pydantic-core serialises both the same way)."""

    status: Literal["ready"]
    checks: dict[str, Any]


PrincipalT = TypeVar("PrincipalT")
PrincipalT_co = TypeVar("PrincipalT_co", covariant=True)
PrincipalT_contra = TypeVar("PrincipalT_contra", contravariant=True)


class Security(Protocol[PrincipalT_co]):
    """Authentication of the operations that need a bearer token (bearerAuth, passwordGrant)."""

    async def authenticate_bearer(self, token: str) -> PrincipalT_co:
        """The principal a bearer token stands for; raise to answer 401."""
        ...


@dataclasses.dataclass(frozen=True, slots=True)
class ListTasks200Response:
    """The 200 response of listTasks."""

    body: models.TaskPage | TaskPageDict

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.json_response(self.body, 200)


ListTasksResponse = ListTasks200Response


@dataclasses.dataclass(frozen=True, slots=True)
class CreateTask201Response:
    """The 201 response of createTask."""

    body: models.Task | TaskDict
    location: str
    """The `Location` header."""
    etag: str
    """The `ETag` header."""
    idempotent_replayed: str | None = None
    """The `Idempotent-Replayed` header."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        headers: dict[str, str] = {}
        headers["Location"] = runtime.under_root(root_path, self.location)
        headers["ETag"] = str(self.etag)
        if self.idempotent_replayed is not None:
            headers["Idempotent-Replayed"] = str(self.idempotent_replayed)
        return runtime.json_response(self.body, 201, headers)


CreateTaskResponse = CreateTask201Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetTask200Response:
    """The 200 response of getTask."""

    body: models.Task | TaskDict
    etag: str
    """The `ETag` header."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        headers: dict[str, str] = {}
        headers["ETag"] = str(self.etag)
        return runtime.json_response(self.body, 200, headers)


@dataclasses.dataclass(frozen=True, slots=True)
class GetTask304Response:
    """The 304 response of getTask."""

    etag: str
    """The `ETag` header."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        headers: dict[str, str] = {}
        headers["ETag"] = str(self.etag)
        return runtime.empty_response(304, headers)


GetTaskResponse = GetTask200Response | GetTask304Response


@dataclasses.dataclass(frozen=True, slots=True)
class DeleteTask204Response:
    """The 204 response of deleteTask."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.empty_response(204)


DeleteTaskResponse = DeleteTask204Response


@dataclasses.dataclass(frozen=True, slots=True)
class UpdateTask200Response:
    """The 200 response of updateTask."""

    body: models.Task | TaskDict
    etag: str
    """The `ETag` header."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        headers: dict[str, str] = {}
        headers["ETag"] = str(self.etag)
        return runtime.json_response(self.body, 200, headers)


UpdateTaskResponse = UpdateTask200Response


@dataclasses.dataclass(frozen=True, slots=True)
class CompleteTask200Response:
    """The 200 response of completeTask."""

    body: models.Task | TaskDict
    etag: str
    """The `ETag` header."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        headers: dict[str, str] = {}
        headers["ETag"] = str(self.etag)
        return runtime.json_response(self.body, 200, headers)


CompleteTaskResponse = CompleteTask200Response


@dataclasses.dataclass(frozen=True, slots=True)
class CreateUser201Response:
    """The 201 response of createUser."""

    body: models.User | UserDict

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.json_response(self.body, 201)


CreateUserResponse = CreateUser201Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetCurrentUser200Response:
    """The 200 response of getCurrentUser."""

    body: models.User | UserDict

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.json_response(self.body, 200)


GetCurrentUserResponse = GetCurrentUser200Response


@dataclasses.dataclass(frozen=True, slots=True)
class CreateToken200Response:
    """The 200 response of createToken."""

    body: models.Token | TokenDict

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.json_response(self.body, 200)


CreateTokenResponse = CreateToken200Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetHealth200Response:
    """The 200 response of getHealth."""

    body: models.Health | HealthDict

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.json_response(self.body, 200)


GetHealthResponse = GetHealth200Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetReadiness200Response:
    """The 200 response of getReadiness."""

    body: models.Readiness | ReadinessDict

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.json_response(self.body, 200)


GetReadinessResponse = GetReadiness200Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetMetrics200Response:
    """The 200 response of getMetrics."""

    body: str
    """The `text/plain` body."""

    def render(self, root_path: str = "") -> Response:
        """This response on the wire, for an app served under `root_path`."""
        return runtime.text_response(self.body, 200, "text/plain")


GetMetricsResponse = GetMetrics200Response


class TasksOperations(Protocol[PrincipalT_contra]):
    """The operations tagged `tasks`."""

    async def list_tasks(self, principal: PrincipalT_contra, params: models.ListTasksParams) -> ListTasksResponse:
        """listTasks: GET /tasks — List tasks."""
        ...

    async def create_task(
        self, principal: PrincipalT_contra, params: models.CreateTaskParams, body: models.TaskCreate
    ) -> CreateTaskResponse:
        """createTask: POST /tasks — Create a task."""
        ...

    async def get_task(self, principal: PrincipalT_contra, params: models.GetTaskParams) -> GetTaskResponse:
        """getTask: GET /tasks/{task_id} — Get a task."""
        ...

    async def delete_task(self, principal: PrincipalT_contra, params: models.DeleteTaskParams) -> DeleteTaskResponse:
        """deleteTask: DELETE /tasks/{task_id} — Delete a task."""
        ...

    async def update_task(
        self, principal: PrincipalT_contra, params: models.UpdateTaskParams, body: models.TaskUpdate
    ) -> UpdateTaskResponse:
        """updateTask: PATCH /tasks/{task_id} — Update a task."""
        ...

    async def complete_task(
        self, principal: PrincipalT_contra, params: models.CompleteTaskParams
    ) -> CompleteTaskResponse:
        """completeTask: PATCH /tasks/{task_id}/complete — Mark a task completed."""
        ...


class UsersOperations(Protocol[PrincipalT_contra]):
    """The operations tagged `users`."""

    async def create_user(self, body: models.UserCreate) -> CreateUserResponse:
        """createUser: POST /users — Sign up."""
        ...

    async def get_current_user(self, principal: PrincipalT_contra) -> GetCurrentUserResponse:
        """getCurrentUser: GET /users/me — The caller's account."""
        ...


class AuthOperations(Protocol):
    """The operations tagged `auth`."""

    async def create_token(self, body: models.PasswordGrant) -> CreateTokenResponse:
        """createToken: POST /auth/token — Get a bearer token."""
        ...


class MetaOperations(Protocol):
    """The operations tagged `meta`."""

    async def get_health(self) -> GetHealthResponse:
        """getHealth: GET /healthz — Liveness check."""
        ...

    async def get_readiness(self) -> GetReadinessResponse:
        """getReadiness: GET /readyz — Readiness check."""
        ...

    async def get_metrics(self) -> GetMetricsResponse:
        """getMetrics: GET /metrics — Prometheus metrics."""
        ...


MIDDLEWARE_HEADERS: dict[str, str] = {
    "Cache-Control": "^no\\-store$",
    "RateLimit": '^"[a-z][a-z0-9-]*";r=[0-9]+;t=[0-9]+(, "[a-z][a-z0-9-]*";r=[0-9]+;t=[0-9]+)*$',
    "RateLimit-Policy": '^"[a-z][a-z0-9-]*";q=[0-9]+;w=[0-9]+(, "[a-z][a-z0-9-]*";q=[0-9]+;w=[0-9]+)*$',
    "X-Content-Type-Options": "^nosniff$",
    "X-Request-ID": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$",
}
"""Response headers the spec marks `x-taskapi-middleware`, with the pattern their values must match."""

CONSTANT_HEADERS: dict[str, str] = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}
"""The middleware headers of one value, which every response of the spec declares: the server sets them
on every response it sends."""


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """What the server accepts at most, in bytes (`x-taskapi-limits`); past them: 413, 431, 414."""

    max_body_bytes: int = 65536
    max_header_bytes: int = 16384
    max_url_bytes: int = 8192


LIMITS = Limits()
"""The spec's limits: the defaults of the deployment's settings."""


RATE_LIMIT_POLICIES: dict[str, str] = {
    "login-client": "20/minute",
    "login-username": "10/minute",
    "signup-client": "10/minute",
    "user": "1200/minute",
}
"""The spec's rate-limit policies (`x-taskapi-rate-limit-policies`) and their default limits, in the
`limits` notation; a deployment may change any of them (TASKAPI_RATE_LIMITS)."""


OPERATIONS: tuple[runtime.OperationInfo, ...] = (
    runtime.OperationInfo(
        "listTasks",
        "GET",
        "/tasks",
        "tasks",
        "list_tasks",
        request_headers=("Authorization",),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "createTask",
        "POST",
        "/tasks",
        "tasks",
        "create_task",
        request_headers=("Idempotency-Key", "Authorization"),
        responses={
            201: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "RateLimit-Policy",
                "RateLimit",
                "Location",
                "ETag",
                "Idempotent-Replayed",
            ),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            409: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
            415: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "getTask",
        "GET",
        "/tasks/{task_id}",
        "tasks",
        "get_task",
        request_headers=("If-None-Match", "Authorization"),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit", "ETag"),
            304: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit", "ETag"),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            404: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "deleteTask",
        "DELETE",
        "/tasks/{task_id}",
        "tasks",
        "delete_task",
        request_headers=("If-Match", "Authorization"),
        responses={
            204: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit"),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            404: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            412: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            428: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "updateTask",
        "PATCH",
        "/tasks/{task_id}",
        "tasks",
        "update_task",
        request_headers=("If-Match", "Authorization"),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit", "ETag"),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            404: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            412: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            428: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            415: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "completeTask",
        "PATCH",
        "/tasks/{task_id}/complete",
        "tasks",
        "complete_task",
        request_headers=("If-Match", "Authorization"),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit", "ETag"),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            404: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            412: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            428: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "createUser",
        "POST",
        "/users",
        "users",
        "create_user",
        request_headers=(),
        responses={
            201: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit"),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            409: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            415: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "getCurrentUser",
        "GET",
        "/users/me",
        "users",
        "get_current_user",
        request_headers=("Authorization",),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "createToken",
        "POST",
        "/auth/token",
        "auth",
        "create_token",
        request_headers=(),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit"),
            400: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            401: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "WWW-Authenticate"),
            415: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            422: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            429: (
                "X-Request-ID",
                "X-Content-Type-Options",
                "Cache-Control",
                "Retry-After",
                "RateLimit-Policy",
                "RateLimit",
            ),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "getHealth",
        "GET",
        "/healthz",
        "meta",
        "get_health",
        request_headers=(),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "getReadiness",
        "GET",
        "/readyz",
        "meta",
        "get_readiness",
        request_headers=(),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
    runtime.OperationInfo(
        "getMetrics",
        "GET",
        "/metrics",
        "meta",
        "get_metrics",
        request_headers=(),
        responses={
            200: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            413: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            414: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            431: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            500: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control"),
            503: ("X-Request-ID", "X-Content-Type-Options", "Cache-Control", "Retry-After"),
        },
    ),
)
"""Every operation of the spec, in document order, with the headers it declares: request headers (its
header parameters, and Authorization when secured) and, per declared status, the response's."""


def build_operations(
    *,
    tasks: TasksOperations[PrincipalT],
    users: UsersOperations[PrincipalT],
    auth: AuthOperations,
    meta: MetaOperations,
    security: Security[PrincipalT],
    limiter: runtime.RateLimiter[PrincipalT],
) -> list[runtime.BoundOperation]:
    """Every operation bound to its handler, for `runtime.Dispatch`."""
    runtime.require_handlers(
        {
            "tasks": tasks,
            "users": users,
            "auth": auth,
            "meta": meta,
        },
        OPERATIONS,
    )
    runtime.require_authenticator(security)
    # The spec's own schemas of the bodies and parameters, compiled once; the models convert what they admit.
    validators = runtime.Validators(validation.DEFINITIONS)
    list_tasks_params = validators["ListTasksParams"]
    create_task_params = validators["CreateTaskParams"]
    create_task_body = validators["TaskCreate"]
    get_task_params = validators["GetTaskParams"]
    delete_task_params = validators["DeleteTaskParams"]
    update_task_params = validators["UpdateTaskParams"]
    update_task_body = validators["TaskUpdate"]
    complete_task_params = validators["CompleteTaskParams"]
    create_user_body = validators["UserCreate"]
    create_token_body = validators["PasswordGrant"]

    async def list_tasks(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        params = runtime.parse_parameters(
            models.ListTasksParams,
            list_tasks_params,
            (
                ("limit", "query", "integer", request.query_params.getlist("limit")),
                ("cursor", "query", "string", request.query_params.getlist("cursor")),
                ("completed", "query", "boolean", request.query_params.getlist("completed")),
                ("priority", "query", "integer", request.query_params.getlist("priority")),
            ),
        )
        result = await tasks.list_tasks(principal, params)
        return result.render(request.scope.get("root_path", ""))

    async def create_task(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        params = runtime.parse_parameters(
            models.CreateTaskParams,
            create_task_params,
            (("Idempotency-Key", "header", "string", runtime.header_parameter(request, "Idempotency-Key")),),
        )
        body = runtime.validate_body(
            models.TaskCreate,
            await runtime.read_json_body(request, "application/json"),
            create_task_body,
        )
        result = await tasks.create_task(principal, params, body)
        return result.render(request.scope.get("root_path", ""))

    async def get_task(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        params = runtime.parse_parameters(
            models.GetTaskParams,
            get_task_params,
            (
                ("task_id", "path", "integer", request.path_params.get("task_id")),
                ("If-None-Match", "header", "string", runtime.header_parameter(request, "If-None-Match")),
            ),
        )
        result = await tasks.get_task(principal, params)
        return result.render(request.scope.get("root_path", ""))

    async def delete_task(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        params = runtime.parse_parameters(
            models.DeleteTaskParams,
            delete_task_params,
            (
                ("task_id", "path", "integer", request.path_params.get("task_id")),
                ("If-Match", "header", "string", runtime.header_parameter(request, "If-Match")),
            ),
        )
        result = await tasks.delete_task(principal, params)
        return result.render(request.scope.get("root_path", ""))

    async def update_task(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        params = runtime.parse_parameters(
            models.UpdateTaskParams,
            update_task_params,
            (
                ("task_id", "path", "integer", request.path_params.get("task_id")),
                ("If-Match", "header", "string", runtime.header_parameter(request, "If-Match")),
            ),
        )
        body = runtime.validate_body(
            models.TaskUpdate,
            await runtime.read_json_body(request, "application/json"),
            update_task_body,
        )
        result = await tasks.update_task(principal, params, body)
        return result.render(request.scope.get("root_path", ""))

    async def complete_task(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        params = runtime.parse_parameters(
            models.CompleteTaskParams,
            complete_task_params,
            (
                ("task_id", "path", "integer", request.path_params.get("task_id")),
                ("If-Match", "header", "string", runtime.header_parameter(request, "If-Match")),
            ),
        )
        result = await tasks.complete_task(principal, params)
        return result.render(request.scope.get("root_path", ""))

    async def create_user(request: Request) -> Response:
        await limiter.hit(request, "signup-client", runtime.client_address(request))
        body = runtime.validate_body(
            models.UserCreate,
            await runtime.read_json_body(request, "application/json"),
            create_user_body,
        )
        result = await users.create_user(body)
        return result.render(request.scope.get("root_path", ""))

    async def get_current_user(request: Request) -> Response:
        principal = await security.authenticate_bearer(runtime.bearer_token(request))
        request.scope[runtime.PRINCIPAL] = principal
        await limiter.hit(request, "user", limiter.user_key(principal))
        result = await users.get_current_user(principal)
        return result.render(request.scope.get("root_path", ""))

    async def create_token(request: Request) -> Response:
        await limiter.hit(request, "login-client", runtime.client_address(request))
        body = runtime.validate_body(
            models.PasswordGrant,
            await runtime.read_form_body(request),
            create_token_body,
        )
        await limiter.hit(request, "login-username", body.username)
        result = await auth.create_token(body)
        return result.render(request.scope.get("root_path", ""))

    async def get_health(request: Request) -> Response:
        result = await meta.get_health()
        return result.render(request.scope.get("root_path", ""))

    async def get_readiness(request: Request) -> Response:
        result = await meta.get_readiness()
        return result.render(request.scope.get("root_path", ""))

    async def get_metrics(request: Request) -> Response:
        result = await meta.get_metrics()
        return result.render(request.scope.get("root_path", ""))

    return [
        runtime.BoundOperation(OPERATIONS[0], list_tasks),
        runtime.BoundOperation(OPERATIONS[1], create_task),
        runtime.BoundOperation(OPERATIONS[2], get_task),
        runtime.BoundOperation(OPERATIONS[3], delete_task),
        runtime.BoundOperation(OPERATIONS[4], update_task),
        runtime.BoundOperation(OPERATIONS[5], complete_task),
        runtime.BoundOperation(OPERATIONS[6], create_user),
        runtime.BoundOperation(OPERATIONS[7], get_current_user),
        runtime.BoundOperation(OPERATIONS[8], create_token),
        runtime.BoundOperation(OPERATIONS[9], get_health),
        runtime.BoundOperation(OPERATIONS[10], get_readiness),
        runtime.BoundOperation(OPERATIONS[11], get_metrics),
    ]
