"""Task queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from taskapi.storage.tables import tasks

if TYPE_CHECKING:
    from taskapi.storage.database import Executor


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A row of `tasks`."""

    id: int
    title: str
    description: str | None
    priority: int
    completed: bool
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.priority,
    tasks.c.completed,
    tasks.c.created_at,
    tasks.c.updated_at,
)
UPDATABLE = frozenset({"title", "description", "priority", "completed"})


def _record(row: Any) -> TaskRecord:
    return TaskRecord(*row)


class TaskRepository:
    """Reads and writes tasks inside the caller's transaction."""

    def __init__(self, connection: Executor) -> None:
        self._connection = connection

    async def add(
        self, *, owner_id: int, title: str, description: str | None, priority: int, now: datetime
    ) -> TaskRecord:
        """Insert a task owned by `owner_id` and return it with its new id."""
        statement = (
            insert(tasks)
            .values(
                owner_id=owner_id,
                title=title,
                description=description,
                priority=priority,
                completed=False,
                created_at=now,
                updated_at=now,
            )
            .returning(*_COLUMNS)
        )
        return _record((await self._connection.execute(statement)).one())

    async def get(self, owner_id: int, task_id: int) -> TaskRecord | None:
        """The owner's task with this id, if any."""
        statement = select(*_COLUMNS).where(tasks.c.id == task_id, tasks.c.owner_id == owner_id)
        row = (await self._connection.execute(statement)).first()
        return None if row is None else _record(row)

    async def page(
        self,
        owner_id: int,
        *,
        after_id: int,
        limit: int,
        completed: bool | None = None,
        priority: int | None = None,
    ) -> list[TaskRecord]:
        """Up to `limit` of the owner's tasks with ids above `after_id`, oldest first (keyset pagination)."""
        statement = select(*_COLUMNS).where(tasks.c.owner_id == owner_id, tasks.c.id > after_id)
        if completed is not None:
            statement = statement.where(tasks.c.completed == completed)
        if priority is not None:
            statement = statement.where(tasks.c.priority == priority)
        rows = await self._connection.execute(statement.order_by(tasks.c.id).limit(limit))
        return [_record(row) for row in rows]

    async def change(
        self, owner_id: int, task_id: int, changes: Mapping[str, Any], *, now: datetime
    ) -> TaskRecord | None:
        """Apply `changes` (a subset of title, description, priority, completed); None if no such task."""
        unknown = set(changes) - UPDATABLE
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.owner_id == owner_id)
            .values(**changes, updated_at=now)
            .returning(*_COLUMNS)
        )
        row = (await self._connection.execute(statement)).first()
        return None if row is None else _record(row)

    async def complete(self, owner_id: int, task_id: int, *, now: datetime) -> TaskRecord | None:
        """Mark the task completed; a completed task is left as it is. None if no such task."""
        statement = (
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.owner_id == owner_id, tasks.c.completed.is_(False))
            .values(completed=True, updated_at=now)
        )
        await self._connection.execute(statement)
        return await self.get(owner_id, task_id)

    async def remove(self, owner_id: int, task_id: int) -> bool:
        """Delete the task; False if there was none."""
        statement = delete(tasks).where(tasks.c.id == task_id, tasks.c.owner_id == owner_id)
        result = await self._connection.execute(statement)
        return result.rowcount > 0
