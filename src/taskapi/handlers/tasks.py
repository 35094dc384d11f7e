"""The `tasks` operations: translate requests into repository calls and records into responses."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import MISSING

from taskapi.errors import NotFound
from taskapi.generated import models, server
from taskapi.storage import Database, TaskRecord

Clock = Callable[[], datetime]
_MAX_ID = 2**63 - 1


def utc_now() -> datetime:
    """The current time, in UTC."""
    return datetime.now(UTC)


def _task(record: TaskRecord) -> models.Task:
    return models.Task(
        id=record.id,
        title=record.title,
        description=record.description,
        priority=record.priority,
        completed=record.completed,
        created_at=record.created_at,
        updated_at=record.updated_at,
    )


def _missing(task_id: int) -> NotFound:
    return NotFound(f"Task {task_id} does not exist.")


class TaskHandlers:
    """Implements `server.TasksHandlers` over a `Database`."""

    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def create_task(self, body: models.TaskCreate) -> server.CreateTaskResponse:
        """Store a new task; its URL goes in `Location`."""
        description = None if body.description is MISSING else body.description
        async with self._db.transaction(write=True) as tx:
            record = await tx.tasks.add(
                title=body.title, description=description, priority=body.priority, now=self._clock()
            )
        return server.CreateTask201Response(body=_task(record), location=f"/tasks/{record.id}")

    async def list_tasks(self, params: models.ListTasksParams) -> server.ListTasksResponse:
        """One page, oldest first; the cursor is the id of the previous page's last task."""
        # Any cursor the spec's pattern allows is a position: one past the last id gives an empty page.
        after_id = 0 if params.cursor is MISSING else min(int(params.cursor), _MAX_ID)
        async with self._db.transaction() as tx:
            records = await tx.tasks.page(
                after_id=after_id,
                limit=params.limit + 1,
                completed=None if params.completed is MISSING else params.completed,
                priority=None if params.priority is MISSING else params.priority,
            )
        page = records[: params.limit]
        next_cursor = str(page[-1].id) if len(records) > params.limit else None
        return server.ListTasks200Response(
            body=models.TaskPage(items=[_task(record) for record in page], next_cursor=next_cursor)
        )

    async def get_task(self, params: models.GetTaskParams) -> server.GetTaskResponse:
        """The task, or 404."""
        async with self._db.transaction() as tx:
            record = await tx.tasks.get(params.task_id)
        if record is None:
            raise _missing(params.task_id)
        return server.GetTask200Response(body=_task(record))

    async def update_task(self, params: models.UpdateTaskParams, body: models.TaskUpdate) -> server.UpdateTaskResponse:
        """Change the properties the body names."""
        changes: dict[str, Any] = body.model_dump(exclude_unset=True)
        async with self._db.transaction(write=True) as tx:
            record = await tx.tasks.change(params.task_id, changes, now=self._clock())
        if record is None:
            raise _missing(params.task_id)
        return server.UpdateTask200Response(body=_task(record))

    async def complete_task(self, params: models.CompleteTaskParams) -> server.CompleteTaskResponse:
        """Mark the task completed (idempotent)."""
        async with self._db.transaction(write=True) as tx:
            record = await tx.tasks.complete(params.task_id, now=self._clock())
        if record is None:
            raise _missing(params.task_id)
        return server.CompleteTask200Response(body=_task(record))

    async def delete_task(self, params: models.DeleteTaskParams) -> server.DeleteTaskResponse:
        """Delete the task, or 404."""
        async with self._db.transaction(write=True) as tx:
            removed = await tx.tasks.remove(params.task_id)
        if not removed:
            raise _missing(params.task_id)
        return server.DeleteTask204Response()
