"""Test databases on either backend, chosen per run: TASKAPI_TEST_BACKEND=sqlite (the default) or
postgresql (the server at TASKAPI_TEST_POSTGRES_URL, default postgres@127.0.0.1:5432, trust auth).

Every run makes its own databases (files under pytest's tmp dir, or PostgreSQL databases named
taskapi_test_<random>) and drops them at the end, so parallel runs cannot interfere.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from taskapi.storage.urls import DatabaseUrl

BACKEND = os.environ.get("TASKAPI_TEST_BACKEND", "sqlite")
POSTGRES_URL = os.environ.get("TASKAPI_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
T = TypeVar("T")
if BACKEND not in ("sqlite", "postgresql"):
    raise RuntimeError(f"TASKAPI_TEST_BACKEND must be sqlite or postgresql, not {BACKEND!r}")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(_dsn(POSTGRES_URL), timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def postgres_reachable() -> str | None:
    """None when the PostgreSQL server answers; otherwise why not."""
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Databases:
    """Makes fresh, empty databases of the run's backend, and drops them all at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.backend = BACKEND
        self._created: list[str] = []

    def fresh(self) -> str:
        """The URL of a new, empty database."""
        name = f"taskapi_test_{os.getpid()}_{secrets.token_hex(4)}"
        if self.backend == "sqlite":
            return f"sqlite:///{self.directory / name}.db"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
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


def reset(url: str) -> None:
    """Empty every table of a migrated database and restart its ids (PostgreSQL)."""
    asyncio.run(execute(url, "TRUNCATE tasks, users RESTART IDENTITY CASCADE"))


if __name__ == "__main__":
    # `python -m tests.databases`: exit 0 when the PostgreSQL test server answers, else say why.
    import sys

    problem = postgres_reachable()
    if problem:
        print(f"no PostgreSQL at {make_url(POSTGRES_URL).render_as_string()}: {problem}")
    sys.exit(1 if problem else 0)
