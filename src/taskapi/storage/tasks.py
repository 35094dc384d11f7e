"""Task queries. Every one is scoped to an owner."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, case, delete, insert, select, update

from taskapi.storage.sql import Executor, ForeignKeyViolation, Query
from taskapi.storage.tables import tasks


class TaskRecord(NamedTuple):
    """A row of `tasks` (a named tuple: a page makes fifty of them per request)."""

    id: int
    title: str
    description: str | None
    priority: int
    completed: bool
    created_at: datetime
    updated_at: datetime


class OwnerMissing(LookupError):
    """The owner of a new task is not in `users` (the account was deleted after its token was checked)."""


UPDATABLE = ("title", "description", "priority", "completed")
_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.priority,
    tasks.c.completed,
    tasks.c.created_at,
    tasks.c.updated_at,
)
_OWNED = (tasks.c.id == bindparam("task_id"), tasks.c.owner_id == bindparam("owner_id"))


_record = TaskRecord._make
_VALUES: dict[str, Any] = {name: bindparam(name) for name in ("owner_id", "title", "description", "priority")}
_ADD = Query(
    insert(tasks)
    .values(**_VALUES, completed=False, created_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(*_COLUMNS)
)
_GET = Query(select(*_COLUMNS).where(*_OWNED))
# One statement: a completed task keeps its updated_at (completing is idempotent).
_COMPLETE = Query(
    update(tasks)
    .where(*_OWNED)
    .values(completed=True, updated_at=case((tasks.c.completed, tasks.c.updated_at), else_=bindparam("now")))
    .returning(*_COLUMNS)
)
_REMOVE = Query(delete(tasks).where(*_OWNED))
_PAGES: dict[tuple[bool, bool], Query] = {}
_CHANGES: dict[tuple[str, ...], Query] = {}


def _page(*, completed: bool, priority: bool) -> Query:
    """The page query with the filters asked for (four variants, each built once)."""
    key = (completed, priority)
    if key not in _PAGES:
        statement = select(*_COLUMNS).where(
            tasks.c.owner_id == bindparam("owner_id"), tasks.c.id > bindparam("after_id")
        )
        if completed:
            statement = statement.where(tasks.c.completed == bindparam("completed"))
        if priority:
            statement = statement.where(tasks.c.priority == bindparam("priority"))
        _PAGES[key] = Query(statement.order_by(tasks.c.id).limit(bindparam("limit")))
    return _PAGES[key]


def _change(columns: tuple[str, ...]) -> Query:
    """The update of these columns (each subset built once)."""
    if columns not in _CHANGES:
        values: dict[str, Any] = {name: bindparam(name) for name in columns}
        _CHANGES[columns] = Query(
            update(tasks).where(*_OWNED).values(**values, updated_at=bindparam("now")).returning(*_COLUMNS)
        )
    return _CHANGES[columns]


class TaskRepository:
    """Reads and writes tasks; every method is one statement, atomic on its own."""

    def __init__(self, sql: Executor) -> None:
        self._sql = sql

    async def add(
        self, *, owner_id: int, title: str, description: str | None, priority: int, now: datetime
    ) -> TaskRecord:
        """Insert a task owned by `owner_id` and return it with its new id; OwnerMissing without that user."""
        params = {"owner_id": owner_id, "title": title, "description": description, "priority": priority, "now": now}
        try:
            row = await self._sql.one(_ADD, params)
        except ForeignKeyViolation:
            raise OwnerMissing(f"user {owner_id} does not exist") from None
        assert row is not None  # noqa: S101 - INSERT … RETURNING returns the row
        return _record(row)

    async def get(self, owner_id: int, task_id: int) -> TaskRecord | None:
        """The owner's task with this id, if any."""
        row = await self._sql.one(_GET, {"owner_id": owner_id, "task_id": task_id})
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
        query = _page(completed=completed is not None, priority=priority is not None)
        params = {
            "owner_id": owner_id,
            "after_id": after_id,
            "limit": limit,
            "completed": completed,
            "priority": priority,
        }
        return [_record(row) for row in await self._sql.all(query, params)]

    async def change(
        self, owner_id: int, task_id: int, changes: Mapping[str, Any], *, now: datetime
    ) -> TaskRecord | None:
        """Apply `changes` (a subset of title, description, priority, completed); None if no such task."""
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        columns = tuple(name for name in UPDATABLE if name in changes)
        params = {**changes, "owner_id": owner_id, "task_id": task_id, "now": now}
        row = await self._sql.one(_change(columns), params)
        return None if row is None else _record(row)

    async def complete(self, owner_id: int, task_id: int, *, now: datetime) -> TaskRecord | None:
        """Mark the task completed; a completed task is left as it is. None if no such task."""
        row = await self._sql.one(_COMPLETE, {"owner_id": owner_id, "task_id": task_id, "now": now})
        return None if row is None else _record(row)

    async def remove(self, owner_id: int, task_id: int) -> bool:
        """Delete the task; False if there was none."""
        return await self._sql.run(_REMOVE, {"owner_id": owner_id, "task_id": task_id}) > 0
