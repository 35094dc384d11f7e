"""What an operator relies on, in-process: /readyz, /metrics, the fields every response carries, and
database faults answered 503 (a held SQLite write lock here; a stopped PostgreSQL in tests/outage)."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from taskapi import asgi, logs
from taskapi.app import create_app
from taskapi.generated import server
from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from taskapi.testing.databases import backend_under_test, execute, write_lock_held

from .conftest import JWT_SECRET, User, _client
from .problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def requests_counted(exposition: str, operation: str, method: str, status: int) -> float:
    key = (
        "taskapi_http_request_duration_seconds_count",
        (("method", method), ("operation", operation), ("status", str(status))),
    )
    return samples(exposition).get(key, 0.0)


async def test_ready_when_the_database_answers(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_not_ready_when_the_database_is_gone(settings: Settings, clock: ManualClock, database_url: str) -> None:
    if backend_under_test() == "postgresql":
        pytest.skip("a stopped PostgreSQL server is tested in tests/outage (it stops the server)")
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app), _client(app) as http:
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as other:
            other.execute("DROP TABLE alembic_version")  # the trivial query now fails
        response = await http.get("/readyz")
    assert_problem(response, 503)
    assert response.headers["Retry-After"] == "1"
    assert "the database did not answer" in response.json()["detail"]


async def test_every_response_carries_nosniff_and_no_store(client: httpx.AsyncClient) -> None:
    created = await client.post("/tasks", json={"title": "t"})
    responses = [
        created,
        await client.get(created.headers["Location"]),
        await client.get("/tasks/999999"),  # 404 problem
        await client.post("/tasks", json={"title": ""}),  # 422
        await client.put("/tasks"),  # 405
        await client.get("/no/such/path"),  # no operation: 404 from the router
        await client.get("/healthz"),
        await client.get("/readyz"),
        await client.get("/metrics"),
        await client.get("/openapi.json"),
    ]
    for response in responses:
        for name, value in server.CONSTANT_HEADERS.items():
            assert response.headers.get_list(name) == [value], (response.request.url, response.status_code, name)
    assert {r.status_code for r in responses} >= {200, 201, 404, 405, 422}


async def test_docs_assets_keep_their_own_cache_policy(anonymous: httpx.AsyncClient) -> None:
    page = await anonymous.get("/docs")
    asset = re.search(r'src="(/docs/assets/[^"]+)"', page.text)
    assert asset is not None
    response = await anonymous.get(asset.group(1))
    assert response.status_code == 200
    assert response.headers.get_list("Cache-Control") != ["no-store"]
    assert len(response.headers.get_list("Cache-Control")) == 1
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_metrics_count_the_requests_by_operation_method_and_status(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    before = (await anonymous.get("/metrics")).text
    for _ in range(7):
        await client.get("/tasks/424242")  # 404
    for n in range(3):
        await client.post("/tasks", json={"title": f"t{n}"})
    await anonymous.get("/tasks")  # 401
    response = await anonymous.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    after = response.text
    for operation, method, status, sent in (
        ("getTask", "GET", 404, 7),
        ("createTask", "POST", 201, 3),
        ("listTasks", "GET", 401, 1),
    ):
        got = requests_counted(after, operation, method, status) - requests_counted(before, operation, method, status)
        assert got == sent, (operation, status)
    values = samples(after)
    assert values[("taskapi_http_requests_in_flight", ())] == 1.0  # this scrape
    assert values[("taskapi_db_pool_wait_seconds_count", ())] >= 3  # the three writes waited for the lock
    assert ("taskapi_log_lines_dropped_total", ()) in values


async def test_metric_labels_stay_bounded_whatever_the_method(anonymous: httpx.AsyncClient) -> None:
    for n in range(20):
        await anonymous.request(f"BREW{n}", "/healthz")
    exposition = (await anonymous.get("/metrics")).text
    methods = {labels for (name, labels) in samples(exposition) if name.endswith("_count")}
    assert not any(("method", f"BREW{n}") in labels for labels in methods for n in range(20))
    assert requests_counted(exposition, "", "other", 405) + requests_counted(exposition, "getHealth", "other", 405) > 0


@pytest.fixture
async def locked_app(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    fast = settings.model_copy(update={"sqlite_busy_timeout_ms": 300})
    application = create_app(fast, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


async def test_a_write_lock_held_by_another_process_is_503_and_nothing_written(
    locked_app: FastAPI, alice: User, database_url: str
) -> None:
    if backend_under_test() == "postgresql":
        pytest.skip("SQLite's write lock; PostgreSQL's faults are tested in tests/outage")
    async with _client(locked_app, alice.token) as http:
        with write_lock_held(database_url):  # another process writing, and not letting go
            started = time.monotonic()
            response = await http.post("/tasks", json={"title": "blocked"})
            waited = time.monotonic() - started
            read = await http.get("/tasks")  # readers are not blocked by a writer (WAL)
            ready = await http.get("/readyz")
        assert_problem(response, 503)
        assert response.headers["Retry-After"] == "1"
        assert 0.2 <= waited < 3  # about the busy timeout (0.3 s), then the answer
        assert read.status_code == 200
        assert ready.status_code == 200
        assert await execute(database_url, "SELECT count(*) FROM tasks") == [(0,)]
        # The lock is gone: writes go through again.
        assert (await http.post("/tasks", json={"title": "now"})).status_code == 201


async def test_metrics_off_measure_nothing_and_serve_an_empty_exposition(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKAPI_DATABASE_URL", database_url)
    monkeypatch.setenv("TASKAPI_JWT_SECRET", JWT_SECRET)
    monkeypatch.setenv("TASKAPI_RATE_LIMITS", '{"signup-client": "1/minute"}')
    monkeypatch.setenv("TASKAPI_METRICS", "false")
    application = asgi.app()  # what each worker of `taskapi serve` builds, from the environment
    async with application.router.lifespan_context(application), _client(application) as http:
        statuses = [
            (await http.get("/healthz")).status_code,
            (await http.get("/tasks")).status_code,
            (await http.get("/no/such/path")).status_code,
            (await http.post("/users", json={})).status_code,
            (await http.post("/users", json={})).status_code,  # the sign-up limit: a rejection to count
        ]
        response = await http.get("/metrics")
    assert statuses == [200, 401, 404, 422, 429]
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b""


@pytest.fixture
def own_log_sinks(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's log sinks are `taskapi.logs`' module state: the test starts with none and no drops,
    and the process's own are put back afterwards. No exit or SIGTERM hook is installed in the test run."""
    monkeypatch.setattr(logs, "_sinks", {})
    monkeypatch.setattr(logs, "_stdout_sink", None)
    monkeypatch.setattr(logs, "_retired_drops", 0)
    monkeypatch.setattr(logs, "_hooks_installed", True)


async def test_the_dropped_lines_metric_is_what_the_log_dropped(
    own_log_sinks: None, anonymous: httpx.AsyncClient
) -> None:
    async def scraped() -> float:
        return samples((await anonymous.get("/metrics")).text)[("taskapi_log_lines_dropped_total", ())]

    assert await scraped() == logs.dropped_lines() == 0
    writing, released = threading.Event(), threading.Event()

    def stalled(_data: bytes) -> None:  # a log nobody reads: the writer is stuck in its write
        writing.set()
        released.wait(30)

    sink = logs.start_sink("stderr", 2, write=stalled)
    try:
        sink.put("taken by the writer\n")
        assert writing.wait(10)
        for n in range(7):  # two fit in the queue, five are dropped
            sink.put(f"line {n}\n")
        assert logs.dropped_lines() == 5
        assert await scraped() == 5
        for n in range(3):
            sink.put(f"more {n}\n")
        assert logs.dropped_lines() == 8
        assert await scraped() == 8
    finally:
        released.set()
        sink.close()
    assert await scraped() == logs.dropped_lines() == 8  # written out at last: what was dropped stays counted
