"""SQLite on the standard sqlite3 driver, in the event loop's thread.

A point query takes microseconds, less than handing it to a driver thread would (measured in
bench/README.md, with the GIL convoy a thread pool makes under load). Each process keeps two
connections:

- one for reads, shared by every request: each read is a single statement, which in WAL mode sees one
  committed snapshot, so requests need no BEGIN/COMMIT of their own;
- one for writes, given to one writer at a time by an asyncio lock. A single statement runs on its
  own (autocommit); a transaction begins with `BEGIN IMMEDIATE`, taking the write lock up front, so
  writers never deadlock upgrading a read lock. While another process holds the write lock, the
  writer retries with `asyncio.sleep` up to the busy timeout, so the event loop keeps serving.

SQLite has no timestamp or boolean type: timestamps are stored as UTC text without an offset
(`2026-11-30 09:30:00.123456`, the format SQLAlchemy's DateTime uses) and booleans as 0/1. The two
conversions below are the only place either is translated.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar

from sqlalchemy import text
from sqlalchemy.dialects import sqlite

from taskapi.storage.database import DatabaseUnavailable, Repositories
from taskapi.storage.idempotency import IdempotencyRepository
from taskapi.storage.sql import ForeignKeyViolation, Query, ResultKind, Row
from taskapi.storage.tasks import TaskRepository
from taskapi.storage.urls import DatabaseUrl
from taskapi.storage.users import UserRepository

logger = logging.getLogger("taskapi.storage")
_DIALECT = sqlite.pysqlite.dialect()
_ALEMBIC_VERSION = Query(text("SELECT version_num FROM alembic_version"))
_PING = Query(text("SELECT 1 FROM alembic_version"))
_STORED = "%Y-%m-%d %H:%M:%S.%f"
# Pages of WAL after which a commit checkpoints (SQLite's default: 1,000).
WAL_AUTOCHECKPOINT_PAGES = 10_000
T = TypeVar("T")


def _to_sqlite(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime: taskapi stores aware UTC datetimes")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # The text _STORED describes (isoformat writes it several times faster than strftime).
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _from_sqlite_datetime(value: str) -> datetime:
    try:
        # Naming the zone in the text is several times faster than datetime.replace(tzinfo=...).
        return datetime.fromisoformat(value + "+00:00")
    except ValueError:  # text written with an offset of its own
        return datetime.fromisoformat(value).astimezone(UTC)


_PARSERS: dict[str, Callable[[Any], Any]] = {"datetime": _from_sqlite_datetime, "boolean": bool}


_CONVERTERS: dict[Query, Callable[[Row], Row] | None] = {}


def _row_converter(query: Query) -> Callable[[Row], Row] | None:
    """A function that turns a row's stored timestamps and booleans into Python's (None: nothing to do),
    made once per statement."""
    try:
        return _CONVERTERS[query]
    except KeyError:
        _CONVERTERS[query] = converter = _converter(query.result_kinds)
        return converter


def _converter(kinds: tuple[ResultKind, ...]) -> Callable[[Row], Row] | None:
    parsers = [(index, _PARSERS[kind]) for index, kind in enumerate(kinds) if kind is not None]
    if not parsers:
        return None

    def convert(row: Row) -> Row:
        values = list(row)
        for index, parse in parsers:
            if values[index] is not None:
                values[index] = parse(values[index])
        return values

    return convert


def _locked(exc: sqlite3.OperationalError) -> bool:
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


# Errors of the file, not of the statement: the disk failed or is full, the file cannot be opened or
# written (a full disk, a read-only mount, a lock protocol error). A statement that meets one fails with
# DatabaseUnavailable (a 503); the next may succeed.
_UNAVAILABLE = frozenset(
    (
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_PROTOCOL,
    )
)


def _unavailable(exc: sqlite3.OperationalError) -> NoReturn:
    """Raise what a failed statement means: DatabaseUnavailable when the file, not the statement, failed
    (locked past the busy timeout, I/O, full, read-only); else the error itself."""
    code = exc.sqlite_errorcode & 0xFF
    if code in _UNAVAILABLE or _locked(exc):
        raise DatabaseUnavailable(f"{exc} ({exc.sqlite_errorname})") from exc
    raise exc


class _Connection:
    """Runs statements on one sqlite3 connection (an `Executor`)."""

    __slots__ = ("connection",)

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, query: Query, params: Mapping[str, Any]) -> tuple[list[Row], int]:
        """Run the statement to completion: its rows (converted) and how many rows it changed."""
        sql, arguments = query.arguments(_DIALECT, params)
        try:
            cursor = self.connection.execute(
                sql, [_to_sqlite(value) if isinstance(value, datetime) else value for value in arguments]
            )
            rows: list[Row] = cursor.fetchall()
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" in str(exc):
                raise ForeignKeyViolation(str(exc)) from exc
            raise
        convert = _row_converter(query)
        return ([convert(row) for row in rows] if convert else rows), cursor.rowcount

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        rows, _ = self.execute(query, params)
        return rows[0] if rows else None

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        return self.execute(query, params)[0]

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        return self.execute(query, params)[1]

    async def try_lock(self, key: int) -> bool:
        # Inside a transaction this connection holds the database's write lock: no other writer runs.
        return True


class _Statements:
    """Each statement on its own: reads on the shared read connection, writes on the write connection
    (autocommit), waiting for another process's write lock without blocking the loop."""

    __slots__ = ("_db",)

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def _write(self, query: Query, params: Mapping[str, Any]) -> tuple[list[Row], int]:
        started = time.perf_counter()
        async with self._db.write_lock:
            if self._db.wait_observer is not None:
                self._db.wait_observer(time.perf_counter() - started)
            writer = self._db.writer
            return await self._db.while_locked(lambda: writer.execute(query, params))

    async def _run(self, query: Query, params: Mapping[str, Any]) -> tuple[list[Row], int]:
        if query.writes:
            return await self._write(query, params)
        try:
            return self._db.reader.execute(query, params)
        except sqlite3.OperationalError as exc:
            _unavailable(exc)

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        rows, _ = await self._run(query, params)
        return rows[0] if rows else None

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        return (await self._run(query, params))[0]

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        return (await self._run(query, params))[1]

    async def try_lock(self, key: int) -> bool:
        raise RuntimeError("try_lock needs a transaction: a statement's own lock ends with it")


class SqliteDatabase:
    """A SQLite database file, in WAL mode (implements `Database`)."""

    def __init__(self, url: DatabaseUrl, *, busy_timeout_ms: int = 5000) -> None:
        self._url = url
        self._busy_timeout = busy_timeout_ms / 1000
        self._reader: _Connection | None = None
        self._writer: _Connection | None = None
        self._write_lock: asyncio.Lock | None = None
        self._in_transaction: Repositories | None = None  # the repositories over the write connection
        self.wait_observer: Callable[[float], None] | None = None
        statements = Repositories.over(_Statements(self))
        self.tasks: TaskRepository = statements.tasks
        self.users: UserRepository = statements.users
        self.idempotency: IdempotencyRepository = statements.idempotency

    @property
    def reader(self) -> _Connection:
        """The shared read connection."""
        if self._reader is None:
            raise DatabaseUnavailable("the database is not open")
        return self._reader

    @property
    def writer(self) -> _Connection:
        """The write connection (hold `write_lock`)."""
        if self._writer is None:
            raise DatabaseUnavailable("the database is not open")
        return self._writer

    @property
    def write_lock(self) -> asyncio.Lock:
        """Held by the one writer of this process."""
        if self._write_lock is None:
            raise DatabaseUnavailable("the database is not open")
        return self._write_lock

    async def open(self) -> None:
        if self._reader is not None:
            return
        self._url.ensure_directory()
        self._reader = _Connection(self._connect(busy_timeout_ms=int(self._busy_timeout * 1000)))
        # Busy timeout 0: a write fails at once while another process writes, and `while_locked` waits
        # without blocking the event loop.
        self._writer = _Connection(self._connect(busy_timeout_ms=0))
        self._in_transaction = Repositories.over(self._writer)
        self._write_lock = asyncio.Lock()

    def _connect(self, *, busy_timeout_ms: int) -> sqlite3.Connection:
        path = self._url.sqlite_path
        # isolation_level=None: the driver never begins transactions on its own; we say BEGIN.
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            (mode,) = connection.execute("PRAGMA journal_mode=WAL").fetchone()
            if str(mode).lower() != "wal":
                # Without WAL a COMMIT waits for readers, and the write connection does not wait. (WAL
                # needs shared-memory locks: a network filesystem without them keeps `delete`.)
                raise RuntimeError(
                    f"{path}: SQLite could not switch to WAL journaling (it is {mode}); taskapi needs it"
                )
            for pragma in (
                "PRAGMA synchronous=NORMAL",
                # Checkpoint (copy the WAL into the file, and fsync) every ~40 MB of WAL, not every 4 MB:
                # the fsyncs were a large share of a small write's cost (bench/README.md, idempotency).
                f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}",
                f"PRAGMA busy_timeout={int(busy_timeout_ms)}",
                "PRAGMA foreign_keys=ON",
            ):
                connection.execute(pragma)
        except BaseException:
            connection.close()
            raise
        return connection

    async def while_locked(self, attempt: Callable[[], T]) -> T:
        """`attempt()`, retried while another process holds the write lock, up to the busy timeout; then,
        or when the file fails, DatabaseUnavailable."""
        deadline = time.monotonic() + self._busy_timeout
        delay = 0.001
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() + delay > deadline:
                    _unavailable(exc)
            if delay == 0.001:
                logger.debug("a write waits for another connection's lock on %s", self._url.sqlite_path)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def transaction(self) -> AbstractAsyncContextManager[Repositories]:
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Repositories]:
        started = time.perf_counter()
        async with self.write_lock:
            if self.wait_observer is not None:
                self.wait_observer(time.perf_counter() - started)
            connection = self.writer.connection
            repositories = self._in_transaction
            assert repositories is not None  # noqa: S101 - made with the writer, which self.writer checked
            await self.while_locked(lambda: connection.execute("BEGIN IMMEDIATE"))
            try:
                yield repositories
            except BaseException as exc:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    _unavailable(exc)
                raise
            try:
                connection.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                _unavailable(exc)
            finally:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")

    async def ping(self) -> None:
        try:
            self.reader.execute(_PING, {})
        except sqlite3.OperationalError as exc:
            _unavailable(exc)

    async def schema_revision(self) -> str | None:
        try:
            rows, _ = self.reader.execute(_ALEMBIC_VERSION, {})
        except sqlite3.OperationalError:
            return None
        return str(rows[0][0]) if rows else None

    async def close(self) -> None:
        for connection in (self._reader, self._writer):
            if connection is not None:
                connection.connection.close()
        self._reader = self._writer = None
        self._write_lock = None
