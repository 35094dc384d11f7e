"""Alembic owns the schema: upgrade, downgrade, and the server's start-up check."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from taskapi.storage import Database
from taskapi.storage.migrate import alembic_config, head_revision, upgrade


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


async def _revision(url: str) -> str | None:
    db = Database(url)
    try:
        return await db.schema_revision()
    finally:
        await db.dispose()


def test_upgrade_creates_the_schema_and_records_the_revision(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "taskapi.db"
    url = f"sqlite+aiosqlite:///{path}"
    assert asyncio.run(_revision(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")) is None
    upgrade(url)
    assert {"tasks", "alembic_version"} <= _tables(path)
    assert asyncio.run(_revision(url)) == head_revision()


def test_downgrade_removes_it_again(tmp_path: Path) -> None:
    from alembic import command

    path = tmp_path / "taskapi.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    command.downgrade(alembic_config(url), "base")
    assert "tasks" not in _tables(path)
    upgrade(url)
    assert "tasks" in _tables(path)


def test_the_migrated_schema_matches_the_table_definitions(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    from taskapi.storage.tables import metadata

    path = tmp_path / "taskapi.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_tasks_from_before_users_survive_without_an_owner(tmp_path: Path) -> None:
    path = tmp_path / "taskapi.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0001")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO tasks (title, description, priority, completed, created_at, updated_at) "
            "VALUES ('old', NULL, 3, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    upgrade(url)
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT title, priority, owner_id FROM tasks").fetchall() == [("old", 3, None)]
