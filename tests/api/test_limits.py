"""The spec's request limits and the refusal of repeated values, in-process (no HTTP server: what the app
itself checks, as it does behind stock uvicorn). Over a real server: tests/contract/test_limits.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import cast

import httpx
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash

from taskapi.app import create_app
from taskapi.auth import MAX_TOKEN_CHARS, Passwords
from taskapi.errors import Conflict
from taskapi.generated import models
from taskapi.generated.server import LIMITS
from taskapi.handlers.users import UsersHandlers
from taskapi.settings import Settings
from taskapi.storage import database_at
from tests.api.conftest import User
from tests.api.problems import assert_problem, violations

pytestmark = pytest.mark.anyio
MAX_BODY = LIMITS.max_body_bytes


def task_body(size: int) -> bytes:
    """A JSON task of exactly `size` bytes, valid but for its size (the description is long)."""
    head, tail = b'{"title": "t", "description": "', b'"}'
    return head + b"d" * (size - len(head) - len(tail)) + tail


async def test_a_body_up_to_the_limit_is_read_and_one_byte_more_is_413(client: httpx.AsyncClient) -> None:
    at_limit = await client.post("/tasks", content=task_body(MAX_BODY), headers={"content-type": "application/json"})
    assert at_limit.status_code == 422  # read and validated: the description is too long for the spec
    over = await client.post("/tasks", content=task_body(MAX_BODY + 1), headers={"content-type": "application/json"})
    problem = assert_problem(over, 413)
    assert problem["detail"] == f"The body is longer than {MAX_BODY} bytes."
    assert over.headers["connection"] == "close"
    assert (await client.get("/tasks")).json()["items"] == []


def pieces(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_chunked_body_is_cut_at_the_limit(client: httpx.AsyncClient) -> None:
    """No Content-Length: the body is counted as it arrives and refused once past the limit."""
    read = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal read
        for piece in pieces(task_body(100 * MAX_BODY)):
            read += len(piece)
            yield piece

    response = await client.post("/tasks", content=counted(), headers={"content-type": "application/json"})
    assert_problem(response, 413)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert read <= MAX_BODY + 2 * 4096  # the app stopped taking the body at the limit


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        ("/users", "application/json", b'{"username": "' + b"u" * MAX_BODY + b'"}'),
        ("/auth/token", "application/x-www-form-urlencoded", b"username=" + b"u" * MAX_BODY),
    ],
)
async def test_every_operation_with_a_body_has_the_limit(
    anonymous: httpx.AsyncClient, path: str, content_type: str, body: bytes
) -> None:
    assert_problem(await anonymous.post(path, content=body, headers={"content-type": content_type}), 413)


@pytest.fixture
async def small(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a deployment's own limits, smaller than the spec's."""
    limits = {"max_body_bytes": 100, "max_header_bytes": 2048, "max_url_bytes": 300}
    app = create_app(settings.model_copy(update=limits))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_the_deployment_sets_the_limits(small: httpx.AsyncClient) -> None:
    json_type = {"content-type": "application/json"}
    assert_problem(await small.post("/users", content=b" " * 101, headers=json_type), 413)
    assert_problem(await small.post("/users", content=b" " * 100, headers=json_type), 400)  # read: not JSON
    assert_problem(await small.get("/healthz", headers={"x-pad": "p" * 2048}), 431)
    assert (await small.get("/healthz", headers={"x-pad": "p" * 1900})).status_code == 200
    assert_problem(await small.get("/healthz?" + "q" * 300), 414)
    assert (await small.get("/healthz?" + "q" * 280)).status_code == 200


async def test_header_fields_over_the_limit_are_431_with_a_request_id(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/tasks", headers={"x-a": "a" * 9000, "x-b": "b" * 9000})
    assert assert_problem(response, 431)["instance"] == "/tasks"
    assert len(response.headers["x-request-id"]) == 32


async def test_a_url_over_the_limit_is_414(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/tasks", params={"cursor": "1" * LIMITS.max_url_bytes}), 414)


async def test_a_bearer_token_over_the_header_limit_is_431_and_a_long_one_within_it_401(
    anonymous: httpx.AsyncClient,
) -> None:
    huge = await anonymous.get("/tasks", headers={"Authorization": "Bearer " + "a" * (1 << 20)})
    assert_problem(huge, 431)
    long = await anonymous.get("/tasks", headers={"Authorization": "Bearer " + "a" * (MAX_TOKEN_CHARS + 1)})
    assert assert_problem(long, 401)["detail"] == "The bearer token is not valid."
    assert long.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_query_parameters_given_twice_are_422_naming_them(client: httpx.AsyncClient) -> None:
    for query in ("limit=abc&limit=2", "limit=2&limit=2", "limit=2&completed=true&completed=false&limit=3"):
        response = await client.get(f"/tasks?{query}")
        expected = [("query", "limit")] + ([("query", "completed")] if "completed" in query else [])
        assert sorted(violations(response)) == sorted(expected), query
    assert (await client.get("/tasks?limit=2&other=1&other=2")).status_code == 200  # not the spec's: ignored


async def test_repeats_are_refused_the_same_way_in_a_query_a_form_and_json(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    query = await client.get("/tasks?limit=1&limit=2")
    form = await anonymous.post(
        "/auth/token",
        content=b"grant_type=password&username=a&password=b&username=c",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    member = await client.post(
        "/tasks", content=b'{"title": "t", "priority": 1, "priority": 2}', headers={"content-type": "application/json"}
    )
    errors = [assert_problem(response, 422)["errors"] for response in (query, form, member)]
    assert errors == [
        [{"location": "query", "parameter": "limit", "detail": "Appears more than once"}],
        [{"location": "body", "pointer": "/username", "detail": "Appears more than once"}],
        [{"location": "body", "pointer": "/priority", "detail": "Appears more than once"}],
    ]
    assert (await client.get("/tasks")).json()["items"] == []


async def test_repeats_are_checked_after_the_token_like_every_parameter(anonymous: httpx.AsyncClient) -> None:
    assert_problem(await anonymous.get("/tasks?limit=1&limit=2"), 401)


@pytest.mark.parametrize("number", ["1.5e99999999999999999999", "1e-99999999999999999999999", "9" * 5000])
async def test_numbers_too_large_to_convert_are_422(client: httpx.AsyncClient, number: str) -> None:
    body = '{"title": "t", "priority": ' + number + "}"
    response = await client.post("/tasks", content=body, headers={"content-type": "application/json"})
    assert violations(response) == [("body", "/priority")]


class CountingHasher:
    def __init__(self) -> None:
        self.hashed = 0

    def hash(self, password: str) -> str:
        self.hashed += 1
        return f"hash:{password}"


async def test_signing_up_with_a_taken_username_computes_no_hash(settings: Settings, alice: User) -> None:
    hasher = CountingHasher()
    db = database_at(settings.database_url)
    await db.open()
    try:
        users = UsersHandlers(db, Passwords(cast(PasswordHash, hasher)))
        with pytest.raises(Conflict, match="taken"):
            await users.create_user(models.UserCreate(username=alice.username, password="a long enough password"))
        assert hasher.hashed == 0
        await users.create_user(models.UserCreate(username="newcomer", password="a long enough password"))
        assert hasher.hashed == 1
    finally:
        await db.close()


async def test_the_app_takes_its_password_queue_from_the_settings(settings: Settings) -> None:
    app: FastAPI = create_app(settings.model_copy(update={"password_queue_limit": 0}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            form = {"grant_type": "password", "username": "nobody", "password": "wrong password"}
            burst = await asyncio.gather(*(http.post("/auth/token", data=form) for _ in range(6)))
    # Two checks run at once and none may wait: the other four are refused at once.
    assert sorted(response.status_code for response in burst) == [401, 401, 503, 503, 503, 503]
