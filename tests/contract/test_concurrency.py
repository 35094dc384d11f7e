"""Correctness under concurrency, over real HTTP against a multi-worker server, on the run's backend:
no lost or duplicated writes, no torn updates, no 5xx, and no acknowledged write lost to a SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import execute
from taskapi.testing.liveserver import LiveServer, live_server

pytestmark = pytest.mark.contract
WORKERS = 2
CONNECTIONS = 64


@pytest.fixture
def server(tmp_path: Path, empty_database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server", database_url=empty_database_url, workers=WORKERS) as running:
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


def test_a_thousand_concurrent_creates_make_a_thousand_rows(server: LiveServer) -> None:
    token = sign_in(server.base_url, *random_credentials())

    async def run() -> list[httpx.Response]:
        async with client(server, token) as http:
            return await bounded([http.post("/tasks", json={"title": f"task {n}"}) for n in range(1000)])

    responses = asyncio.run(run())
    statuses = [r.status_code for r in responses]
    assert statuses.count(201) == 1000, {s: statuses.count(s) for s in set(statuses)}
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 1000
    assert asyncio.run(execute(server.database_url, "SELECT count(*), count(DISTINCT id) FROM tasks")) == [(1000, 1000)]


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


def test_sigterm_during_writes_loses_no_acknowledged_write(server: LiveServer) -> None:
    token = sign_in(server.base_url, *random_credentials())
    acknowledged: list[int] = []
    failures: list[str] = []

    async def writer(http: httpx.AsyncClient, stop: asyncio.Event, enough: asyncio.Event) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            try:
                response = await http.post("/tasks", json={"title": f"during shutdown {n}"})
            except httpx.TransportError as exc:
                failures.append(type(exc).__name__)
                return  # the server is gone
            if response.status_code == 201:
                acknowledged.append(response.json()["id"])
                if len(acknowledged) >= 200:
                    enough.set()
            else:
                assert response.status_code < 500, response.text
                failures.append(str(response.status_code))

    async def run() -> None:
        stop, enough = asyncio.Event(), asyncio.Event()
        async with client(server, token) as http:
            writers = [asyncio.create_task(writer(http, stop, enough)) for _ in range(16)]
            await asyncio.wait_for(enough.wait(), timeout=60)
            server.process.send_signal(signal.SIGTERM)
            await asyncio.sleep(3)
            stop.set()
            await asyncio.gather(*writers)

    asyncio.run(run())
    assert server.process.wait(timeout=30) == 0
    stored = {row[0] for row in asyncio.run(execute(server.database_url, "SELECT id FROM tasks"))}
    assert len(acknowledged) >= 200
    assert set(acknowledged) <= stored, f"{len(set(acknowledged) - stored)} acknowledged writes are missing"
