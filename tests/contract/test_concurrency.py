"""Correctness under concurrency, over real HTTP against a multi-worker server, on the run's backend:
no lost or duplicated writes, no torn updates, no 5xx, and no acknowledged write lost to a SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases, backend_under_test, execute, lock_waiters, write_lock_held
from taskapi.testing.liveserver import LiveServer, live_server
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.contract, pytest.mark.postgresql]
WORKERS = 2
CONNECTIONS = 64


def two_workers(workdir: Path, database_url: str, *, measured: bool = True) -> AbstractContextManager[LiveServer]:
    # At info level the log shows uvicorn's shutdown steps, should a test here fail.
    env = {"TASKAPI_LOG_LEVEL": "info"}
    return live_server(workdir, database_url=database_url, workers=WORKERS, env=env, measured=measured)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    """Shared by the tests that leave it running: load, on paths the API tests measure (untraced, it runs
    at the speed it would in production)."""
    with two_workers(tmp_path_factory.mktemp("server"), databases.migrated(), measured=False) as running:
        yield running


@pytest.fixture
def doomed(tmp_path: Path, databases: Databases) -> Iterator[LiveServer]:
    """A server of its own, for a test that stops it."""
    with two_workers(tmp_path / "server", databases.migrated()) as running:
        yield running


def client(server: LiveServer, token: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
        timeout=60,
    )


async def bounded(jobs: list[Any]) -> list[Any]:
    """Run the coroutines with at most CONNECTIONS in flight."""
    gate = asyncio.Semaphore(CONNECTIONS)

    async def one(job: Any) -> Any:
        async with gate:
            return await job

    return await asyncio.gather(*(one(job) for job in jobs))


@pytest.mark.serial  # 64 connections at a time, two workers: the machine to itself
def test_a_thousand_concurrent_creates_make_a_thousand_rows(server: LiveServer) -> None:
    username, password = random_credentials()
    token = sign_in(server.base_url, username, password)

    async def run() -> list[httpx.Response]:
        async with client(server, token) as http:
            return await bounded([http.post("/tasks", json={"title": f"task {n}"}) for n in range(1000)])

    responses = asyncio.run(run())
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1000, {s: statuses.count(s) for s in set(statuses)}
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 1000
    stored = (
        "SELECT count(*), count(DISTINCT tasks.id), min(tasks.id), max(tasks.id) FROM tasks"
        " JOIN users ON users.id = tasks.owner_id WHERE users.username = :username"
    )
    assert asyncio.run(execute(server.database_url, stored, {"username": username})) == [
        (1000, 1000, min(ids), max(ids))
    ]


@pytest.mark.slow
def test_concurrent_patches_of_one_task_never_tear(server: LiveServer) -> None:
    token = sign_in(server.base_url, *random_credentials())
    states = [{"title": f"state {n}", "description": f"written by patch {n}", "priority": n % 5 + 1} for n in range(50)]

    async def run() -> tuple[list[httpx.Response], dict[str, Any]]:
        async with client(server, token) as http:
            task = (await http.post("/tasks", json={"title": "contended"})).json()
            responses = await bounded([http.patch(f"/tasks/{task['id']}", json=state) for state in states])
            return responses, (await http.get(f"/tasks/{task['id']}")).json()

    responses, final = asyncio.run(run())
    assert [r.status_code for r in responses] == [200] * 50
    written = {k: final[k] for k in ("title", "description", "priority")}
    assert written in states
    # Each response shows one whole state, never a mix of two.
    for response in responses:
        assert {k: response.json()[k] for k in ("title", "description", "priority")} in states


@pytest.mark.slow
def test_sigterm_during_writes_finishes_what_it_started_and_cuts_nothing_off(doomed: LiveServer) -> None:
    """Every request either got its 201 and is stored, or was refused and is not stored: unread by a
    server that had stopped (a transport error), or answered 503 (a problem document with Retry-After) by
    one whose database was closing. A request the server processed but did not answer (cut off) fails the
    test, as does any other status."""
    server = doomed
    token = sign_in(server.base_url, *random_credentials())
    answered: list[str] = []
    failed: list[tuple[str, str]] = []

    async def writer(http: httpx.AsyncClient, name: str, stop: asyncio.Event, enough: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            title = f"{name} {n}"
            try:
                response = await http.post("/tasks", json={"title": title})
            except httpx.TransportError as exc:
                failed.append((title, type(exc).__name__))
                return  # the server is going or gone
            if response.status_code == 503:
                assert_problem(response, 503)
                assert response.headers["retry-after"] == "1", response.headers
                failed.append((title, "503"))
                return
            assert response.status_code == 201, response.text
            answered.append(title)
            if len(answered) >= 200:
                enough.set()

    async def run() -> None:
        stop, enough = asyncio.Event(), asyncio.Event()
        async with client(server, token) as http:
            writers = [asyncio.create_task(writer(http, f"writer {w}", stop, enough)) for w in range(16)]
            await asyncio.wait_for(enough.wait(), timeout=60)
            server.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(asyncio.gather(*writers), timeout=60)  # each writer ends on its failure

    asyncio.run(run())
    assert server.process.wait(timeout=30) == 0
    stored = {row[0] for row in asyncio.run(execute(server.database_url, "SELECT title FROM tasks"))}
    assert len(answered) >= 200
    assert set(answered) <= stored, f"{len(set(answered) - stored)} acknowledged writes are missing"
    cut_off = [title for title, _ in failed if title in stored]
    assert cut_off == [], f"processed but never answered: {cut_off}"
    assert len(failed) == 16  # every writer ended on a refused request, none on any other status


def wait_until_blocked(server: LiveServer) -> None:
    """Until the server's write waits for the lock held by the test."""
    if backend_under_test() == "sqlite":
        server.wait_for_log(lambda records: any("waits for another connection's lock" in r["message"] for r in records))
        return
    deadline = time.monotonic() + 10
    while lock_waiters(server.database_url) == 0:
        assert time.monotonic() < deadline, "the write never waited for the lock"
        time.sleep(0.05)


@pytest.mark.serial  # the shutdown timeout, against the wall clock: the machine to itself
@pytest.mark.parametrize("timeout", [2])
def test_sigterm_gives_up_on_a_request_after_the_shutdown_timeout(
    tmp_path: Path, empty_database_url: str, timeout: int
) -> None:
    """A request that cannot finish (its write waits for a lock held elsewhere) holds shutdown only up to
    TASKAPI_SHUTDOWN_TIMEOUT_SECONDS; it is then cut off, and what it was writing is not stored."""
    env = {
        "TASKAPI_SHUTDOWN_TIMEOUT_SECONDS": str(timeout),
        "TASKAPI_SQLITE_BUSY_TIMEOUT_MS": "120000",
        "TASKAPI_LOG_LEVEL": "debug",  # SQLite's writer says when it starts to wait
    }
    with live_server(tmp_path / "server", database_url=empty_database_url, env=env) as server:
        token = sign_in(server.base_url, *random_credentials())
        outcome: list[object] = []

        def stuck_write() -> None:
            try:
                outcome.append(
                    httpx.post(
                        f"{server.base_url}/tasks",
                        json={"title": "stuck"},
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=60,
                    ).status_code
                )
            except httpx.TransportError as exc:
                outcome.append(type(exc).__name__)

        with write_lock_held(server.database_url):
            thread = threading.Thread(target=stuck_write)
            thread.start()
            wait_until_blocked(server)
            assert outcome == []
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            exit_status = server.process.wait(timeout=timeout + 20)
            elapsed = time.monotonic() - started
            thread.join(10)
        titles = [row[0] for row in asyncio.run(execute(server.database_url, "SELECT title FROM tasks"))]
    assert exit_status in (0, -signal.SIGTERM)  # one worker: uvicorn re-raises the signal once it is done
    assert timeout - 0.5 <= elapsed < timeout + 5, elapsed  # the default (10 s) would be too late
    assert outcome and outcome[0] not in (201,), outcome
    assert titles == []
