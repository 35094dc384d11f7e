"""`GET /readyz` when what it depends on fails, in-process: a PostgreSQL that stops answering is 503 within
TASKAPI_READINESS_TIMEOUT_SECONDS. The fault is a `FaultyProxy` between the app and the real server, so it
comes back when the proxy forwards again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from taskapi.app import create_app
from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from taskapi.testing.databases import backend_under_test
from taskapi.testing.faults import FaultyProxy
from tests.api.conftest import JWT_SECRET, _client
from tests.api.problems import assert_problem

pytestmark = pytest.mark.anyio

# Bounds a request that should have been answered long before: without it a readiness check that does
# not time out would hang the test instead of failing it.
HANG_SECONDS = 5.0


@contextmanager
def broken(proxy: FaultyProxy, fault: str) -> Iterator[None]:
    """The proxy refusing or stalling while the block runs, forwarding again after it (whatever happened:
    a test that fails must not leave the app's connections hanging)."""
    getattr(proxy, fault)()
    try:
        yield
    finally:
        proxy.forward()


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=ManualClock())
    async with app.router.lifespan_context(app), _client(app) as http:
        yield http


async def readiness(http: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    """GET /readyz and how long it took (seconds)."""
    started = time.monotonic()
    response = await asyncio.wait_for(http.get("/readyz"), HANG_SECONDS)
    return response, time.monotonic() - started


@pytest.mark.postgresql
@pytest.mark.skipif(
    backend_under_test() == "sqlite",
    reason="SQLite's trivial query runs in the worker's thread, from a local file: there is no server to wait for",
)
async def test_a_postgresql_that_never_answers_is_not_ready_within_the_readiness_timeout(database_url: str) -> None:
    url = make_url(database_url)
    with FaultyProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        settings = Settings(
            database_url=url.set(port=proxy.port).render_as_string(hide_password=False),
            jwt_secret=SecretStr(JWT_SECRET),
            readiness_timeout_seconds=0.3,
        )
        async with app_client(settings) as http:
            ready, _ = await readiness(http)  # the pool's connections are made, through the proxy
            with broken(proxy, "stall"):
                stalled, took = await readiness(http)
            back, _ = await readiness(http)
    assert ready.status_code == 200
    problem = assert_problem(stalled, 503)
    assert problem["detail"] == "Not ready: the database did not answer within 0.3 s."
    assert stalled.headers["Retry-After"] == "1"
    assert 0.3 <= took < 2.0, took
    assert back.status_code == 200
    assert back.json() == {"status": "ready", "checks": {"database": "ok"}}
