"""A deleted account's token: refused once the worker looks the account up again, and never able to
create a task or read the account in the meantime (TASKAPI_ACCOUNT_RECHECK_SECONDS). Time is the
app's manual clock: the window is exact, however slow the machine."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from taskapi.testing.databases import execute
from tests.api.conftest import JWT_SECRET, User
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]
WINDOW = 30.0


@pytest.fixture(params=[0.0, WINDOW], ids=["looked-up-every-request", "looked-up-every-30s"])
def settings(request: pytest.FixtureRequest, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=SecretStr(JWT_SECRET),
        env="production",
        account_recheck_seconds=request.param,
    )


async def test_the_token_of_a_deleted_account_is_refused(
    alice: User, settings: Settings, database_url: str, clock: ManualClock
) -> None:
    task = (await alice.client.post("/tasks", json={"title": "t"})).json()
    await execute(database_url, "DELETE FROM users WHERE id = :id", {"id": alice.id})
    assert await execute(database_url, "SELECT title FROM tasks") == []  # alice's task went with her

    created = await alice.client.post("/tasks", json={"title": "after deletion"})
    assert_problem(created, 401)
    assert created.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert await execute(database_url, "SELECT title FROM tasks") == []
    assert_problem(await alice.client.get("/users/me"), 401)

    if settings.account_recheck_seconds:
        # Inside the window the token still passes, and finds nothing: its tasks went with the account.
        clock.advance(WINDOW - 1)
        listed = await alice.client.get("/tasks")
        assert listed.status_code == 200
        assert listed.json()["items"] == []
        assert_problem(await alice.client.get(f"/tasks/{task['id']}"), 404)
        assert_problem(await alice.client.patch(f"/tasks/{task['id']}", json={"title": "x"}), 404)
        assert_problem(await alice.client.patch(f"/tasks/{task['id']}/complete"), 404)
        assert_problem(await alice.client.delete(f"/tasks/{task['id']}"), 404)
        clock.advance(1)
    for method, path in (("GET", "/tasks"), ("GET", f"/tasks/{task['id']}"), ("DELETE", f"/tasks/{task['id']}")):
        refused = await alice.client.request(method, path)
        assert_problem(refused, 401)
        assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_the_account_is_read_as_stored_not_as_last_confirmed(alice: User, database_url: str) -> None:
    assert (await alice.client.get("/tasks")).status_code == 200  # the account is confirmed, and remembered
    await execute(database_url, "UPDATE users SET username = 'renamed' WHERE id = :id", {"id": alice.id})
    assert (await alice.client.get("/users/me")).json()["username"] == "renamed"
