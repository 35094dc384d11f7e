"""Idempotency-Key in-process, on the run's backend: "the same request" is the same body as validated JSON,
and a replay is rebuilt from what the key keeps (the task's id and time, a hash of the body) into the
first answer, byte for byte. The rest of the key's behaviour, over real HTTP: tests/contract/test_idempotency.py."""

from __future__ import annotations

import secrets

import httpx
import pytest

from taskapi.testing.clock import ManualClock
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]

KEY = "Idempotency-Key"
JSON = {"Content-Type": "application/json"}
FIRST = b'{"title": "Renew the TLS certificate", "description": "before it expires", "priority": 4}'
# Fields that belong to each request rather than to the answer: its id, what the rate limit has left, and
# the mark of a replay (which the first answer must not carry).
PER_REQUEST = {b"x-request-id", b"ratelimit", b"idempotent-replayed"}


def new_key() -> str:
    return f"key-{secrets.token_hex(16)}"


async def tasks_of(client: httpx.AsyncClient) -> list[int]:
    return [task["id"] for task in (await client.get("/tasks")).json()["items"]]


@pytest.mark.parametrize(
    "again",
    [
        b'{"priority":4,"description":"before it expires","title":"Renew the TLS certificate"}',
        b'\n{ "title" :"Renew the TLS certificate",\t"description": "before it expires" ,"priority": 4 }\n',
        b'{"title": "Renew the TLS certificate", "description": "before it expires", "priority": 4.0}',
        b'{"title": "Renew the TLS certificate", "description": "before it expires", "priority": 40e-1}',
        b'{"title": "Renew the TLS \\u0063ertificate", "description": "before it expires", "priority": 4}',
    ],
    ids=["key order", "whitespace", "4.0 for 4", "40e-1 for 4", "an escaped character"],
)
async def test_the_same_body_as_validated_json_is_the_same_request(client: httpx.AsyncClient, again: bytes) -> None:
    key = new_key()
    first = await client.post("/tasks", content=FIRST, headers={KEY: key, **JSON})
    assert first.status_code == 201, first.text
    replay = await client.post("/tasks", content=again, headers={KEY: key, **JSON})
    assert replay.status_code == 201, replay.text
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert await tasks_of(client) == [first.json()["id"]]


@pytest.mark.parametrize(
    "other",
    [
        b'{"title": "Renew the TLS certificate", "description": "before it expires", "priority": 4.5}',
        b'{"title": "Renew the TLS certificate", "priority": 4}',  # description left out
        b'{"title": "Renew the TLS certificate", "description": null, "priority": 4}',
    ],
    ids=["another value", "a property left out", "null for a value"],
)
async def test_another_body_is_another_request(client: httpx.AsyncClient, other: bytes) -> None:
    key = new_key()
    first = await client.post("/tasks", content=FIRST, headers={KEY: key, **JSON})
    assert first.status_code == 201, first.text
    assert_problem(await client.post("/tasks", content=other, headers={KEY: key, **JSON}), 422)
    assert await tasks_of(client) == [first.json()["id"]]


async def test_a_property_left_out_is_not_the_same_as_its_default(client: httpx.AsyncClient) -> None:
    key = new_key()
    first = await client.post("/tasks", json={"title": "x"}, headers={KEY: key})
    assert first.json()["priority"] == 1  # the spec's default
    reused = await client.post("/tasks", json={"title": "x", "priority": 1}, headers={KEY: key})
    errors = assert_problem(reused, 422)["errors"]
    assert [(e["location"], e["parameter"]) for e in errors] == [("header", KEY)]


async def test_a_replay_is_the_first_answer_byte_for_byte(client: httpx.AsyncClient, clock: ManualClock) -> None:
    key = new_key()
    first = await client.post("/tasks", content=FIRST, headers={KEY: key, **JSON})
    assert first.status_code == 201, first.text
    clock.advance(600)  # a replay built from the time of the retry would show it
    await client.patch(f"/tasks/{first.json()['id']}", json={"priority": 5})  # nor is it the task as it is now
    replay = await client.post(
        "/tasks", content=FIRST.replace(b", ", b",").replace(b"4}", b"4.0}"), headers={KEY: key, **JSON}
    )
    assert replay.status_code == 201, replay.text
    assert replay.content == first.content
    assert [(k, v) for k, v in replay.headers.raw if k not in PER_REQUEST] == [
        (k, v) for k, v in first.headers.raw if k not in PER_REQUEST
    ]
    assert replay.headers.get_list("Idempotent-Replayed") == ["true"]
    assert "Idempotent-Replayed" not in first.headers
