"""`GET /readyz` when what it depends on fails, in-process: the rate limiter's Redis (answering, down, or
accepting connections and never answering), which takes the instance out of rotation only when the
limiter fails closed; and a PostgreSQL that stops answering, which is 503 within
TASKAPI_READINESS_TIMEOUT_SECONDS. Each fault is a `FaultyProxy` between the app and the real server, so
both come back when the proxy forwards again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlsplit

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from taskapi.app import create_app
from taskapi.ratelimit import REDIS_TIMEOUT_SECONDS
from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from taskapi.testing.databases import backend_under_test
from taskapi.testing.faults import FaultyProxy
from taskapi.testing.redis import key_prefix, redis_reachable, redis_url
from tests.api.conftest import JWT_SECRET, _client
from tests.api.problems import assert_problem

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]

# Bounds a request that should have been answered long before: without it a readiness check that does
# not time out would hang the test instead of failing it.
HANG_SECONDS = 5.0
READY = {"status": "ready", "checks": {"database": "ok", "rate_limit_store": "ok"}}
UNREACHABLE = {"status": "ready", "checks": {"database": "ok", "rate_limit_store": "unreachable"}}


@pytest.fixture
def redis_proxy() -> Iterator[FaultyProxy]:
    """A proxy to the tests' Redis, forwarding until a test breaks it."""
    url = redis_url()
    if (why := redis_reachable(url)) is not None:
        pytest.fail(f"the readiness tests need Redis at {url}: {why}", pytrace=False)
    parts = urlsplit(url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        yield proxy


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


def with_redis(database_url: str, proxy: FaultyProxy, *, fail_open: bool) -> Settings:
    return Settings(
        database_url=database_url,
        jwt_secret=SecretStr(JWT_SECRET),
        redis_url=f"redis://127.0.0.1:{proxy.port}/0",
        rate_limit_key_prefix=key_prefix("readiness"),
        rate_limit_fail_open=fail_open,
    )


async def readiness(http: httpx.AsyncClient) -> tuple[httpx.Response, float]:
    """GET /readyz and how long it took (seconds)."""
    started = time.monotonic()
    response = await asyncio.wait_for(http.get("/readyz"), HANG_SECONDS)
    return response, time.monotonic() - started


@pytest.mark.parametrize("fail_open", [True, False], ids=["fails open", "fails closed"])
async def test_a_redis_that_answers_is_named_ready(
    database_url: str, redis_proxy: FaultyProxy, fail_open: bool
) -> None:
    async with app_client(with_redis(database_url, redis_proxy, fail_open=fail_open)) as http:
        response, _ = await readiness(http)
    assert response.status_code == 200
    assert response.json() == READY


@pytest.mark.parametrize("fault", ["refuse", "stall"], ids=["down", "never answers"])
async def test_an_unreachable_redis_leaves_an_instance_that_fails_open_ready(
    database_url: str, redis_proxy: FaultyProxy, fault: str
) -> None:
    async with app_client(with_redis(database_url, redis_proxy, fail_open=True)) as http:
        with broken(redis_proxy, fault):
            unreachable, _ = await readiness(http)
        back, _ = await readiness(http)
    assert unreachable.status_code == 200
    assert unreachable.json() == UNREACHABLE
    assert back.json() == READY


@pytest.mark.parametrize("fault", ["refuse", "stall"], ids=["down", "never answers"])
async def test_an_unreachable_redis_makes_an_instance_that_fails_closed_not_ready(
    database_url: str, redis_proxy: FaultyProxy, fault: str
) -> None:
    async with app_client(with_redis(database_url, redis_proxy, fail_open=False)) as http:
        with broken(redis_proxy, fault):
            refused, _ = await readiness(http)
        back, _ = await readiness(http)
    problem = assert_problem(refused, 503)
    assert refused.headers["Retry-After"] == "1"
    assert "rate-limit store (Redis) did not answer" in problem["detail"]
    assert "database" not in problem["detail"]
    assert back.status_code == 200
    assert back.json() == READY


@pytest.mark.serial
@pytest.mark.parametrize("fail_open", [True, False], ids=["fails open", "fails closed"])
async def test_a_redis_that_never_answers_is_given_up_on_within_its_timeout(
    database_url: str, redis_proxy: FaultyProxy, fail_open: bool
) -> None:
    async with app_client(with_redis(database_url, redis_proxy, fail_open=fail_open)) as http:
        with broken(redis_proxy, "stall"):
            response, took = await readiness(http)
    assert response.status_code == (200 if fail_open else 503)
    # The store's timeout bounds the whole PING: the Redis client's own timeout is per attempt, and it
    # retries (three attempts would be 1.5 s).
    assert REDIS_TIMEOUT_SECONDS <= took < 2 * REDIS_TIMEOUT_SECONDS, took


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
