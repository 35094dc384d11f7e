"""Idempotency-Key across the workers of one live server (`--workers 2`), on the run's backend, as README's
"Retrying a create" says: on SQLite a duplicate that reaches another worker while the first request runs
waits for its transaction and gets its answer (no 409); on PostgreSQL the first request's advisory lock
makes it 409 at once, in any worker; and a worker killed inside its transaction leaves nothing behind:
its task and its key are rolled back, and the key is free for a retry in the other worker.

Which worker serves a connection is the kernel's choice: each test makes one connection on each worker
(see `workers`), telling them apart by the access log (each line names the worker's pid)."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import secrets
import signal
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskapi.storage import DatabaseUrl
from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases, backend_under_test, execute, write_lock_held
from taskapi.testing.liveserver import LiveServer, live_server
from taskapi.testing.wire import Answer, Wire, request

pytestmark = [
    pytest.mark.contract,
    pytest.mark.postgresql,
    pytest.mark.xdist_group("idempotency_workers"),
    pytest.mark.slow,
]

KEY = "Idempotency-Key"
REPLAYED = "idempotent-replayed"
BODY = {"title": "Renew the TLS certificate", "priority": 3}
WAIT_SECONDS = 10
ENV = {
    "TASKAPI_RATE_LIMITING": "false",
    "TASKAPI_LOG_LEVEL": "info",  # the access log: which worker served which request
    "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": "60",  # the connections found on each worker stay open
    "TASKAPI_SQLITE_BUSY_TIMEOUT_MS": "30000",  # writers wait behind the test's lock, not fail
}
# SQLite: rows of a table whose three-way cross join a trigger counts, inside the request's transaction,
# for about half a minute (1200³ rows): long enough to be killed there, short enough to end by itself.
BURN_ROWS = 1200


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    with live_server(
        tmp_path_factory.mktemp("idempotency-workers"), database_url=databases.fresh(), workers=2, env=ENV
    ) as running:
        yield running


@pytest.fixture
def token(server: LiveServer) -> str:
    """A new user's: each test starts with no tasks."""
    return sign_in(server.base_url, *random_credentials())


@pytest.fixture
def workers(server: LiveServer) -> Iterator[dict[int, Wire]]:
    """A keep-alive connection on each of the two workers, by the worker's pid. The kernel hands a new
    connection to whichever worker accepts it first (on a busy machine, the same one every time): the
    second connection is made while the first's worker is stopped (SIGSTOP), so only the other accepts."""
    with ExitStack() as stack:
        first = stack.enter_context(Wire(server.base_url, timeout=WAIT_SECONDS * 3))
        one = served_by(server, first)
        os.kill(one, signal.SIGSTOP)
        try:
            second = stack.enter_context(Wire(server.base_url, timeout=WAIT_SECONDS * 3))
            other = served_by(server, second)
        finally:
            os.kill(one, signal.SIGCONT)
        assert other != one
        yield {one: first, other: second}


def served_by(server: LiveServer, wire: Wire) -> int:
    """The pid of the worker that serves `wire`'s connection, from its access-log line for a request."""
    request_id = f"probe-{secrets.token_hex(8)}"
    wire.send(request("GET", "/healthz", {"X-Request-ID": request_id}))
    assert wire.answer().status == 200
    records = server.wait_for_log(functools.partial(logged, request_id))
    return next(int(record["pid"]) for record in records if record.get("request_id") == request_id)


def logged(request_id: str, records: list[dict[str, Any]]) -> bool:
    """Whether the access log has the line of `request_id`."""
    return any(record.get("request_id") == request_id for record in records)


def create(token: str, key: str) -> bytes:
    body = json.dumps(BODY).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json", KEY: key}
    return request("POST", "/tasks", headers, body)


def tasks_of(server: LiveServer, token: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{server.base_url}/tasks", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert listed.status_code == 200, listed.text
    items: list[dict[str, Any]] = listed.json()["items"]
    return items


def rows(server: LiveServer, sql: str) -> int:
    [(count,)] = asyncio.run(execute(server.database_url, sql))
    return int(count)


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll `condition` until it holds (the server reaching a state), failing after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT_SECONDS} s: {what}"
        time.sleep(0.02)


def in_flight(server: LiveServer) -> float:
    """Requests being served by the workers together (each worker's count is at most a second old)."""
    for family in text_string_to_metric_families(httpx.get(f"{server.base_url}/metrics", timeout=30).text):
        for sample in family.samples:
            if sample.name == "taskapi_http_requests_in_flight":
                return sample.value
    raise AssertionError("no in-flight gauge")


def created(answer: Answer) -> dict[str, Any]:
    assert answer.status == 201, answer
    assert REPLAYED not in answer.headers
    task: dict[str, Any] = answer.json()
    return task


def replayed(answer: Answer, first: Answer) -> None:
    assert answer.status == 201, answer
    assert answer.headers[REPLAYED] == "true"
    assert answer.body == first.body
    assert (answer.headers["location"], answer.headers["etag"]) == (first.headers["location"], first.headers["etag"])


@pytest.mark.skipif(backend_under_test() != "sqlite", reason="SQLite's one writer at a time")
def test_on_sqlite_a_duplicate_in_another_worker_waits_for_the_first_and_gets_its_answer(
    server: LiveServer, token: str, workers: dict[int, Wire]
) -> None:
    key = f"key-{secrets.token_hex(16)}"
    one, other = workers.values()
    with write_lock_held(server.database_url):  # both requests wait for the database, in flight together
        one.send(create(token, key))
        other.send(create(token, key))
        wait_until(lambda: in_flight(server) >= 3, "both creates in flight (and the scrape)")
    answers = [one.answer(WAIT_SECONDS * 3), other.answer(WAIT_SECONDS * 3)]
    assert sorted(answer.status for answer in answers) == [201, 201], answers  # no 409
    [first] = [answer for answer in answers if REPLAYED not in answer.headers]
    [again] = [answer for answer in answers if answer is not first]
    replayed(again, first)
    assert tasks_of(server, token) == [created(first)]


@pytest.mark.skipif(backend_under_test() != "postgresql", reason="PostgreSQL's advisory lock")
def test_on_postgresql_a_duplicate_in_another_worker_is_409_while_the_first_runs(
    server: LiveServer, token: str, workers: dict[int, Wire]
) -> None:
    key = f"key-{secrets.token_hex(16)}"
    one, other = workers.values()
    with write_lock_held(server.database_url):  # the first takes the key's lock, then waits to insert
        one.send(create(token, key))
        wait_until(lambda: advisory_locks(server) == 1, "the first request holding the key's lock")
        other.send(create(token, key))
        refused = other.answer(WAIT_SECONDS)  # at once, while the first still runs
    assert refused.status == 409, refused
    assert refused.headers["retry-after"] == "1"
    first = one.answer(WAIT_SECONDS)
    task = created(first)
    other.send(create(token, key))
    replayed(other.answer(WAIT_SECONDS), first)
    assert tasks_of(server, token) == [task]


def test_a_worker_killed_inside_its_transaction_leaves_nothing_behind(
    server: LiveServer, token: str, workers: dict[int, Wire]
) -> None:
    key = f"key-{secrets.token_hex(16)}"
    (doomed, dying), (_, survivor) = workers.items()
    tasks, keys = rows(server, "SELECT count(*) FROM tasks"), rows(server, "SELECT count(*) FROM idempotency_keys")
    with held_inside_its_transaction(server):
        try:
            dying.send(create(token, key))
            wait_until(lambda: stuck_keeping_its_key(server), "the create inside its transaction, keeping its key")
        finally:
            os.kill(doomed, signal.SIGKILL)  # whatever happened: nothing may go on holding the database
        assert dying.ends(WAIT_SECONDS)  # no answer: the worker is gone
    wait_until(lambda: not inside_a_transaction(server), "the dead worker's transaction rolled back")
    assert rows(server, "SELECT count(*) FROM tasks") == tasks
    assert rows(server, "SELECT count(*) FROM idempotency_keys") == keys
    # The key is free: the other worker runs the retry as the first request, not as a replay or a 409.
    survivor.send(create(token, key))
    task = created(survivor.answer(WAIT_SECONDS))
    assert tasks_of(server, token) == [task]


@contextmanager
def held_inside_its_transaction(server: LiveServer) -> Iterator[None]:
    """While the block runs, a create stops inside its transaction, its task inserted, at the statement
    that keeps its key: on PostgreSQL waiting behind the test's lock of the keys' table (holding the key's
    advisory lock), on SQLite holding the database's write lock under a trigger that counts for half a
    minute."""
    if backend_under_test() == "postgresql":
        with write_lock_held(server.database_url, "idempotency_keys"):
            yield
        return
    admin = sqlite3.connect(DatabaseUrl.parse(server.database_url).sqlite_path, isolation_level=None, timeout=60)
    try:
        admin.execute("CREATE TABLE test_burn (x INTEGER)")
        admin.executemany("INSERT INTO test_burn VALUES (?)", [(n,) for n in range(BURN_ROWS)])
        admin.execute(
            "CREATE TRIGGER test_hold AFTER INSERT ON idempotency_keys "
            "BEGIN SELECT count(*) FROM test_burn a, test_burn b, test_burn c; END"
        )
        try:
            yield
        finally:
            admin.execute("DROP TRIGGER test_hold")
            admin.execute("DROP TABLE test_burn")
    finally:
        admin.close()


def stuck_keeping_its_key(server: LiveServer) -> bool:
    """Whether a create is stopped where `held_inside_its_transaction` stops it: its backend waiting for
    the keys' table (PostgreSQL); the database's write lock held, and still held a moment later, where a
    create holds it a millisecond (SQLite)."""
    if backend_under_test() == "postgresql":
        return (
            rows(server, "SELECT count(*) FROM pg_locks WHERE relation = 'idempotency_keys'::regclass AND NOT granted")
            > 0
        )
    if not write_locked(server):
        return False
    time.sleep(0.02)  # one look more: a create holds the lock for a millisecond, the trigger for half a minute
    return write_locked(server)


def inside_a_transaction(server: LiveServer) -> bool:
    """Whether a request's transaction holds what a create holds: the key's advisory lock (PostgreSQL),
    the database's write lock (SQLite)."""
    if backend_under_test() == "postgresql":
        return advisory_locks(server) > 0
    return write_locked(server)


def write_locked(server: LiveServer) -> bool:
    """Whether another connection holds the SQLite database's write lock."""
    probe = sqlite3.connect(DatabaseUrl.parse(server.database_url).sqlite_path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:  # database is locked
        return True
    finally:
        probe.close()


def advisory_locks(server: LiveServer) -> int:
    """Advisory locks held in the server's database (PostgreSQL): the keys of creates in flight."""
    return rows(
        server,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
