"""PostgreSQL on an asyncpg pool, which prepares and caches every statement.

A statement on its own runs without BEGIN/COMMIT: atomic by itself, one round trip instead of three.
A transaction holds one connection from BEGIN to COMMIT. Requests queue for connections first come,
first served (a fair semaphore in front of asyncpg's pool, whose own queue lets a request that has just
arrived barge ahead of one that has waited), and wait at most the pool timeout. Timestamps arrive as
aware UTC datetimes and booleans as booleans: nothing is converted here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from taskapi.storage.database import DatabaseUnavailable, Repositories
from taskapi.storage.sql import ForeignKeyViolation, Query, Row
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.urls import DatabaseUrl
from taskapi.storage.users import UserRepository

_DIALECT = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
_ALEMBIC_VERSION = Query(text("SELECT version_num FROM alembic_version"))


class PoolTimeout(DatabaseUnavailable):
    """No connection became free within the pool timeout."""


class _Connection:
    """Runs statements on one asyncpg connection (an `Executor`)."""

    __slots__ = ("_connection",)

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        sql, arguments = query.arguments(_DIALECT, params)
        try:
            row: Row | None = await self._connection.fetchrow(sql, *arguments)
        except asyncpg.ForeignKeyViolationError as exc:
            raise ForeignKeyViolation(str(exc)) from exc
        return row

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        sql, arguments = query.arguments(_DIALECT, params)
        return list(await self._connection.fetch(sql, *arguments))

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        sql, arguments = query.arguments(_DIALECT, params)
        try:
            status: str = await self._connection.execute(sql, *arguments)
        except asyncpg.ForeignKeyViolationError as exc:
            raise ForeignKeyViolation(str(exc)) from exc
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0


class _Statements:
    """Each statement on its own pooled connection, without BEGIN/COMMIT."""

    __slots__ = ("_db",)

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        async with self._db.connection() as connection:
            return await _Connection(connection).one(query, params)

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        async with self._db.connection() as connection:
            return await _Connection(connection).all(query, params)

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        async with self._db.connection() as connection:
            return await _Connection(connection).run(query, params)


class PostgresDatabase:
    """A PostgreSQL database behind a pool of `pool_size` (+ `max_overflow`) connections (implements `Database`)."""

    def __init__(
        self, url: DatabaseUrl, *, pool_size: int = 4, max_overflow: int = 0, pool_timeout: float = 10.0
    ) -> None:
        self._url = url
        self._pool_size = pool_size
        self._max_size = pool_size + max_overflow
        self._pool_timeout = pool_timeout
        self._pool: asyncpg.Pool | None = None
        self._gate: asyncio.Semaphore | None = None
        statements = Repositories.over(_Statements(self))
        self.tasks: TaskRepository = statements.tasks
        self.users: UserRepository = statements.users

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._gate = asyncio.Semaphore(self._max_size)
        self._pool = await asyncpg.create_pool(
            self._url.postgres_dsn,
            min_size=self._pool_size,
            max_size=self._max_size,
            reset=_keep_session,
            # Bounds each (re)connect too, so no request waits longer for a connection.
            timeout=self._pool_timeout,
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, first come first served, within the pool timeout (else PoolTimeout)."""
        pool, gate = self._pool, self._gate
        if pool is None or gate is None:
            raise DatabaseUnavailable("the database is not open")
        if gate.locked():
            try:
                async with asyncio.timeout(self._pool_timeout):
                    await gate.acquire()
            except TimeoutError:
                raise PoolTimeout(f"no connection was free within {self._pool_timeout:g} s") from None
        else:
            await gate.acquire()
        try:
            try:
                connection = await pool.acquire()
            except asyncpg.InterfaceError as exc:  # the pool is closing or closed: the server is stopping
                raise DatabaseUnavailable(str(exc)) from exc
            try:
                yield connection
            finally:
                await pool.release(connection)
        finally:
            gate.release()

    def transaction(self) -> AbstractAsyncContextManager[Repositories]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Repositories]:
        async with self.connection() as connection, connection.transaction():
            yield Repositories.over(_Connection(connection))

    async def schema_revision(self) -> str | None:
        try:
            async with self.connection() as connection:
                row = await _Connection(connection).one(_ALEMBIC_VERSION, {})
        except asyncpg.UndefinedTableError:
            return None
        return None if row is None else str(row[0])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool = self._gate = None


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is. asyncpg's default reset (a round trip per release:
    RESET ALL, UNLISTEN, advisory unlocks) undoes what taskapi never does; an open transaction is still
    rolled back by asyncpg itself."""
