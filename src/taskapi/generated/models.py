# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.
"""Pydantic models of the spec's schemas and of each operation's parameters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    MISSING,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)


class TaskCreate(BaseModel):
    """
    A new task.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    title: Annotated[StrictStr, Field(max_length=200, min_length=1, pattern="^[^\\u0000]*$")]
    """
    A short summary of the task. Must not contain NUL characters.
    """
    description: Annotated[StrictStr | MISSING | None, Field(max_length=2000, pattern="^[^\\u0000]*$")] = MISSING
    """
    Free text about the task, or null. Must not contain NUL characters.
    """
    priority: Annotated[StrictInt, Field(ge=1, le=5)] = 1
    """
    1 is the lowest priority, 5 the highest.
    """


class TaskUpdate(BaseModel):
    """
    The properties to change; at least one.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    title: Annotated[
        StrictStr | MISSING,
        Field(max_length=200, min_length=1, pattern="^[^\\u0000]*$"),
    ] = MISSING
    """
    A short summary of the task. Must not contain NUL characters.
    """
    description: Annotated[StrictStr | MISSING | None, Field(max_length=2000, pattern="^[^\\u0000]*$")] = MISSING
    """
    Free text about the task, or null. Must not contain NUL characters.
    """
    priority: Annotated[StrictInt | MISSING, Field(ge=1, le=5)] = MISSING
    """
    1 is the lowest priority, 5 the highest.
    """
    completed: StrictBool | MISSING = MISSING
    """
    Whether the task is done.
    """


class Task(BaseModel):
    """
    A task.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    id: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)]
    """
    The task's id, assigned by the server.
    """
    title: Annotated[StrictStr, Field(max_length=200, min_length=1, pattern="^[^\\u0000]*$")]
    """
    A short summary of the task. Must not contain NUL characters.
    """
    description: Annotated[StrictStr | None, Field(max_length=2000, pattern="^[^\\u0000]*$")]
    """
    Free text about the task, or null. Must not contain NUL characters.
    """
    priority: Annotated[StrictInt, Field(ge=1, le=5)]
    """
    1 is the lowest priority, 5 the highest.
    """
    completed: StrictBool
    """
    Whether the task is done.
    """
    created_at: AwareDatetime
    """
    When the task was created (RFC 3339, UTC).
    """
    updated_at: AwareDatetime
    """
    When the task last changed (RFC 3339, UTC).
    """


class TaskPage(BaseModel):
    """
    One page of tasks, oldest first.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    items: list[Task]
    next_cursor: StrictStr | None
    """
    Pass as `cursor` to read the next page; null on the last page.
    """


class Health(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    status: Literal["ok"]


class RateLimitStore(StrEnum):
    """
    `unreachable` when Redis does not answer and the limiter fails open (still ready).
    """

    ok = "ok"
    unreachable = "unreachable"


class Checks(BaseModel):
    """
    What was checked; `rate_limit_store` only when rate limits count in Redis.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    database: Literal["ok"]
    rate_limit_store: RateLimitStore | MISSING = MISSING
    """
    `unreachable` when Redis does not answer and the limiter fails open (still ready).
    """


class Readiness(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
    )
    status: Literal["ready"]
    checks: Checks
    """
    What was checked; `rate_limit_store` only when rate limits count in Redis.
    """


class UserCreate(BaseModel):
    """
    A new user.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    username: Annotated[StrictStr, Field(max_length=64, min_length=3, pattern="^[a-z0-9][a-z0-9._-]*$")]
    """
    3 to 64 characters; lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    """
    password: Annotated[StrictStr, Field(max_length=256, min_length=12, pattern="^[^\\u0000]*$")]
    """
    12 to 256 characters; never stored, never returned.
    """


class User(BaseModel):
    """
    A user.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    id: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)]
    username: Annotated[StrictStr, Field(max_length=64, min_length=3, pattern="^[a-z0-9][a-z0-9._-]*$")]
    """
    3 to 64 characters; lowercase letters, digits, `.`, `_` and `-`, starting with a letter or digit.
    """
    created_at: AwareDatetime
    """
    When the user signed up (RFC 3339, UTC).
    """


class PasswordGrant(BaseModel):
    """
    An OAuth2 password grant request (form-encoded).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    grant_type: Literal["password"]
    username: Annotated[StrictStr, Field(max_length=64, pattern="^[^\\u0000]*$")]
    password: Annotated[StrictStr, Field(max_length=256, pattern="^[^\\u0000]*$")]
    scope: Annotated[StrictStr | MISSING, Field(max_length=1000)] = MISSING
    """
    Ignored; taskapi has no scopes.
    """
    client_id: Annotated[StrictStr | MISSING, Field(max_length=200)] = MISSING
    """
    Ignored; taskapi has no registered clients.
    """
    client_secret: Annotated[StrictStr | MISSING, Field(max_length=200)] = MISSING
    """
    Ignored.
    """


class Token(BaseModel):
    """
    A bearer token (RFC 6749, section 5.1).
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    access_token: StrictStr
    """
    Send it as `Authorization: Bearer <access_token>`.
    """
    token_type: Literal["bearer"]
    expires_in: Annotated[StrictInt, Field(ge=1)]
    """
    Seconds until the token expires.
    """


class ViolationLocation(StrEnum):
    """
    Which part of the request is wrong.
    """

    body = "body"
    path = "path"
    query = "query"
    header = "header"


class Violation(BaseModel):
    """
    One violation.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    location: ViolationLocation
    pointer: StrictStr | MISSING = MISSING
    """
    For `body`, a JSON pointer (RFC 6901) to the offending value (`""` is the whole body).
    """
    parameter: StrictStr | MISSING = MISSING
    """
    For `path`, `query` and `header`, the parameter's name.
    """
    detail: StrictStr
    """
    What is wrong with it.
    """


class ListTasksParams(BaseModel):
    """
    The parameters of listTasks.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    limit: Annotated[StrictInt, Field(ge=1, le=100)] = 20
    cursor: Annotated[StrictStr | MISSING, Field(pattern="^[0-9]{1,19}$")] = MISSING
    completed: StrictBool | MISSING = MISSING
    priority: Annotated[StrictInt | MISSING, Field(ge=1, le=5)] = MISSING
    """
    1 is the lowest priority, 5 the highest.
    """


class CreateTaskParams(BaseModel):
    """
    The parameters of createTask.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    idempotency_key: Annotated[StrictStr | MISSING, Field(alias="Idempotency-Key", pattern="^[!-~]{1,255}$")] = MISSING


class GetTaskParams(BaseModel):
    """
    The parameters of getTask.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    task_id: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)]
    if_none_match: Annotated[
        StrictStr | MISSING,
        Field(
            alias="If-None-Match",
            max_length=256,
            pattern='^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
        ),
    ] = MISSING


class DeleteTaskParams(BaseModel):
    """
    The parameters of deleteTask.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    task_id: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)]
    if_match: Annotated[
        StrictStr | MISSING,
        Field(
            alias="If-Match",
            max_length=256,
            pattern='^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
        ),
    ] = MISSING


class UpdateTaskParams(BaseModel):
    """
    The parameters of updateTask.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    task_id: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)]
    if_match: Annotated[
        StrictStr | MISSING,
        Field(
            alias="If-Match",
            max_length=256,
            pattern='^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
        ),
    ] = MISSING


class CompleteTaskParams(BaseModel):
    """
    The parameters of completeTask.
    """

    model_config = ConfigDict(
        extra="forbid",
    )
    task_id: Annotated[StrictInt, Field(ge=1, le=9223372036854775807)]
    if_match: Annotated[
        StrictStr | MISSING,
        Field(
            alias="If-Match",
            max_length=256,
            pattern='^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
        ),
    ] = MISSING


class Problem(BaseModel):
    """
    An RFC 9457 problem document.
    """

    type: StrictStr
    """
    Identifies the kind of problem; `about:blank` when the status code says it all.
    """
    title: StrictStr
    """
    A short summary of the kind of problem.
    """
    status: Annotated[StrictInt, Field(ge=400, le=599)]
    """
    The HTTP status code of this response.
    """
    detail: StrictStr
    """
    What went wrong with this request.
    """
    instance: StrictStr | MISSING = MISSING
    """
    The path of the request that failed.
    """
    errors: Annotated[list[Violation] | MISSING, Field(min_length=1)] = MISSING
    """
    For 400 and 422, which parts of the request are wrong, and how.
    """


class ValidationProblem(Problem):
    """
    A problem document for a request that violates this document.
    """

    errors: Annotated[list[Violation], Field(min_length=1)]
    """
    For 400 and 422, which parts of the request are wrong, and how.
    """
