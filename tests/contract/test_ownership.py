"""BOLA over real HTTP: two users of one server; the second can neither see nor touch the first's
tasks, and the first's data is unchanged afterwards."""

from __future__ import annotations

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases
from tests.contract.signed_in import serving

pytestmark = [pytest.mark.contract, pytest.mark.postgresql]


def test_a_second_user_cannot_read_list_update_complete_or_delete(databases: Databases) -> None:
    with serving(databases) as server:
        base_url = server.base_url
        a = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {sign_in(base_url, *random_credentials())}"}
        )
        b = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {sign_in(base_url, *random_credentials())}"}
        )
        with a, b:
            tasks = [
                a.post("/tasks", json={"title": f"a{n}", "description": "private", "priority": 2}).json()
                for n in range(3)
            ]
            before = a.get("/tasks").json()
            assert before["items"] == tasks

            assert b.get("/tasks").json() == {"items": [], "next_cursor": None}
            for task in tasks:
                path = f"/tasks/{task['id']}"
                responses = [
                    b.get(path),
                    b.patch(path, json={"title": "mine now", "completed": True}),
                    b.patch(f"{path}/complete"),
                    b.delete(path),
                ]
                for response in responses:
                    assert response.status_code == 404, response.text
                    assert response.headers["content-type"] == "application/problem+json"
                    assert "private" not in response.text

            assert a.get("/tasks").json() == before
            for task in tasks:
                assert a.get(f"/tasks/{task['id']}").json() == task
