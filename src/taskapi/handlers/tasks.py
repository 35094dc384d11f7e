"""The `tasks` operations: translate requests into repository calls and records into responses."""

from __future__ import annotations

from typing import Any

from pydantic import MISSING

from taskapi.auth import Principal
from taskapi.clock import Clock, SystemClock
from taskapi.errors import NotFound, Unauthorized
from taskapi.generated import models, server
from taskapi.storage import Database, OwnerMissing, TaskRecord

_MAX_ID = 2**63 - 1


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


def _missing(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} does not exist.")


class TasksHandlers:
    """Implements `server.TasksOperations[Principal]`: every query is scoped to the caller's own tasks, and
    another user's task answers 404 exactly like a missing one."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self._db = db
        self._clock = clock or SystemClock()

    async def create_task(self, principal: Principal, body: models.TaskCreate) -> server.CreateTaskResponse:
        """Store a new task; its URL goes in `Location`."""
        description = None if body.description is MISSING else body.description
        try:
            record = await self._db.tasks.add(
                owner_id=principal.user_id,
                title=body.title,
                description=description,
                priority=body.priority,
                now=self._clock.now(),
            )
        except OwnerMissing:
            raise Unauthorized("The bearer token's user no longer exists.") from None
        return server.CreateTask201Response(body=_task(record), location=f"/tasks/{record.id}")

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
        """The task, or 404."""
        record = await self._db.tasks.get(principal.user_id, params.task_id)
        if record is None:
            raise _missing(params.task_id)
        return server.GetTask200Response(body=_task(record))

    async def update_task(
        self, principal: Principal, params: models.UpdateTaskParams, body: models.TaskUpdate
    ) -> server.UpdateTaskResponse:
        """Change the properties the body names."""
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        record = await self._db.tasks.change(principal.user_id, params.task_id, changes, now=self._clock.now())
        if record is None:
            raise _missing(params.task_id)
        return server.UpdateTask200Response(body=_task(record))

    async def complete_task(
        self, principal: Principal, params: models.CompleteTaskParams
    ) -> server.CompleteTaskResponse:
        """Mark the task completed (idempotent)."""
        record = await self._db.tasks.complete(principal.user_id, params.task_id, now=self._clock.now())
        if record is None:
            raise _missing(params.task_id)
        return server.CompleteTask200Response(body=_task(record))

    async def delete_task(self, principal: Principal, params: models.DeleteTaskParams) -> server.DeleteTaskResponse:
        """Delete the task, or 404."""
        removed = await self._db.tasks.remove(principal.user_id, params.task_id)
        if not removed:
            raise _missing(params.task_id)
        return server.DeleteTask204Response()
