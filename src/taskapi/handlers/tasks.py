"""The `tasks` operations: translate requests into repository calls and records into responses.

Every task response carries the task's version as a strong `ETag` (`"3"`); `If-Match` makes a write
conditional on it (the check and the write are one statement: storage's `versions`), `If-None-Match`
makes a read answer 304. `Idempotency-Key` on a create stores the task and the key in one transaction
(storage's `idempotency`), so a retry gets the first answer, rebuilt, instead of creating another.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from pydantic import MISSING

from taskapi import runtime
from taskapi.auth import Principal
from taskapi.clock import Clock, SystemClock
from taskapi.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired, Unauthorized
from taskapi.generated import models, server
from taskapi.runtime import InvalidRequest
from taskapi.storage import (
    Database,
    InFlight,
    Kept,
    Mismatch,
    OwnerMissing,
    Replay,
    StaleVersion,
    TaskRecord,
    TaskRepository,
)

_MAX_ID = 2**63 - 1
# The operation an idempotency key is kept for (keys are per user and per operation).
CREATE_TASK = "createTask"
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


def matching_versions(if_match: str) -> frozenset[int] | None:
    """The versions an `If-Match` value accepts (None for `*`: any). Only strong tags of our form can match
    (strong comparison): `"3"`, not `W/"3"`, `"03"` or `"abc"`."""
    tags = runtime.entity_tags(if_match)
    if tags.any:
        return None
    versions = set()
    for tag in tags.tags:
        digits = tag.opaque[1:-1]
        # At most 19 digits (a 64-bit version) before int(): Python refuses to parse over 4,300 of them.
        if not tag.weak and 0 < len(digits) <= 19 and digits.isascii() and digits.isdigit() and digits[0] != "0":
            version = int(digits)
            if version <= _MAX_ID:
                versions.add(version)
    return frozenset(versions)


def request_fingerprint(body: models.TaskCreate) -> int:
    """What makes two creates "the same request" for an idempotency key: the body as validated (so key
    order, whitespace and `5.0` for `5` do not count; a property sent is not the same as one left out).
    Equal fingerprints make equal tasks, which is what lets a replay rebuild the first answer."""
    digest = hashlib.blake2b(body.model_dump_json(exclude_unset=True).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _new_record(task_id: int, body: models.TaskCreate, created_at: datetime) -> TaskRecord:
    """The task that creating `body` as `task_id` at `created_at` made (what `tasks.add` returned then)."""
    description = None if body.description is MISSING else body.description
    return TaskRecord(task_id, body.title, description, body.priority, False, created_at, created_at, 1)


class _Undo(Exception):
    def __init__(self, outcome: Replay | Mismatch | InFlight) -> None:
        super().__init__("the key is another request's")
        self.outcome = outcome


def _in_flight() -> Conflict:
    return Conflict(
        "A request with this Idempotency-Key is still being processed; retry it shortly.",
        headers={"Retry-After": IN_FLIGHT_RETRY_AFTER},
    )


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
        # (owner, key) of the creates with a key this worker is running: a duplicate is 409 at once.
        self._in_flight: set[tuple[int, str]] = set()

    async def create_task(
        self, principal: Principal, params: models.CreateTaskParams, body: models.TaskCreate
    ) -> server.CreateTaskResponse:
        """Store a new task; its URL goes in `Location`. With an `Idempotency-Key`: at most once."""
        if params.idempotency_key is not MISSING:
            return await self._create_once(principal, params.idempotency_key, body)
        record = await self._add(self._db.tasks, principal, body, self._clock.now())
        return server.CreateTask201Response(body=_task(record), location=f"/tasks/{record.id}", etag=etag(record))

    async def _add(
        self, tasks: TaskRepository, principal: Principal, body: models.TaskCreate, now: datetime
    ) -> TaskRecord:
        description = None if body.description is MISSING else body.description
        try:
            return await tasks.add(
                owner_id=principal.user_id,
                title=body.title,
                description=description,
                priority=body.priority,
                now=now,
            )
        except OwnerMissing:
            raise Unauthorized("The bearer token's user no longer exists.") from None

    async def _create_once(
        self, principal: Principal, key: str, body: models.TaskCreate
    ) -> server.CreateTask201Response:
        owner = principal.user_id
        held = (owner, key)
        if held in self._in_flight:  # this worker is running it (waiting for the write lock, say)
            raise _in_flight()
        self._in_flight.add(held)
        try:
            outcome = await self._create_and_keep(principal, key, body)
        finally:
            self._in_flight.discard(held)
        if isinstance(outcome, server.CreateTask201Response):
            return outcome
        if isinstance(outcome, Replay):
            # The same body (the fingerprints match) made this task then: its first answer, rebuilt.
            first = _new_record(outcome.resource_id, body, outcome.created_at)
            return server.CreateTask201Response(
                body=_task(first),
                location=f"/tasks/{first.id}",
                etag=etag(first),
                idempotent_replayed="true",
            )
        if isinstance(outcome, Mismatch):
            detail = "was used for another request body; use a new key for a new request"
            reused = {"type": "idempotency_key_reused", "loc": ("header", IDEMPOTENCY_KEY), "msg": detail}
            raise InvalidRequest([reused])
        raise _in_flight()

    async def _create_and_keep(
        self, principal: Principal, key: str, body: models.TaskCreate
    ) -> server.CreateTask201Response | Replay | Mismatch | InFlight:
        """Create the task and keep the key for it, in one transaction; or, when the key is already another
        request's (or that request is running elsewhere), create nothing and say what the key holds."""
        now = self._clock.now()
        owner = principal.user_id
        try:
            async with self._db.transaction() as tx:
                if not await tx.idempotency.hold(owner, CREATE_TASK, key):
                    return InFlight()
                record = await self._add(tx.tasks, principal, body, now)
                outcome = await tx.idempotency.keep(
                    owner,
                    CREATE_TASK,
                    key,
                    request_fingerprint(body),
                    now=now,
                    expires_at=now + self._retention,
                    resource_id=record.id,
                )
                if not isinstance(outcome, Kept):
                    raise _Undo(outcome)  # the task made above is rolled back
        except _Undo as undo:
            return undo.outcome
        except OwnerMissing:
            raise Unauthorized("The bearer token's user no longer exists.") from None
        return server.CreateTask201Response(body=_task(record), location=f"/tasks/{record.id}", etag=etag(record))

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

    async def _precondition(self, principal: Principal, task_id: int, if_match: str | Any) -> frozenset[int] | None:
        """The versions a write may apply to (None: any). Without If-Match on a deployment that requires
        it: 428 for the caller's task, 404 for any other id (ownership first, as everywhere)."""
        if if_match is MISSING:
            if self._require_if_match:
                if await self._db.tasks.get(principal.user_id, task_id) is None:
                    raise _missing(task_id)
                raise PreconditionRequired("Send the task's ETag in If-Match to change it.")
            return None
        assert isinstance(if_match, str)  # noqa: S101 - the generated model's type
        return matching_versions(if_match)

    async def update_task(
        self, principal: Principal, params: models.UpdateTaskParams, body: models.TaskUpdate
    ) -> server.UpdateTaskResponse:
        """Change the properties the body names (only at the versions `If-Match` names)."""
        versions = await self._precondition(principal, params.task_id, params.if_match)
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
        versions = await self._precondition(principal, params.task_id, params.if_match)
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
        versions = await self._precondition(principal, params.task_id, params.if_match)
        try:
            removed = await self._db.tasks.remove(principal.user_id, params.task_id, versions=versions)
        except StaleVersion as stale:
            raise _stale(params.task_id, stale) from None
        if not removed:
            raise _missing(params.task_id)
        return server.DeleteTask204Response()
