"""Unexpected failures: a 500 problem document with nothing of the internals, and nothing half-written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from taskapi.app import SchemaNotMigrated, create_app
from taskapi.settings import Settings
from tests.api.problems import assert_problem

pytestmark = pytest.mark.anyio


def _path(database_url: str) -> str:
    return database_url.removeprefix("sqlite+aiosqlite:///")


async def test_a_database_failure_is_a_bare_500(client: httpx.AsyncClient, database_url: str) -> None:
    with sqlite3.connect(_path(database_url)) as connection:
        connection.execute("ALTER TABLE tasks RENAME TO gone")
    response = await client.get("/tasks")
    problem = assert_problem(response, 500)
    assert problem["detail"] == "The server failed to handle the request."
    for leak in ("sqlite", "gone", "tasks", "SELECT", "Error"):
        assert leak not in problem["detail"]
    assert set(problem) == {"type", "title", "status", "detail", "instance"}


async def test_a_failed_write_leaves_nothing_behind(client: httpx.AsyncClient, database_url: str) -> None:
    # The database refuses the insert: the client gets a bare 500, the table stays as it was.
    with sqlite3.connect(_path(database_url)) as connection:
        connection.execute(
            "CREATE TRIGGER refuse_boom AFTER INSERT ON tasks WHEN NEW.title = 'boom' "
            "BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    assert_problem(await client.post("/tasks", json={"title": "boom"}), 500)
    with sqlite3.connect(_path(database_url)) as connection:
        assert connection.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
    assert (await client.post("/tasks", json={"title": "fine"})).status_code == 201


async def test_the_server_refuses_to_start_on_an_unmigrated_database(tmp_path: Path, settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"database_url": f"sqlite+aiosqlite:///{tmp_path}/empty.db"}))
    with pytest.raises(SchemaNotMigrated, match="taskapi migrate"):
        async with app.router.lifespan_context(app):
            pass
