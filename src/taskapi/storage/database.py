"""The engine, and transactions that hand out repositories.

A handler runs each request in one transaction (`async with db.transaction(write=True) as tx`) that
commits once at its end, or rolls back when anything raises. What differs between backends lives here,
behind one `Executor` interface that the repositories use:

- PostgreSQL runs on asyncpg through SQLAlchemy's async engine.
- SQLite runs on the standard sqlite3 driver *in the event loop's thread*. A point query takes a few
  microseconds there, while handing each statement to a driver thread (aiosqlite) cost ~60 µs per hop
  and, under load, a GIL convoy (see bench/README.md). Write transactions take the write lock when they
  begin (`BEGIN IMMEDIATE`), so writers queue on the busy timeout instead of deadlocking on a read lock
  each wants to upgrade, and one process runs one write transaction at a time (an asyncio lock), so a
  writer never waits on the busy timeout for a transaction of its own process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, CursorResult, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql import Executable

from taskapi.settings import Settings
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.users import UserRepository

_WRITE = "taskapi_write"


class Executor(Protocol):
    """What repositories need of an open transaction."""

    async def execute(self, statement: Executable) -> CursorResult[Any]:
        """Run one statement; its rows are buffered."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: rolled back alone when its block raises."""
        ...


@dataclass(frozen=True, slots=True)
class Transaction:
    """The repositories of one open transaction."""

    connection: Executor
    tasks: TaskRepository
    users: UserRepository

    @classmethod
    def over(cls, connection: Executor) -> Transaction:
        return cls(connection=connection, tasks=TaskRepository(connection), users=UserRepository(connection))


class _Async:
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable) -> CursorResult[Any]:
        return await self._connection.execute(statement)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self._connection.begin_nested():
            yield


class _InLoop:
    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable) -> CursorResult[Any]:
        return self._connection.execute(statement)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        with self._connection.begin_nested():
            yield


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
        pooling = {"pool_size": pool_size, "max_overflow": max_overflow, "pool_timeout": pool_timeout}
        self._sync: Engine | None = None
        self._async: AsyncEngine | None = None
        self._write_lock: asyncio.Lock | None = None
        if self.url.get_backend_name() == "sqlite":
            self._sync = _sqlite_engine(self.url, pooling, sqlite_busy_timeout_ms)
        else:
            self._async = create_async_engine(self.url, **pooling)

    def prepare(self) -> None:
        """Make the database reachable before the first connection (see `prepare_url`)."""
        prepare_url(str(self.url))

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Transaction]:
        """A transaction that commits when the block ends and rolls back when it raises."""
        if self._async is not None:
            async with self._async.begin() as connection:
                yield Transaction.over(_Async(connection))
            return
        assert self._sync is not None  # noqa: S101 - one of the two engines exists
        if not write:
            with self._sync.begin() as connection:
                yield Transaction.over(_InLoop(connection))
            return
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock:
            with self._sync.execution_options(**{_WRITE: True}).begin() as connection:
                yield Transaction.over(_InLoop(connection))

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        if self._async is not None:
            async with self._async.connect() as connection:
                return await connection.run_sync(_revision)
        assert self._sync is not None  # noqa: S101 - one of the two engines exists
        with self._sync.connect() as connection:
            return _revision(connection)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._async is not None:
            await self._async.dispose()
        if self._sync is not None:
            self._sync.dispose()


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def prepare_url(url: str) -> None:
    """Create the directory of a SQLite file, so a fresh checkout starts without set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_engine(url: URL, pooling: dict[str, Any], busy_timeout_ms: int) -> Engine:
    in_memory = url.database in (None, "", ":memory:")
    # The sqlite3 driver whatever the URL names (sqlite+aiosqlite:// is what Alembic and users write).
    engine = create_engine(
        url.set(drivername="sqlite+pysqlite"),
        # An in-memory database lives in one connection: no pool to size.
        **({} if in_memory else pooling),
        connect_args={"check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
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

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine
