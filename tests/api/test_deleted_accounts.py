"""A deleted account's token: refused once the worker looks the account up again, and never able to
create a task in the meantime (TASKAPI_ACCOUNT_RECHECK_SECONDS)."""

from __future__ import annotations

import anyio
import pytest
from pydantic import SecretStr

from taskapi.settings import Settings
from taskapi.testing.databases import execute
from tests.api.conftest import JWT_SECRET, User
from tests.api.problems import assert_problem

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[0.0, 0.3], ids=["looked-up-every-request", "looked-up-every-0.3s"])
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=SecretStr(JWT_SECRET),
        env="production",
        account_recheck_seconds=request.param,
    )


async def test_the_token_of_a_deleted_account_is_refused(alice: User, settings: Settings, database_url: str) -> None:
    assert (await alice.client.post("/tasks", json={"title": "t"})).status_code == 201
    await execute(database_url, "DELETE FROM users WHERE id = :id", {"id": alice.id})

    created = await alice.client.post("/tasks", json={"title": "after deletion"})
    assert_problem(created, 401)
    assert created.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert await execute(database_url, "SELECT title FROM tasks") == []  # alice's first task went with her

    me = await alice.client.get("/users/me")
    assert_problem(me, 401)

    listed = await alice.client.get("/tasks")
    if settings.account_recheck_seconds:
        # Inside the window: the account's tasks went with it.
        assert listed.status_code == 200
        assert listed.json()["items"] == []
        await anyio.sleep(settings.account_recheck_seconds + 0.05)
        listed = await alice.client.get("/tasks")
    assert_problem(listed, 401)
    assert listed.headers["www-authenticate"] == 'Bearer error="invalid_token"'
