"""Task queries. Every one is scoped to an owner.

Every change raises a task's `version` by one. A write given `versions` (a request's If-Match) happens
only if the task is at one of them, checked in the same statement that writes, so of concurrent writers
that read the same version exactly one wins; the others get `StaleVersion`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, bindparam, case, delete, insert, select, update

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
    version: int


class OwnerMissing(LookupError):
    """The owner of a new row (a task, an idempotency key) is not in `users` (the account was deleted
    after its token was checked)."""


class StaleVersion(Exception):
    """A conditional write found the task at none of the versions it was given; `current` is the task
    as it is now."""

    def __init__(self, current: TaskRecord) -> None:
        super().__init__(f"task {current.id} is at version {current.version}")
        self.current = current


UPDATABLE = ("title", "description", "priority", "completed")
_COLUMNS = (
    tasks.c.id,
    tasks.c.title,
    tasks.c.description,
    tasks.c.priority,
    tasks.c.completed,
    tasks.c.created_at,
    tasks.c.updated_at,
    tasks.c.version,
)
_OWNED = (tasks.c.id == bindparam("task_id"), tasks.c.owner_id == bindparam("owner_id"))


_record = TaskRecord._make
_VALUES: dict[str, Any] = {name: bindparam(name) for name in ("owner_id", "title", "description", "priority")}
_ADD = Query(
    insert(tasks)
    .values(**_VALUES, completed=False, created_at=bindparam("now"), updated_at=bindparam("now"), version=1)
    .returning(*_COLUMNS)
)
_GET = Query(select(*_COLUMNS).where(*_OWNED))
_PAGES: dict[tuple[bool, bool], Query] = {}
# Keyed by how many versions the write is conditional on (None: unconditional).
_CHANGES: dict[tuple[tuple[str, ...], int | None], Query] = {}
_COMPLETES: dict[int | None, Query] = {}
_MAX_VERSION = 2**31 - 1  # tasks.version is an INTEGER
_REMOVES: dict[int | None, Query] = {}


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


def _owned(versions: int | None) -> tuple[ColumnElement[bool], ...]:
    """The owner's task with this id and, unless `versions` is None, at one of that many versions, bound
    one by one as matching_version_0, matching_version_1, … (the driver's SQL has no list parameters)."""
    if versions is None:
        return _OWNED
    return (*_OWNED, tasks.c.version.in_([bindparam(f"matching_version_{n}") for n in range(versions)]))


def _change(columns: tuple[str, ...], versions: int | None) -> Query:
    """The update of these columns (each subset and number of versions built once)."""
    key = (columns, versions)
    if key not in _CHANGES:
        values: dict[str, Any] = {name: bindparam(name) for name in columns}
        _CHANGES[key] = Query(
            update(tasks)
            .where(*_owned(versions))
            .values(**values, updated_at=bindparam("now"), version=tasks.c.version + 1)
            .returning(*_COLUMNS)
        )
    return _CHANGES[key]


def _complete(versions: int | None) -> Query:
    """Completing, in one statement: a completed task keeps its updated_at and version (completing is
    idempotent)."""
    if versions not in _COMPLETES:
        _COMPLETES[versions] = Query(
            update(tasks)
            .where(*_owned(versions))
            .values(
                completed=True,
                updated_at=case((tasks.c.completed, tasks.c.updated_at), else_=bindparam("now")),
                version=case((tasks.c.completed, tasks.c.version), else_=tasks.c.version + 1),
            )
            .returning(*_COLUMNS)
        )
    return _COMPLETES[versions]


def _remove(versions: int | None) -> Query:
    """The deletion (each number of versions built once)."""
    if versions not in _REMOVES:
        _REMOVES[versions] = Query(delete(tasks).where(*_owned(versions)))
    return _REMOVES[versions]


def _conditions(versions: Collection[int] | None) -> tuple[int | None, dict[str, int]]:
    """How many distinct versions a write is conditional on (None: unconditional), and their parameters.
    A version no task can be at is left out: sent to PostgreSQL, one beyond the column's range would be
    an error rather than no match."""
    if versions is None:
        return None, {}
    distinct = list(dict.fromkeys(version for version in versions if 1 <= version <= _MAX_VERSION))
    # Statements are built per count: round it up to a power of two (repeating the last version) so that
    # a client sending every count up to the header's limit makes a handful of them, not one per count.
    count = 1 << (len(distinct) - 1).bit_length() if distinct else 0
    distinct += distinct[-1:] * (count - len(distinct))
    return count, {f"matching_version_{n}": version for n, version in enumerate(distinct)}


class TaskRepository:
    """Reads and writes tasks; every method is one statement, atomic on its own (a conditional write
    that is refused then reads the task, to tell a stale version from a missing task)."""

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
        self,
        owner_id: int,
        task_id: int,
        changes: Mapping[str, Any],
        *,
        now: datetime,
        versions: Collection[int] | None = None,
    ) -> TaskRecord | None:
        """Apply `changes` (a subset of title, description, priority, completed) and raise the version;
        None if no such task. With `versions`, only if the task is at one of them, else StaleVersion."""
        unknown = set(changes) - set(UPDATABLE)
        if unknown:
            raise ValueError(f"not updatable: {sorted(unknown)}")
        columns = tuple(name for name in UPDATABLE if name in changes)
        count, conditions = _conditions(versions)
        params = {**changes, **conditions, "owner_id": owner_id, "task_id": task_id, "now": now}
        row = None if count == 0 else await self._sql.one(_change(columns, count), params)
        if row is None and count is not None:
            await self._stale_or_missing(owner_id, task_id)
        return None if row is None else _record(row)

    async def complete(
        self, owner_id: int, task_id: int, *, now: datetime, versions: Collection[int] | None = None
    ) -> TaskRecord | None:
        """Mark the task completed and raise the version; a completed task is left as it is. None if no
        such task. With `versions`, only if the task is at one of them, else StaleVersion."""
        count, conditions = _conditions(versions)
        params = {**conditions, "owner_id": owner_id, "task_id": task_id, "now": now}
        row = None if count == 0 else await self._sql.one(_complete(count), params)
        if row is None and count is not None:
            await self._stale_or_missing(owner_id, task_id)
        return None if row is None else _record(row)

    async def remove(self, owner_id: int, task_id: int, *, versions: Collection[int] | None = None) -> bool:
        """Delete the task; False if there was none. With `versions`, only if the task is at one of them,
        else StaleVersion."""
        count, conditions = _conditions(versions)
        params = {**conditions, "owner_id": owner_id, "task_id": task_id}
        removed = count != 0 and await self._sql.run(_remove(count), params) > 0
        if not removed and count is not None:
            await self._stale_or_missing(owner_id, task_id)
        return removed

    async def _stale_or_missing(self, owner_id: int, task_id: int) -> None:
        """Why a conditional write touched no row: StaleVersion if the owner has the task, else return
        (no such task: None or False to the caller)."""
        current = await self.get(owner_id, task_id)
        if current is not None:
            raise StaleVersion(current)
