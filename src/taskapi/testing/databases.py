"""Throwaway databases on either backend, and direct access to them for tests and the benchmark.

The backend of a test run is TASKAPI_TEST_BACKEND (`sqlite`, the default, or `postgresql`: the server
at TASKAPI_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432, trust auth). Every run makes its own
databases (files in a temporary directory, or PostgreSQL databases named `<prefix>_<pid>_<random>`) and
drops them at the end, so parallel runs cannot interfere.

`python -m taskapi.testing.databases` exits 0 when the PostgreSQL test server answers (else says why).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, TypeVar

import asyncpg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from taskapi.storage.urls import DatabaseUrl

T = TypeVar("T")
Backend = Literal["sqlite", "postgresql"]
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def backend_under_test() -> Backend:
    """The backend this test run uses (TASKAPI_TEST_BACKEND)."""
    backend = os.environ.get("TASKAPI_TEST_BACKEND", "sqlite")
    if backend not in ("sqlite", "postgresql"):
        raise ValueError(f"TASKAPI_TEST_BACKEND must be sqlite or postgresql, not {backend!r}")
    return "sqlite" if backend == "sqlite" else "postgresql"


def postgres_admin_url() -> str:
    """The PostgreSQL server tests create their databases on (TASKAPI_TEST_POSTGRES_URL)."""
    return os.environ.get("TASKAPI_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(DatabaseUrl.parse(postgres_admin_url()).postgres_dsn, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_reachable() -> str | None:
    """None when the PostgreSQL test server answers; otherwise why not."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Databases:
    """Makes fresh, empty databases, and drops the PostgreSQL ones at the end (`drop_all`)."""

    def __init__(self, directory: Path, *, prefix: str = "taskapi_test") -> None:
        self.directory = directory
        self.prefix = prefix
        self._created: list[str] = []
        self._templates: dict[Backend, str] = {}

    def _name(self) -> str:
        return f"{self.prefix}_{os.getpid()}_{secrets.token_hex(4)}"

    def _postgres_url(self, name: str) -> str:
        return make_url(postgres_admin_url()).set(database=name).render_as_string(hide_password=False)

    def fresh(self, backend: Backend | None = None) -> str:
        """The URL of a new, empty database of `backend` (default: the test run's)."""
        name = self._name()
        if (backend or backend_under_test()) == "sqlite":
            return f"sqlite:///{self.directory / name}.db"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return self._postgres_url(name)

    def migrated(self, backend: Backend | None = None) -> str:
        """The URL of a new database of `backend` at the newest migration, without its rows: a copy of a
        template migrated once (the file's, or PostgreSQL's `CREATE DATABASE … TEMPLATE`, which copies it
        on the server), far cheaper than migrating each."""
        chosen = backend or backend_under_test()
        template = self._templates.get(chosen)
        if template is None:
            from taskapi.storage.migrate import upgrade

            template = self.fresh(chosen)
            upgrade(template)  # NullPool: no connection stays on the template, which a copy needs
            self._templates[chosen] = template
        if chosen == "sqlite":
            path = self.directory / f"{self._name()}.db"
            shutil.copyfile(DatabaseUrl.parse(template).sqlite_path, path)
            return f"sqlite:///{path}"
        name = self._name()
        asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(template).database}"'))
        self._created.append(name)
        return self._postgres_url(name)

    def drop_all(self) -> None:
        """Drop every PostgreSQL database made here (SQLite files go with their directory)."""
        for name in self._created:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._created.clear()


async def on_connection(url: str, work: Callable[[Connection], T]) -> T:
    """`work(connection)` on a SQLAlchemy connection of its own, in a transaction committed at the end."""
    parsed = DatabaseUrl.parse(url)
    if parsed.backend == "sqlite":
        engine = create_engine(parsed.sqlalchemy, poolclass=NullPool)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql("PRAGMA foreign_keys = ON")
                return work(connection)
        finally:
            engine.dispose()
    async_engine = create_async_engine(parsed.sqlalchemy, poolclass=NullPool)
    try:
        async with async_engine.begin() as async_connection:
            return await async_connection.run_sync(work)
    finally:
        await async_engine.dispose()


async def execute(url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one SQL statement on its own connection, committed; the rows it returns, if any."""

    def run(connection: Connection) -> list[tuple[Any, ...]]:
        result = connection.execute(text(sql), params or {})
        return [tuple(row) for row in result] if result.returns_rows else []

    return await on_connection(url, run)


def lock_waiters(url: str) -> int:
    """PostgreSQL: how many connections to the database wait for a lock now (pg_stat_activity)."""
    sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    [(count,)] = asyncio.run(execute(url, sql))
    return int(count)


def reset(url: str) -> None:
    """Empty every table of a migrated database and restart its ids (PostgreSQL)."""
    asyncio.run(execute(url, "TRUNCATE tasks, users RESTART IDENTITY CASCADE"))


@contextmanager
def write_lock_held(url: str, table: str = "tasks") -> Iterator[None]:
    """Hold the database's write lock on `table` from another connection until the block ends: SQLite's
    file lock (BEGIN IMMEDIATE: every table), or PostgreSQL's exclusive lock on that table. Writers wait."""
    parsed = DatabaseUrl.parse(url)
    if parsed.backend == "sqlite":
        holder = sqlite3.connect(parsed.sqlite_path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    locked, release = threading.Event(), threading.Event()
    failure: list[BaseException] = []

    async def hold() -> None:
        connection = await asyncpg.connect(parsed.postgres_dsn, timeout=5)
        try:
            async with connection.transaction():
                await connection.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
                locked.set()
                await asyncio.to_thread(release.wait)
        finally:
            await connection.close()

    def run() -> None:
        try:
            asyncio.run(hold())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            locked.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    locked.wait(10)
    if failure:
        raise failure[0]
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def main() -> int:
    """`python -m taskapi.testing.databases`: 0 when the PostgreSQL test server answers."""
    problem = postgres_reachable()
    if problem:
        print(f"no PostgreSQL at {make_url(postgres_admin_url()).render_as_string()}: {problem}")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
