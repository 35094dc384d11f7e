"""The task operations end to end through the app, over a real SQLite database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/tasks", json={"title": "a task", **body})
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def test_create_returns_the_task_and_its_location(client: httpx.AsyncClient) -> None:
    response = await client.post("/tasks", json={"title": "Write notes", "description": "v1", "priority": 3})
    assert response.status_code == 201
    task = response.json()
    assert response.headers["location"] == f"/tasks/{task['id']}"
    assert task["title"] == "Write notes"
    assert task["description"] == "v1"
    assert task["priority"] == 3
    assert task["completed"] is False
    assert task["created_at"] == task["updated_at"]
    assert task["created_at"].endswith("Z")


async def test_create_applies_the_spec_defaults(client: httpx.AsyncClient) -> None:
    task = await create(client)
    assert task["priority"] == 1
    assert task["description"] is None


async def test_get_returns_what_create_stored(client: httpx.AsyncClient) -> None:
    task = await create(client, description="d", priority=2)
    response = await client.get(f"/tasks/{task['id']}")
    assert response.status_code == 200
    assert response.json() == task


async def test_update_changes_only_the_named_properties(client: httpx.AsyncClient) -> None:
    task = await create(client, description="keep me", priority=2)
    response = await client.patch(f"/tasks/{task['id']}", json={"priority": 5})
    assert response.status_code == 200
    updated = response.json()
    assert updated["priority"] == 5
    assert updated["title"] == task["title"]
    assert updated["description"] == "keep me"
    assert datetime.fromisoformat(updated["updated_at"]) > datetime.fromisoformat(task["updated_at"])
    assert updated["created_at"] == task["created_at"]
    assert (await client.get(f"/tasks/{task['id']}")).json() == updated


async def test_update_with_null_description_clears_it(client: httpx.AsyncClient) -> None:
    task = await create(client, description="temporary")
    response = await client.patch(f"/tasks/{task['id']}", json={"description": None, "completed": True})
    assert response.status_code == 200
    assert response.json()["description"] is None
    assert response.json()["completed"] is True


async def test_complete_is_idempotent(client: httpx.AsyncClient) -> None:
    task = await create(client)
    first = await client.patch(f"/tasks/{task['id']}/complete")
    second = await client.patch(f"/tasks/{task['id']}/complete")
    assert first.status_code == second.status_code == 200
    assert first.json()["completed"] is True
    assert second.json() == first.json()


async def test_delete_removes_the_task_and_its_id_is_never_reused(client: httpx.AsyncClient) -> None:
    task = await create(client)
    response = await client.delete(f"/tasks/{task['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(f"/tasks/{task['id']}"), 404)
    assert_problem(await client.delete(f"/tasks/{task['id']}"), 404)
    assert (await create(client))["id"] > task["id"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/tasks/999", None),
        ("PATCH", "/tasks/999", {"title": "x"}),
        ("PATCH", "/tasks/999/complete", None),
        ("DELETE", "/tasks/999", None),
    ],
)
async def test_unknown_task_is_404(client: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    problem = assert_problem(await client.request(method, path, json=body), 404)
    assert problem["instance"] == path
    assert "999" in problem["detail"]


async def test_list_pages_oldest_first_with_keyset_cursors(client: httpx.AsyncClient) -> None:
    ids = [(await create(client, title=f"t{n}"))["id"] for n in range(7)]
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3} if cursor is None else {"limit": 3, "cursor": cursor}
        response = await client.get("/tasks", params=params)
        assert response.status_code == 200
        page = response.json()
        seen += [task["id"] for task in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert pages == 3


async def test_list_defaults_to_twenty(client: httpx.AsyncClient) -> None:
    for n in range(21):
        await create(client, title=f"t{n}")
    page = (await client.get("/tasks")).json()
    assert len(page["items"]) == 20
    assert page["next_cursor"] is not None


async def test_list_filters_by_completion_and_priority(client: httpx.AsyncClient) -> None:
    low = await create(client, priority=1)
    high = await create(client, priority=5)
    done = await create(client, priority=5)
    await client.patch(f"/tasks/{done['id']}/complete")

    async def ids(**params: str) -> list[int]:
        response = await client.get("/tasks", params=params)
        assert response.status_code == 200
        return [task["id"] for task in response.json()["items"]]

    assert await ids(completed="true") == [done["id"]]
    assert await ids(completed="false") == [low["id"], high["id"]]
    assert await ids(priority="5") == [high["id"], done["id"]]
    assert await ids(priority="5", completed="false") == [high["id"]]


async def test_a_cursor_past_the_end_gives_an_empty_page(client: httpx.AsyncClient) -> None:
    await create(client)
    for cursor in ("999", "9999999999999999999"):
        response = await client.get("/tasks", params={"cursor": cursor})
        assert response.status_code == 200
        assert response.json() == {"items": [], "next_cursor": None}


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
