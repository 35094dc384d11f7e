"""The engine, and transactions that hand out repositories.

A handler runs each request in one transaction (`async with db.transaction(write=True) as tx`) that
commits once at its end, or rolls back when anything raises. What differs between backends lives here:
on SQLite, a write transaction takes the write lock when it begins (`BEGIN IMMEDIATE`), so two writers
queue on the busy timeout instead of deadlocking on a read lock each wants to upgrade.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from taskapi.settings import Settings
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.users import UserRepository

_WRITE = "taskapi_write"


@dataclass(frozen=True, slots=True)
class Transaction:
    """The repositories of one open transaction."""

    connection: AsyncConnection
    tasks: TaskRepository
    users: UserRepository


class Database:
    """One engine (and its pool) per process."""

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database the settings name, with their pool sizes."""
        return cls(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        )

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 5,
        max_overflow: int = 10,
        pool_timeout: float = 10.0,
        sqlite_busy_timeout_ms: int = 5000,
    ) -> None:
        self.url = make_url(url)
        in_memory = self.url.get_backend_name() == "sqlite" and self.url.database in (None, "", ":memory:")
        # An in-memory SQLite database lives in one connection (a static pool): no pool to size.
        pooling = (
            {} if in_memory else {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
        )
        self.engine: AsyncEngine = create_async_engine(self.url, **pooling)
        if self.url.get_backend_name() == "sqlite":
            _configure_sqlite(self.engine, sqlite_busy_timeout_ms)
        self._writer = self.engine.execution_options(**{_WRITE: True})

    def prepare(self) -> None:
        """Make the database reachable before the first connection (see `prepare_url`)."""
        prepare_url(str(self.url))

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Transaction]:
        """A transaction that commits when the block ends and rolls back when it raises."""
        engine = self._writer if write else self.engine
        async with engine.begin() as connection:
            yield Transaction(connection=connection, tasks=TaskRepository(connection), users=UserRepository(connection))

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        async with self.engine.connect() as connection:
            return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()


def prepare_url(url: str) -> None:
    """Create the directory of a SQLite file, so a fresh checkout starts without set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" hook below issue BEGIN itself (the driver's implicit BEGIN is always DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
            "PRAGMA foreign_keys=ON",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
