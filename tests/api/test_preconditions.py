"""TASKAPI_REQUIRE_IF_MATCH=true, in-process: a task write without If-Match is 428, and `If-Match: *`
satisfies the requirement without naming a version (for a task that exists). Versions, 412s and races
over real HTTP: tests/contract/test_conditional_requests.py."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from taskapi.settings import Settings
from tests.api.conftest import JWT_SECRET, SignIn
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]

WRITES = ["update", "complete", "delete"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), require_if_match=True)


async def write(client: httpx.AsyncClient, operation: str, task_id: int, headers: dict[str, str]) -> httpx.Response:
    if operation == "update":
        return await client.patch(f"/tasks/{task_id}", json={"priority": 5}, headers=headers)
    if operation == "complete":
        return await client.patch(f"/tasks/{task_id}/complete", headers=headers)
    return await client.delete(f"/tasks/{task_id}", headers=headers)


async def changed_task(client: httpx.AsyncClient) -> dict[str, object]:
    """A task at version "2" (a write with If-Match: * made it so)."""
    task = (await client.post("/tasks", json={"title": "t"})).json()
    changed = await client.patch(f"/tasks/{task['id']}", json={"title": "changed"}, headers={"If-Match": "*"})
    assert (changed.status_code, changed.headers.get("ETag")) == (200, '"2"'), changed.text
    return dict(changed.json())


@pytest.mark.parametrize("operation", WRITES)
async def test_a_write_without_if_match_is_428_and_changes_nothing(client: httpx.AsyncClient, operation: str) -> None:
    task = await changed_task(client)
    assert_problem(await write(client, operation, int(str(task["id"])), {}), 428)
    after = await client.get(f"/tasks/{task['id']}")
    assert (after.json(), after.headers["ETag"]) == (task, '"2"')


@pytest.mark.parametrize("operation", WRITES)
async def test_if_match_star_satisfies_the_requirement_without_a_version(
    client: httpx.AsyncClient, operation: str
) -> None:
    task = await changed_task(client)
    response = await write(client, operation, int(str(task["id"])), {"If-Match": "*"})
    if operation == "delete":
        assert response.status_code == 204, response.text
        assert_problem(await client.get(f"/tasks/{task['id']}"), 404)
    else:
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"3"'


@pytest.mark.parametrize("operation", WRITES)
async def test_if_match_star_on_a_missing_or_another_users_task_is_404(
    client: httpx.AsyncClient, sign_in: SignIn, operation: str
) -> None:
    task = await changed_task(client)
    bob = await sign_in("bob")
    assert_problem(await write(bob.client, operation, int(str(task["id"])), {"If-Match": "*"}), 404)
    assert_problem(await write(client, operation, 424242, {"If-Match": "*"}), 404)
    assert (await client.get(f"/tasks/{task['id']}")).json() == task
