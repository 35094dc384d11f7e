"""Every task belongs to its creator; another user sees nothing of it (404, not 403: no leak)."""

from __future__ import annotations

import pytest

from tests.api.conftest import SignIn, User
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]


async def test_another_user_can_neither_see_nor_touch_a_task(alice: User, sign_in: SignIn) -> None:
    bob = await sign_in("bob")
    created = await alice.client.post("/tasks", json={"title": "alice's", "description": "private", "priority": 3})
    task = created.json()
    path = f"/tasks/{task['id']}"

    assert (await bob.client.get("/tasks")).json() == {"items": [], "next_cursor": None}
    assert_problem(await bob.client.get(path), 404)
    assert_problem(await bob.client.patch(path, json={"title": "bob's now"}), 404)
    assert_problem(await bob.client.patch(f"{path}/complete"), 404)
    assert_problem(await bob.client.delete(path), 404)
    missing = await bob.client.get("/tasks/999999")
    assert (await bob.client.get(path)).json()["detail"].replace(str(task["id"]), "N") == missing.json()[
        "detail"
    ].replace("999999", "N")

    assert (await alice.client.get(path)).json() == task
    assert (await alice.client.get("/tasks")).json()["items"] == [task]


async def test_lists_are_per_user(alice: User, sign_in: SignIn) -> None:
    bob = await sign_in("bob")
    for n in range(3):
        await alice.client.post("/tasks", json={"title": f"a{n}"})
        await bob.client.post("/tasks", json={"title": f"b{n}"})
    alices = [t["title"] for t in (await alice.client.get("/tasks")).json()["items"]]
    bobs = [t["title"] for t in (await bob.client.get("/tasks", params={"limit": 2})).json()["items"]]
    assert alices == ["a0", "a1", "a2"]
    assert bobs == ["b0", "b1"]
