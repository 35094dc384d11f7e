"""Unexpected failures: a 500 problem document with nothing of the internals, and nothing half-written."""

from __future__ import annotations

import httpx
import pytest

from taskapi.app import SchemaNotMigrated, create_app
from taskapi.auth import Tokens
from taskapi.settings import Settings
from taskapi.testing.databases import backend_under_test, execute
from tests.api.conftest import User
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]


async def test_a_database_failure_is_a_bare_500(broken_request: httpx.Response) -> None:
    response = broken_request
    problem = assert_problem(response, 500)
    assert problem["detail"] == "The server failed to handle the request."
    for leak in ("sqlite", "postgres", "gone", "relation", "SELECT", "Traceback", "OperationalError"):
        assert leak.lower() not in response.text.lower()
    assert set(problem) == {"type", "title", "status", "detail", "instance"}


REFUSE_BOOM = {
    "sqlite": [
        "CREATE TRIGGER refuse_boom BEFORE INSERT ON tasks WHEN NEW.title = 'boom' "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    ],
    "postgresql": ["ALTER TABLE tasks ADD CONSTRAINT refuse_boom CHECK (title <> 'boom')"],
}
ALLOW_BOOM = {
    "sqlite": ["DROP TRIGGER refuse_boom"],
    "postgresql": ["ALTER TABLE tasks DROP CONSTRAINT refuse_boom"],
}


async def test_a_failed_write_leaves_nothing_behind(client: httpx.AsyncClient, database_url: str) -> None:
    # The database refuses the insert: the client gets a bare 500, the table stays as it was.
    for statement in REFUSE_BOOM[backend_under_test()]:
        await execute(database_url, statement)
    try:
        assert_problem(await client.post("/tasks", json={"title": "boom"}), 500)
        assert await execute(database_url, "SELECT count(*) FROM tasks") == [(0,)]
        assert (await client.post("/tasks", json={"title": "fine"})).status_code == 201
    finally:
        for statement in ALLOW_BOOM[backend_under_test()]:
            await execute(database_url, statement)


async def test_the_server_refuses_to_start_on_an_unmigrated_database(
    empty_database_url: str, settings: Settings
) -> None:
    app = create_app(settings.model_copy(update={"database_url": empty_database_url}))
    with pytest.raises(SchemaNotMigrated, match="taskapi migrate"):
        async with app.router.lifespan_context(app):
            pass


async def test_a_closed_database_is_503_with_retry_after(settings: Settings, tokens: Tokens, alice: User) -> None:
    """What a request meets when it arrives as the server shuts down: the database is closed. It is
    refused with 503 and Retry-After, and nothing is written."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass  # started, then shut down: the database is closed
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {alice.token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
        for response in (await http.get("/tasks"), await http.post("/tasks", json={"title": "late"})):
            problem = assert_problem(response, 503)
            assert response.headers["retry-after"] == "1"
            assert problem["detail"] == "The database is not available right now; retry in a moment."
    assert await execute(settings.database_url, "SELECT count(*) FROM tasks") == [(0,)]
