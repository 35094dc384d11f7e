"""Alembic environment: runs the migrations on the URL given by `taskapi migrate` or TASKAPI_DATABASE_URL,
through SQLAlchemy: SQLite on the standard sqlite3 driver, PostgreSQL on asyncpg."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from taskapi.settings import Settings
from taskapi.storage.tables import metadata
from taskapi.storage.urls import DatabaseUrl


def _url() -> DatabaseUrl:
    url = context.config.attributes.get("database_url")
    return DatabaseUrl.parse(str(url) if url else Settings().database_url)


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_online(url: DatabaseUrl) -> None:
    if url.backend == "postgresql":
        asyncio.run(_run_async(url.sqlalchemy))
        return
    engine = create_engine(url.sqlalchemy, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url().sqlalchemy, target_metadata=metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    _run_online(_url())
