"""Alembic owns the schema: upgrade, downgrade, data kept across versions, and the start-up check."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from taskapi.storage import database_at
from taskapi.storage.migrate import alembic_config, head_revision, upgrade
from taskapi.storage.tables import metadata
from taskapi.testing.databases import execute, on_connection

pytestmark = pytest.mark.postgresql


async def _revision(url: str) -> str | None:
    db = database_at(url)
    await db.open()
    try:
        return await db.schema_revision()
    finally:
        await db.close()


async def _inspect(url: str) -> tuple[set[str], list[object]]:
    def work(connection: Connection) -> tuple[set[str], list[object]]:
        tables = set(inspect(connection).get_table_names())
        return tables, list(compare_metadata(MigrationContext.configure(connection), metadata))

    return await on_connection(url, work)


def test_upgrade_creates_the_schema_the_tables_describe(empty_database_url: str) -> None:
    url = empty_database_url
    assert asyncio.run(_revision(url)) is None
    upgrade(url)
    tables, diff = asyncio.run(_inspect(url))
    assert {"tasks", "users", "alembic_version"} <= tables
    assert diff == []
    assert asyncio.run(_revision(url)) == head_revision()


def test_downgrade_removes_it_again(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    assert asyncio.run(_inspect(url))[0] == {"alembic_version"}
    upgrade(url)
    assert "tasks" in asyncio.run(_inspect(url))[0]


def test_tasks_from_before_users_survive_without_an_owner(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0001")
    asyncio.run(
        execute(
            url,
            "INSERT INTO tasks (title, description, priority, completed, created_at, updated_at) "
            "VALUES ('old', NULL, 3, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        )
    )
    upgrade(url)
    rows = asyncio.run(execute(url, "SELECT title, priority, owner_id FROM tasks"))
    assert rows == [("old", 3, None)]
