"""Idempotency-Key on POST /tasks over real HTTP (draft-ietf-httpapi-idempotency-key-header, as Stripe
does it), on the run's backend: a retry with the same key and the same JSON body answers the first
response again (`Idempotent-Replayed: true`) and creates nothing; the key with another body is 422; keys
are per user; a malformed key is 400; a key whose first request is in flight is 409, and of concurrent
duplicates exactly one creates; a key is forgotten after TASKAPI_IDEMPOTENCY_RETENTION_SECONDS; a failed
request does not use its key up; and without a bearer token the key does not matter (401)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import asyncpg
import httpx
import pytest

from taskapi.storage import DatabaseUrl
from taskapi.storage.idempotency import lock_key
from taskapi.testing.clock import ManualClock
from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases, backend_under_test, lock_waiters, write_lock_held
from taskapi.testing.liveserver import InProcessServer
from tests.api.problems import assert_problem
from tests.contract.signed_in import client, rounds, serving

pytestmark = [pytest.mark.contract, pytest.mark.postgresql, pytest.mark.xdist_group("idempotency")]

# Concurrent duplicates of one create per race.
DUPLICATES = 10
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
BODY = {"title": "Renew the TLS certificate", "description": "before it expires", "priority": 3}


def new_key() -> str:
    return f"key-{secrets.token_hex(16)}"


@pytest.fixture(scope="module")
def server(databases: Databases) -> Iterator[InProcessServer]:
    with serving(databases) as running:
        yield running


@pytest.fixture
def token(server: InProcessServer) -> str:
    """A new user's: each test starts with no tasks."""
    return sign_in(server.base_url, *random_credentials())


@pytest.fixture
def http(server: InProcessServer, token: str) -> Iterator[httpx.Client]:
    with client(server, token) as signed_in:
        yield signed_in


def tasks_of(http: httpx.Client) -> list[dict[str, Any]]:
    listed = http.get("/tasks")
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def assert_created(response: httpx.Response) -> dict[str, Any]:
    """A first answer: 201 with the task's Location and ETag, not marked as replayed. The task."""
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    assert response.headers["location"] == f"/tasks/{task['id']}"
    assert response.headers["etag"] == '"1"'
    assert REPLAYED not in response.headers
    return task


def assert_replay(response: httpx.Response, first: httpx.Response) -> None:
    """The first answer again: 201, the same body, Location and ETag, marked as replayed."""
    assert response.status_code == 201, response.text
    assert response.json() == first.json()
    assert response.headers["location"] == first.headers["location"]
    assert response.headers["etag"] == first.headers["etag"]
    assert response.headers[REPLAYED] == "true"


def test_a_retry_answers_the_first_response_and_creates_nothing(http: httpx.Client) -> None:
    key = new_key()
    first = http.post("/tasks", json=BODY, headers={KEY: key})
    task = assert_created(first)
    for _ in range(2):
        assert_replay(http.post("/tasks", json=BODY, headers={KEY: key}), first)
    assert tasks_of(http) == [task]


def test_the_body_is_compared_as_json(http: httpx.Client) -> None:
    key = new_key()
    first = http.post("/tasks", json=BODY, headers={KEY: key})
    task = assert_created(first)
    for content in (
        b'{"title":"Renew the TLS certificate","description":"before it expires","priority":3}',
        b'{\n  "priority" : 3,\n  "description" : "before it expires",\n  "title" : "Renew the TLS certificate"\n}',
    ):
        headers = {KEY: key, "Content-Type": "application/json"}
        assert_replay(http.post("/tasks", content=content, headers=headers), first)
    assert tasks_of(http) == [task]


@pytest.mark.parametrize(
    "other",
    [
        {**BODY, "title": "Renew the TLS certificates"},
        {**BODY, "priority": 4},
        {"title": BODY["title"], "priority": BODY["priority"]},
    ],
)
def test_the_same_key_with_another_body_is_422_and_creates_nothing(http: httpx.Client, other: dict[str, Any]) -> None:
    key = new_key()
    task = assert_created(http.post("/tasks", json=BODY, headers={KEY: key}))
    refused = http.post("/tasks", json=other, headers={KEY: key})
    assert_problem(refused, 422)
    assert REPLAYED not in refused.headers
    assert tasks_of(http) == [task]


def test_keys_are_per_user(server: InProcessServer, http: httpx.Client) -> None:
    key = new_key()
    mine = assert_created(http.post("/tasks", json=BODY, headers={KEY: key}))
    with client(server, sign_in(server.base_url, *random_credentials())) as other:
        theirs = assert_created(other.post("/tasks", json=BODY, headers={KEY: key}))
        assert tasks_of(other) == [theirs]
    assert theirs["id"] != mine["id"]
    assert tasks_of(http) == [mine]


def test_without_a_key_every_post_creates(http: httpx.Client) -> None:
    created = [assert_created(http.post("/tasks", json=BODY)) for _ in range(3)]
    assert len({task["id"] for task in created}) == 3
    assert tasks_of(http) == created


@pytest.mark.parametrize(
    "key",
    ["k" * 255, "1", string.ascii_letters + string.digits + string.punctuation],
    ids=["255 characters", "one character", "every visible ASCII character"],
)
def test_any_key_of_1_to_255_visible_ascii_characters_is_accepted(http: httpx.Client, key: str) -> None:
    first = http.post("/tasks", json=BODY, headers={KEY: key})
    task = assert_created(first)
    assert_replay(http.post("/tasks", json=BODY, headers={KEY: key}), first)
    assert tasks_of(http) == [task]


@pytest.mark.parametrize("key", ["", "k" * 256, "two words"], ids=["empty", "256 characters", "a space"])
def test_a_malformed_key_is_400_and_creates_nothing(http: httpx.Client, key: str) -> None:
    assert_problem(http.post("/tasks", json=BODY, headers={KEY: key}), 400)
    assert tasks_of(http) == []


@pytest.mark.parametrize("key", ["well-formed", "two words"])
def test_without_a_bearer_token_the_key_does_not_matter(server: InProcessServer, key: str) -> None:
    response = httpx.post(f"{server.base_url}/tasks", json=BODY, headers={KEY: key}, timeout=30)
    assert_problem(response, 401)


@pytest.mark.parametrize(
    ("failing", "status"),
    [(b'{"description": "no title"}', 422), (b'{"title": ', 400)],
    ids=["invalid body", "malformed JSON"],
)
def test_a_failed_request_does_not_use_its_key_up(http: httpx.Client, failing: bytes, status: int) -> None:
    key = new_key()
    headers = {KEY: key, "Content-Type": "application/json"}
    assert_problem(http.post("/tasks", content=failing, headers=headers), status)
    assert tasks_of(http) == []
    first = http.post("/tasks", json=BODY, headers={KEY: key})
    task = assert_created(first)
    assert_replay(http.post("/tasks", json=BODY, headers={KEY: key}), first)
    assert tasks_of(http) == [task]


def wait_until_the_write_waits(server: InProcessServer, caplog: pytest.LogCaptureFixture) -> None:
    """Until the server's write waits for the lock the test holds: SQLite's writer says so (a debug line of
    the server, which runs in this process), PostgreSQL shows the wait in pg_stat_activity."""
    deadline = time.monotonic() + 10
    while not (
        lock_waiters(server.database_url)
        if backend_under_test() == "postgresql"
        else any("waits for another connection's lock" in record.getMessage() for record in caplog.records)
    ):
        assert time.monotonic() < deadline, "the write never waited for the lock"
        time.sleep(0.01)


def test_a_retry_while_the_first_request_is_in_flight_is_409(
    server: InProcessServer, token: str, http: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="taskapi.storage")
    key = new_key()
    with ThreadPoolExecutor(1) as pool, write_lock_held(server.database_url):  # the lock goes first
        # The first request waits for the database inside its transaction: it is in flight.
        def post() -> httpx.Response:
            with client(server, token) as own:
                return own.post("/tasks", json=BODY, headers={KEY: key})

        first = pool.submit(post)
        wait_until_the_write_waits(server, caplog)
        assert not first.done()
        refused = http.post("/tasks", json=BODY, headers={KEY: key})
    assert_problem(refused, 409)
    assert refused.headers["retry-after"] == "1"
    assert REPLAYED not in refused.headers
    task = assert_created(first.result(timeout=30))
    assert tasks_of(http) == [task]


@pytest.mark.skipif(
    backend_under_test() == "sqlite",
    reason="SQLite has one writer: a duplicate in another worker waits for the first's transaction and is "
    "replayed (test_of_concurrent_duplicates_exactly_one_creates)",
)
def test_a_retry_while_another_worker_runs_the_first_is_409(server: InProcessServer, http: httpx.Client) -> None:
    key = new_key()
    me = http.get("/users/me")
    assert me.status_code == 200, me.text
    lock = lock_key(me.json()["id"], "createTask", key)
    with advisory_lock_held(server.database_url, lock):  # as another worker's transaction holds it
        refused = http.post("/tasks", json=BODY, headers={KEY: key})
    assert_problem(refused, 409)
    assert tasks_of(http) == []
    assert_created(http.post("/tasks", json=BODY, headers={KEY: key}))


@contextmanager
def advisory_lock_held(url: str, lock: int) -> Iterator[None]:
    """Hold PostgreSQL's transaction-scoped advisory lock `lock` from another connection while the block runs."""
    held, release = threading.Event(), threading.Event()

    async def hold() -> None:
        connection = await asyncpg.connect(DatabaseUrl.parse(url).postgres_dsn, timeout=5)
        try:
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", lock)
                held.set()
                await asyncio.to_thread(release.wait, 30)
        finally:
            await connection.close()

    thread = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    thread.start()
    assert held.wait(10), "the advisory lock was not taken"
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def send_duplicates(server: InProcessServer, token: str, key: str) -> list[httpx.Response]:
    """DUPLICATES concurrent POSTs of BODY with `key`, each on a connection of its own."""

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=DUPLICATES, max_keepalive_connections=DUPLICATES),
            timeout=30,
        ) as http:
            posts = (http.post("/tasks", json=BODY, headers={KEY: key}) for _ in range(DUPLICATES))
            return list(await asyncio.gather(*posts))

    return asyncio.run(run())


@pytest.mark.parametrize("round_", rounds())
def test_of_concurrent_duplicates_exactly_one_creates(
    server: InProcessServer, token: str, http: httpx.Client, round_: int
) -> None:
    responses = send_duplicates(server, token, new_key())
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409}, statuses
    answered = [response for response in responses if response.status_code == 201]
    originals = [response for response in answered if REPLAYED not in response.headers]
    assert len(originals) == 1, statuses
    task = assert_created(originals[0])
    for response in answered:
        if response is not originals[0]:
            assert_replay(response, originals[0])
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409)
    assert tasks_of(http) == [task]


def test_a_key_is_forgotten_after_the_retention_period(databases: Databases) -> None:
    clock = ManualClock()
    with serving(databases, clock=clock, idempotency_retention_seconds=60) as server:
        key = new_key()
        with client(server, sign_in(server.base_url, *random_credentials())) as http:
            first = http.post("/tasks", json=BODY, headers={KEY: key})
            task = assert_created(first)
            clock.advance(59)
            assert_replay(http.post("/tasks", json=BODY, headers={KEY: key}), first)
            clock.advance(2)
            again = assert_created(http.post("/tasks", json=BODY, headers={KEY: key}))
            assert again["id"] != task["id"]
            assert tasks_of(http) == [task, again]
