"""Connections, transactions, and the one interface (`Executor`) that repositories run SQL through.

A handler runs each request in one transaction (`async with db.transaction(write=True) as tx`) that
commits once at its end, or rolls back when anything raises; a write of one statement may say so
(`one_statement=True`) and then runs, on PostgreSQL, as that statement alone. Statements are built
with SQLAlchemy Core (`Query`) and compiled once per dialect; they then run on the bare driver,
because the per-statement cost of SQLAlchemy's connection machinery was most of a request's time
(bench/README.md). What differs between backends lives here:

- PostgreSQL: an asyncpg pool. Reads run without BEGIN/COMMIT (one statement, one snapshot), and so do
  writes of one statement (`one_statement=True`); other writes run in a transaction. asyncpg prepares
  and caches every statement.
- SQLite: the standard sqlite3 driver *in the event loop's thread*. A point query takes microseconds,
  while handing each statement to a driver thread (aiosqlite) cost ~60 µs and, under load, a GIL
  convoy. Each process keeps two connections: one for reads, which run as single statements without
  BEGIN/COMMIT (in WAL mode each sees one committed snapshot, so requests can share it), and one for
  write transactions, which an asyncio lock gives to one transaction at a time. A write transaction
  takes the write lock when it begins (`BEGIN IMMEDIATE`), so writers never deadlock on a read lock
  each wants to upgrade; while another process holds the lock, the writer waits with `asyncio.sleep`
  (up to the busy timeout) so its event loop keeps serving other requests. WAL journal.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from taskapi.settings import Settings
from taskapi.storage.sql import Executor, ForeignKeyViolation, Query, Row
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.users import UserRepository

_SQLITE = sqlite.pysqlite.dialect()
_POSTGRES = postgresql.asyncpg.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True, slots=True)
class Transaction:
    """The repositories of one open transaction."""

    connection: Executor
    tasks: TaskRepository
    users: UserRepository

    @classmethod
    def over(cls, connection: Executor) -> Transaction:
        return cls(connection=connection, tasks=TaskRepository(connection), users=UserRepository(connection))


class _Ready:
    """An async context that hands out an existing transaction and does nothing on exit (SQLite reads)."""

    __slots__ = ("_transaction",)

    def __init__(self, transaction: Transaction) -> None:
        self._transaction = transaction

    async def __aenter__(self) -> Transaction:
        return self._transaction

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def _sqlite_value(value: Any) -> Any:
    # The format SQLAlchemy's DateTime uses on SQLite (and the migrations' columns hold): UTC, no offset.
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


class _Budget:
    """How many more statements a transaction opened with `one_statement=True` may run (None: any)."""

    def __init__(self, statements: int | None) -> None:
        self._statements = statements

    def _spend(self) -> None:
        if self._statements is not None:
            if self._statements == 0:
                raise RuntimeError("this transaction was opened for one statement (one_statement=True)")
            self._statements -= 1


class _Sqlite(_Budget):
    def __init__(self, connection: sqlite3.Connection, *, statements: int | None = None) -> None:
        super().__init__(statements)
        self._connection = connection

    def _cursor(self, query: Query, params: Mapping[str, Any]) -> sqlite3.Cursor:
        self._spend()
        sql, arguments = query.arguments(_SQLITE, params)
        try:
            return self._connection.execute(sql, [_sqlite_value(value) for value in arguments])
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise ForeignKeyViolation(str(exc)) from exc
            raise

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        row: Row | None = self._cursor(query, params).fetchone()
        return row

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        rows: list[Row] = self._cursor(query, params).fetchall()
        return rows

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        return self._cursor(query, params).rowcount


class _Postgres(_Budget):
    def __init__(self, connection: asyncpg.Connection, *, statements: int | None = None) -> None:
        super().__init__(statements)
        self._connection = connection

    def _sql(self, query: Query, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        self._spend()
        return query.arguments(_POSTGRES, params)

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        sql, arguments = self._sql(query, params)
        try:
            row: Row | None = await self._connection.fetchrow(sql, *arguments)
        except asyncpg.ForeignKeyViolationError as exc:
            raise ForeignKeyViolation(str(exc)) from exc
        return row

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        sql, arguments = self._sql(query, params)
        return list(await self._connection.fetch(sql, *arguments))

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        sql, arguments = self._sql(query, params)
        try:
            status: str = await self._connection.execute(sql, *arguments)
        except asyncpg.ForeignKeyViolationError as exc:
            raise ForeignKeyViolation(str(exc)) from exc
        count = status.rsplit(" ", 1)[-1]
        return int(count) if count.isdigit() else 0


class Database:
    """The connections of one process: a pool per backend, opened on first use."""

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
        pool_size: int = 4,
        max_overflow: int = 0,
        pool_timeout: float = 10.0,
        sqlite_busy_timeout_ms: int = 5000,
    ) -> None:
        self.url = make_url(url)
        self.backend = "sqlite" if self.url.get_backend_name() == "sqlite" else "postgresql"
        self._pool_size = pool_size
        self._max_size = pool_size + max_overflow
        self._pool_timeout = pool_timeout
        self._busy_timeout_ms = sqlite_busy_timeout_ms
        self._pg_pool: asyncpg.Pool | None = None
        self._pg_lock: asyncio.Lock | None = None
        # Requests queue for connections here, first come first served: waiting on asyncpg's pool
        # directly lets a request that has just arrived take a connection ahead of one that has waited.
        self._pg_gate: asyncio.Semaphore | None = None
        self._sqlite_reader: Transaction | None = None
        self._sqlite_writer: sqlite3.Connection | None = None
        self._sqlite_connections: list[sqlite3.Connection] = []
        self._write_lock: asyncio.Lock | None = None

    def prepare(self) -> None:
        """Make the database reachable before the first connection (see `prepare_url`)."""
        prepare_url(str(self.url))

    def transaction(
        self, *, write: bool = False, one_statement: bool = False
    ) -> AbstractAsyncContextManager[Transaction]:
        """A transaction that commits when the block ends and rolls back when it raises.

        `one_statement=True` promises a single statement (the executor refuses a second): on PostgreSQL it
        then runs without BEGIN and COMMIT, atomic on its own, in one round trip instead of three, and
        commits as it runs. Use it only where nothing in the block can fail after the statement.
        """
        if self.backend == "postgresql":
            return self._postgres(write=write, one_statement=one_statement)
        if write:
            return self._sqlite_write(one_statement=one_statement)
        if self._sqlite_reader is None:
            self._sqlite_reader = Transaction.over(_Sqlite(self._sqlite_connect(busy_timeout_ms=self._busy_timeout_ms)))
        return _Ready(self._sqlite_reader)

    @asynccontextmanager
    async def _postgres(self, *, write: bool, one_statement: bool) -> AsyncIterator[Transaction]:
        pool = await self._pool()
        gate = self._pg_gate
        assert gate is not None  # noqa: S101 - made with the pool
        if gate.locked():
            async with asyncio.timeout(self._pool_timeout):
                await gate.acquire()
        else:
            await gate.acquire()
        try:
            async with pool.acquire() as connection:
                if not write:
                    yield Transaction.over(_Postgres(connection))
                    return
                if one_statement:
                    yield Transaction.over(_Postgres(connection, statements=1))
                    return
                async with connection.transaction():
                    yield Transaction.over(_Postgres(connection))
        finally:
            gate.release()

    async def _pool(self) -> asyncpg.Pool:
        if self._pg_pool is None:
            if self._pg_lock is None:
                self._pg_lock = asyncio.Lock()
            async with self._pg_lock:
                if self._pg_pool is None:
                    dsn = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
                    self._pg_gate = asyncio.Semaphore(self._max_size)
                    self._pg_pool = await asyncpg.create_pool(
                        dsn,
                        min_size=self._pool_size,
                        max_size=self._max_size,
                        reset=_keep_session,
                        # Bounds each (re)connect too, so no request waits longer for a connection.
                        timeout=self._pool_timeout,
                    )
        return self._pg_pool

    @asynccontextmanager
    async def _sqlite_write(self, *, one_statement: bool) -> AsyncIterator[Transaction]:
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        async with self._write_lock:
            if self._sqlite_writer is None:
                # Busy timeout 0: BEGIN IMMEDIATE fails at once while another process writes, and
                # `_begin_immediate` waits without blocking the event loop.
                self._sqlite_writer = self._sqlite_connect(busy_timeout_ms=0)
            connection = self._sqlite_writer
            await self._begin_immediate(connection)
            try:
                yield Transaction.over(_Sqlite(connection, statements=1 if one_statement else None))
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            try:
                connection.execute("COMMIT")
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")

    async def _begin_immediate(self, connection: sqlite3.Connection) -> None:
        """Take the write lock without blocking the event loop while another process holds it: try at
        once, and on "database is locked" sleep asynchronously and retry, up to the busy timeout."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        delay = 0.001
        while True:
            try:
                connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _sqlite_connect(self, *, busy_timeout_ms: int) -> sqlite3.Connection:
        path = self.url.database
        if path in (None, "", ":memory:"):
            # Reads and writes use two connections: two private in-memory databases would never meet.
            raise ValueError(f"{self.url}: SQLite needs a database file, not an in-memory database")
        # isolation_level=None: the driver never begins transactions on its own; we say BEGIN.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
        if str(mode).lower() != "wal":
            # Without WAL a COMMIT waits for readers, and the write connection does not wait (busy timeout 0).
            connection.close()
            raise RuntimeError(f"{path}: SQLite could not switch to WAL journaling (it is {mode}); taskapi needs it")
        for pragma in (
            "PRAGMA synchronous=NORMAL",
            f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
            "PRAGMA foreign_keys=ON",
        ):
            connection.execute(pragma)
        self._sqlite_connections.append(connection)
        return connection

    async def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None before the first migration)."""
        try:
            async with self.transaction() as tx:
                row = await tx.connection.one(_ALEMBIC_VERSION, {})
        except (sqlite3.OperationalError, asyncpg.UndefinedTableError):
            return None
        return None if row is None else str(row[0])

    async def dispose(self) -> None:
        """Close every pooled connection."""
        if self._pg_pool is not None:
            await self._pg_pool.close()
            self._pg_pool = None
        self._sqlite_reader = self._sqlite_writer = None
        while self._sqlite_connections:
            self._sqlite_connections.pop().close()


async def _keep_session(_connection: asyncpg.Connection) -> None:
    """Return a connection to the pool as it is. asyncpg's default reset (a round trip per release:
    RESET ALL, UNLISTEN, advisory unlocks) undoes what taskapi never does; an open transaction is still
    rolled back by asyncpg itself."""


_ALEMBIC_VERSION = Query(text("SELECT version_num FROM alembic_version"))


def prepare_url(url: str) -> None:
    """Create the directory of a SQLite file, so a fresh checkout starts without set-up."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
