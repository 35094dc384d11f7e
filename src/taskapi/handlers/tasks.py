"""The `tasks` operations: translate requests into repository calls and records into responses.

Every task response carries the task's version as a strong `ETag` (`"3"`); `If-Match` makes a write
conditional on it (the check and the write are one statement: storage's `versions`), `If-None-Match`
makes a read answer 304. `Idempotency-Key` on a create claims the key in the database first, then stores
the task and its answer in one transaction, so a retry replays that answer instead of creating another.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import timedelta
from typing import Any

import pydantic_core
from pydantic import MISSING

from taskapi import runtime
from taskapi.auth import Principal
from taskapi.clock import Clock, SystemClock
from taskapi.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired, Unauthorized
from taskapi.generated import models, server
from taskapi.runtime import InvalidRequest
from taskapi.storage import (
    Claimed,
    Database,
    InFlight,
    Mismatch,
    OwnerMissing,
    Replay,
    StaleVersion,
    TaskRecord,
    TaskRepository,
)

logger = logging.getLogger("taskapi.handlers")

_MAX_ID = 2**63 - 1
# The operation an idempotency key is claimed for (keys are per user and per operation).
CREATE_TASK = "createTask"
# A claim still in flight after this long was abandoned (its worker died mid-request): a retry takes it over.
ABANDONED_AFTER = timedelta(seconds=60)
# What a retry that meets a request in flight is told to wait, in seconds.
IN_FLIGHT_RETRY_AFTER = "1"
IDEMPOTENCY_KEY = "Idempotency-Key"


def _task(record: TaskRecord) -> server.TaskDict:
    # The response as the TypedDict of its shape: pydantic-core renders it exactly as it renders the model,
    # without building one (a page makes fifty). Rows were validated on the way in; the live-server
    # contract run checks every response against the spec.
    return {
        "id": record.id,
        "title": record.title,
        "description": record.description,
        "priority": record.priority,
        "completed": record.completed,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def etag(record: TaskRecord) -> str:
    """The task's strong entity tag: its stored version, quoted."""
    return f'"{record.version}"'


def _versions(if_match: str) -> frozenset[int] | None:
    """The versions an `If-Match` value accepts (None for `*`: any). Only strong tags of our form can match
    (strong comparison): `"3"`, not `W/"3"`, `"03"` or `"abc"`."""
    tags = runtime.entity_tags(if_match)
    if tags.any:
        return None
    versions = set()
    for tag in tags.tags:
        digits = tag.opaque[1:-1]
        if not tag.weak and digits.isascii() and digits.isdigit() and str(int(digits)) == digits:
            version = int(digits)
            if version <= _MAX_ID:
                versions.add(version)
    return frozenset(versions)


def request_fingerprint(body: models.TaskCreate) -> str:
    """What makes two creates "the same request" for an idempotency key: the body as validated (so key
    order, whitespace and `5.0` for `5` do not count; a property sent is not the same as one left out)."""
    return hashlib.sha256(body.model_dump_json(exclude_unset=True).encode()).hexdigest()


def _missing(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} does not exist.")


def _stale(task_id: int, stale: StaleVersion) -> PreconditionFailed:
    return PreconditionFailed(
        f"Task {task_id} is no longer at the version If-Match names (it is at {etag(stale.current)})."
    )


class TasksHandlers:
    """Implements `server.TasksOperations[Principal]`: every query is scoped to the caller's own tasks, and
    another user's task answers 404 exactly like a missing one, whatever the request's preconditions."""

    def __init__(
        self,
        db: Database,
        clock: Clock | None = None,
        *,
        require_if_match: bool = False,
        idempotency_retention: timedelta = timedelta(days=1),
    ) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self._require_if_match = require_if_match
        self._retention = idempotency_retention

    async def create_task(
        self, principal: Principal, params: models.CreateTaskParams, body: models.TaskCreate
    ) -> server.CreateTaskResponse:
        """Store a new task; its URL goes in `Location`. With an `Idempotency-Key`: at most once."""
        if params.idempotency_key is not MISSING:
            return await self._create_once(principal, params.idempotency_key, body)
        record = await self._add(self._db.tasks, principal, body)
        return server.CreateTask201Response(body=_task(record), location=f"/tasks/{record.id}", etag=etag(record))

    async def _add(self, tasks: TaskRepository, principal: Principal, body: models.TaskCreate) -> TaskRecord:
        description = None if body.description is MISSING else body.description
        try:
            return await tasks.add(
                owner_id=principal.user_id,
                title=body.title,
                description=description,
                priority=body.priority,
                now=self._clock.now(),
            )
        except OwnerMissing:
            raise Unauthorized("The bearer token's user no longer exists.") from None

    async def _create_once(
        self, principal: Principal, key: str, body: models.TaskCreate
    ) -> server.CreateTask201Response:
        now = self._clock.now()
        owner = principal.user_id
        claim = await self._db.idempotency.claim(
            owner,
            CREATE_TASK,
            key,
            request_fingerprint(body),
            now=now,
            expires_at=now + self._retention,
            stale_before=now - ABANDONED_AFTER,
        )
        if isinstance(claim, Replay):
            return server.CreateTask201Response(
                body=models.Task.model_validate_json(claim.body),
                location=claim.headers["Location"],
                etag=claim.headers["ETag"],
                idempotent_replayed="true",
            )
        if isinstance(claim, Mismatch):
            detail = "was used for another request body; use a new key for a new request"
            raise InvalidRequest(
                [{"type": "idempotency_key_reused", "loc": ("header", IDEMPOTENCY_KEY), "msg": detail}]
            )
        if isinstance(claim, InFlight):
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry it shortly.",
                headers={"Retry-After": IN_FLIGHT_RETRY_AFTER},
            )
        assert isinstance(claim, Claimed)  # noqa: S101 - the four outcomes of a claim
        try:
            async with self._db.transaction() as tx:
                record = await self._add(tx.tasks, principal, body)
                response = server.CreateTask201Response(
                    body=_task(record), location=f"/tasks/{record.id}", etag=etag(record)
                )
                headers = {"Location": response.location, "ETag": response.etag}
                stored = pydantic_core.to_json(response.body).decode()
                await tx.idempotency.record(owner, CREATE_TASK, key, status=201, headers=headers, body=stored)
        except BaseException:
            # Nothing was created: free the key for a retry (shielded: a cancelled request still frees it;
            # if even this fails, the claim is taken over once it is ABANDONED_AFTER old).
            await asyncio.shield(self._release(owner, key))
            raise
        return response

    async def _release(self, owner: int, key: str) -> None:
        try:
            await self._db.idempotency.release(owner, CREATE_TASK, key)
        except Exception as exc:  # the request's own error is the one to raise
            logger.warning("could not free idempotency key of user %d: %s (taken over after a minute)", owner, exc)

    async def list_tasks(self, principal: Principal, params: models.ListTasksParams) -> server.ListTasksResponse:
        """One page, oldest first; the cursor is the id of the previous page's last task."""
        # Any cursor the spec's pattern allows is a position: one past the last id gives an empty page.
        after_id = 0 if params.cursor is MISSING else min(int(params.cursor), _MAX_ID)
        records = await self._db.tasks.page(
            principal.user_id,
            after_id=after_id,
            limit=params.limit + 1,
            completed=None if params.completed is MISSING else params.completed,
            priority=None if params.priority is MISSING else params.priority,
        )
        page = records[: params.limit]
        next_cursor = str(page[-1].id) if len(records) > params.limit else None
        return server.ListTasks200Response(
            body={"items": [_task(record) for record in page], "next_cursor": next_cursor}
        )

    async def get_task(self, principal: Principal, params: models.GetTaskParams) -> server.GetTaskResponse:
        """The task, or 404; 304 when `If-None-Match` names its current version."""
        record = await self._db.tasks.get(principal.user_id, params.task_id)
        if record is None:
            raise _missing(params.task_id)
        tag = etag(record)
        if params.if_none_match is not MISSING and runtime.if_none_match(params.if_none_match, tag):
            return server.GetTask304Response(etag=tag)
        return server.GetTask200Response(body=_task(record), etag=tag)

    def _precondition(self, if_match: str | Any) -> frozenset[int] | None:
        """The versions a write may apply to (None: any), or 428 when the deployment requires If-Match."""
        if if_match is MISSING:
            if self._require_if_match:
                raise PreconditionRequired("Send the task's ETag in If-Match to change it.")
            return None
        assert isinstance(if_match, str)  # noqa: S101 - the generated model's type
        return _versions(if_match)

    async def update_task(
        self, principal: Principal, params: models.UpdateTaskParams, body: models.TaskUpdate
    ) -> server.UpdateTaskResponse:
        """Change the properties the body names (only at the versions `If-Match` names)."""
        versions = self._precondition(params.if_match)
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        try:
            record = await self._db.tasks.change(
                principal.user_id, params.task_id, changes, now=self._clock.now(), versions=versions
            )
        except StaleVersion as stale:
            raise _stale(params.task_id, stale) from None
        if record is None:
            raise _missing(params.task_id)
        return server.UpdateTask200Response(body=_task(record), etag=etag(record))

    async def complete_task(
        self, principal: Principal, params: models.CompleteTaskParams
    ) -> server.CompleteTaskResponse:
        """Mark the task completed (idempotent; only at the versions `If-Match` names)."""
        versions = self._precondition(params.if_match)
        try:
            record = await self._db.tasks.complete(
                principal.user_id, params.task_id, now=self._clock.now(), versions=versions
            )
        except StaleVersion as stale:
            raise _stale(params.task_id, stale) from None
        if record is None:
            raise _missing(params.task_id)
        return server.CompleteTask200Response(body=_task(record), etag=etag(record))

    async def delete_task(self, principal: Principal, params: models.DeleteTaskParams) -> server.DeleteTaskResponse:
        """Delete the task, or 404 (only at the versions `If-Match` names)."""
        versions = self._precondition(params.if_match)
        try:
            removed = await self._db.tasks.remove(principal.user_id, params.task_id, versions=versions)
        except StaleVersion as stale:
            raise _stale(params.task_id, stale) from None
        if not removed:
            raise _missing(params.task_id)
        return server.DeleteTask204Response()
