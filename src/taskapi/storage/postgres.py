"""PostgreSQL on an asyncpg pool, which prepares and caches every statement.

A statement on its own runs without BEGIN/COMMIT: atomic by itself, one round trip instead of three.
A transaction holds one connection from BEGIN to COMMIT. Requests queue for connections first come,
first served (a fair semaphore in front of asyncpg's pool, whose own queue lets a request that has just
arrived barge ahead of one that has waited), and wait at most the pool timeout. Timestamps arrive as
aware UTC datetimes and booleans as booleans: nothing is converted here.

When the server cannot be reached (stopped, restarting, refusing connections, too many of them, a
connect that takes longer than the connect timeout) or a connection breaks under a statement, the
statement fails with `DatabaseUnavailable` (a 503); asyncpg's pool reconnects on a later request, so the
worker recovers by itself once the server is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from taskapi.storage.database import DatabaseUnavailable, Repositories
from taskapi.storage.idempotency import IdempotencyRepository
from taskapi.storage.sql import ForeignKeyViolation, Query, Row
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.urls import DatabaseUrl
from taskapi.storage.users import UserRepository

_DIALECT = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]
_ALEMBIC_VERSION = Query(text("SELECT version_num FROM alembic_version"))


class PoolTimeout(DatabaseUnavailable):
    """No connection became free within the pool timeout."""


# Client-side InterfaceErrors that say nothing about the connection: a value asyncpg cannot send.
_CLIENT_MISTAKES: tuple[type[BaseException], ...] = (asyncpg.exceptions._base.DataError,)

# What a missing or broken server looks like from here: the connection failed or was closed
# (SQLSTATE class 08, asyncpg's InterfaceError for a closed connection or pool, the socket's OSError, a
# connect timeout), the server is shutting down or starting up (57P01-57P03), or it has no room (53300
# too many connections, 53100 disk full, 53200 out of memory), or asyncpg found the connection's protocol
# in a state it cannot go on from (what a connection the server killed mid-statement can be left in).
_UNREACHABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.InsufficientResourcesError,
    OSError,
    TimeoutError,
)


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

    async def try_lock(self, key: int) -> bool:
        taken: bool = await self._connection.fetchval("SELECT pg_try_advisory_xact_lock($1)", key)
        return taken


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

    async def try_lock(self, key: int) -> bool:
        raise RuntimeError("try_lock needs a transaction: a statement's own lock ends with it")


class PostgresDatabase:
    """A PostgreSQL database behind a pool of `pool_size` (+ `max_overflow`) connections (implements `Database`)."""

    def __init__(
        self,
        url: DatabaseUrl,
        *,
        pool_size: int = 4,
        max_overflow: int = 0,
        pool_timeout: float = 10.0,
        connect_timeout: float = 3.0,
    ) -> None:
        self._url = url
        self._pool_size = pool_size
        self._max_size = pool_size + max_overflow
        self._pool_timeout = pool_timeout
        self._connect_timeout = connect_timeout
        self._pool: asyncpg.Pool | None = None
        self._gate: asyncio.Semaphore | None = None
        self.wait_observer: Callable[[float], None] | None = None
        statements = Repositories.over(_Statements(self))
        self.tasks: TaskRepository = statements.tasks
        self.users: UserRepository = statements.users
        self.idempotency: IdempotencyRepository = statements.idempotency

    async def open(self) -> None:
        if self._pool is not None:
            return
        self._gate = asyncio.Semaphore(self._max_size)
        self._pool = await asyncpg.create_pool(
            self._url.postgres_dsn,
            min_size=self._pool_size,
            max_size=self._max_size,
            reset=_keep_session,
            # Bounds each (re)connect: a server that does not answer is a 503 after this, not a hang.
            timeout=self._connect_timeout,
        )

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection, first come first served, within the pool timeout (else PoolTimeout)."""
        pool, gate = self._pool, self._gate
        if pool is None or gate is None:
            raise DatabaseUnavailable("the database is not open")
        started = time.perf_counter()
        if gate.locked():
            try:
                async with asyncio.timeout(self._pool_timeout):
                    await gate.acquire()
            except TimeoutError:
                self._waited(started)  # the waits that fail are the ones to see
                raise PoolTimeout(f"no connection was free within {self._pool_timeout:g} s") from None
        else:
            await gate.acquire()
        try:
            try:
                connection = await pool.acquire()
            except _UNREACHABLE as exc:  # no connection could be made, or the pool is closing
                self._waited(started)
                raise DatabaseUnavailable(f"cannot connect: {_reason(exc)}") from exc
            self._waited(started)
            try:
                yield connection
            except _CLIENT_MISTAKES:  # an argument asyncpg cannot encode: a bug, not an outage
                raise
            except asyncio.CancelledError:
                # Cancelled under a statement (a timeout such as readiness's, or shutdown): releasing would
                # wait for the server to answer the cancelled statement, which a server that has stopped
                # answering never does. Closed at once instead (the server rolls back what it holds).
                _discard(connection)
                raise
            except _UNREACHABLE as exc:  # the connection broke, or the server is going away
                # Not back into the pool as it is: closed, it is replaced by a new one when next needed.
                _discard(connection)
                raise DatabaseUnavailable(f"connection lost: {_reason(exc)}") from exc
            finally:
                try:
                    await pool.release(connection)
                except _UNREACHABLE:  # a broken connection: the pool makes a new one when it is next needed
                    _discard(connection)
        finally:
            gate.release()

    def _waited(self, started: float) -> None:
        if self.wait_observer is not None:
            self.wait_observer(time.perf_counter() - started)

    def transaction(self) -> AbstractAsyncContextManager[Repositories]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Repositories]:
        async with self.connection() as connection, connection.transaction():
            yield Repositories.over(_Connection(connection))

    async def ping(self) -> None:
        async with self.connection() as connection:
            await connection.fetchval("SELECT 1")

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


def _discard(connection: asyncpg.Connection) -> None:
    """Close a broken connection at once (the pool replaces it); one the pool has already taken back is
    the pool's to handle."""
    with suppress(asyncpg.InterfaceError):
        connection.terminate()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is. asyncpg's default reset (a round trip per release:
    RESET ALL, UNLISTEN, advisory unlocks) undoes what taskapi never does; an open transaction is still
    rolled back by asyncpg itself."""
