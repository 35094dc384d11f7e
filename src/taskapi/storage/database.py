"""The storage interface handlers see: `Database`, implemented per backend by `SqliteDatabase`
(sqlite.py) and `PostgresDatabase` (postgres.py), and made by `database_at(url)` or `database_from_settings(settings)`.

A repository method is one SQL statement, atomic on its own: `await db.tasks.add(...)` is committed
when it returns (one round trip on PostgreSQL, no BEGIN/COMMIT). Several statements that must commit
together run in `async with db.transaction() as tx:` — committed when the block ends, rolled back
entirely when it raises.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from taskapi.storage.idempotency import IdempotencyRepository
from taskapi.storage.sql import Executor
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.urls import DatabaseUrl
from taskapi.storage.users import UserRepository

if TYPE_CHECKING:
    from taskapi.settings import Settings


class DatabaseUnavailable(Exception):
    """The database cannot run the statement now: it is closed or closing (the server is shutting
    down), unreachable, locked by another process past the busy timeout, or no connection came free in
    time. The request may be retried; nothing was changed, unless the connection broke while a write was
    being committed (the client cannot tell, and neither can the server)."""


@dataclass(frozen=True, slots=True)
class Repositories:
    """The repositories over one executor: statements on their own, or one open transaction."""

    tasks: TaskRepository
    users: UserRepository
    idempotency: IdempotencyRepository

    @classmethod
    def over(cls, sql: Executor) -> Repositories:
        return cls(tasks=TaskRepository(sql), users=UserRepository(sql), idempotency=IdempotencyRepository(sql))


class Database(Protocol):
    """One process's connections to the database (see the module docstring)."""

    wait_observer: Callable[[float], None] | None
    """Given how long each statement waited for a connection (PostgreSQL) or the write lock (SQLite)."""

    @property
    def tasks(self) -> TaskRepository:
        """Tasks, one committed statement per call."""
        ...

    @property
    def users(self) -> UserRepository:
        """Users, one committed statement per call."""
        ...

    @property
    def idempotency(self) -> IdempotencyRepository:
        """Idempotency keys, one committed statement per call."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Repositories]:
        """Statements that commit together when the block ends, or roll back when it raises."""
        ...

    async def open(self) -> None:
        """Connect (SQLite: open and check the file; PostgreSQL: fill the pool). Before any statement."""
        ...

    async def ping(self) -> None:
        """Run a trivial query (PostgreSQL: connecting if need be); raise if the database does not answer.
        Callers bound the wait with `asyncio.timeout`."""
        ...

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        ...

    async def close(self) -> None:
        """Close every connection."""
        ...


def database_at(
    url: str,
    *,
    pool_size: int = 4,
    max_overflow: int = 0,
    pool_timeout: float = 10.0,
    connect_timeout: float = 3.0,
    sqlite_busy_timeout_ms: int = 5000,
) -> Database:
    """The database at `url` (not yet connected: call `open()`). Only the backend in use is imported."""
    parsed = DatabaseUrl.parse(url)
    if parsed.backend == "sqlite":
        from taskapi.storage.sqlite import SqliteDatabase

        return SqliteDatabase(parsed, busy_timeout_ms=sqlite_busy_timeout_ms)
    from taskapi.storage.postgres import PostgresDatabase

    return PostgresDatabase(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        connect_timeout=connect_timeout,
    )


def database_from_settings(settings: Settings) -> Database:
    """The database the settings name, with their pool and lock settings."""
    return database_at(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_timeout=settings.db_connect_timeout_seconds,
        sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
    )
