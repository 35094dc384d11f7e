"""Rate limits through the app, on the memory store: the quota, then 429 with Retry-After; the IETF
`RateLimit-Policy` and `RateLimit` fields on every response of a limited operation; what each policy
counts by (client address, username, user); the window's end; the deployment's settings."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from taskapi.app import create_app
from taskapi.ratelimit import RETRY_STORE_SECONDS
from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from tests.api.conftest import JWT_SECRET, PASSWORD, SignIn, User
from tests.api.problems import assert_problem

pytestmark = pytest.mark.anyio

# Small quotas, so that a test spends them in a few requests.
LIMITS = {"login-client": "5/minute", "login-username": "3/minute", "signup-client": "2/minute", "user": "4/minute"}
WRONG_PASSWORD = "not alice's password"
# draft-ietf-httpapi-ratelimit-headers: a List of Items, each a String with Integer parameters.
POLICY_ITEM = re.compile(r'"(?P<name>[a-z-]+)";q=(?P<q>[0-9]+);w=(?P<w>[0-9]+)')
LIMIT_ITEM = re.compile(r'"(?P<name>[a-z-]+)";r=(?P<r>[0-9]+);t=(?P<t>[0-9]+)')


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), env="production", rate_limits=LIMITS)


def fields(response: httpx.Response) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """The two fields, parsed strictly: {policy: (q, w)} and {policy: (r, t)}, in the order sent."""
    policy, limit = response.headers["ratelimit-policy"], response.headers["ratelimit"]
    policies = [POLICY_ITEM.fullmatch(item) for item in policy.split(", ")]
    limits = [LIMIT_ITEM.fullmatch(item) for item in limit.split(", ")]
    assert all(policies) and all(limits), (policy, limit)
    parsed_policies = {m["name"]: (int(m["q"]), int(m["w"])) for m in policies if m}
    parsed_limits = {m["name"]: (int(m["r"]), int(m["t"])) for m in limits if m}
    assert list(parsed_policies) == list(parsed_limits)  # the same policies, in the same order
    return parsed_policies, parsed_limits


def client_at(app: FastAPI, address: str, token: str | None = None) -> httpx.AsyncClient:
    """A client whose requests come from `address` (what uvicorn puts in the scope)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 40000))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def sign_in_attempt(client: httpx.AsyncClient, username: str, password: str = WRONG_PASSWORD) -> httpx.Response:
    return await client.post("/auth/token", data={"grant_type": "password", "username": username, "password": password})


async def test_the_quota_then_429_with_retry_after_and_the_fields(client: httpx.AsyncClient) -> None:
    for remaining in (3, 2, 1, 0):
        response = await client.get("/tasks")
        assert response.status_code == 200
        policies, limits = fields(response)
        assert response.headers["ratelimit-policy"] == '"user";q=4;w=60'
        assert policies == {"user": (4, 60)}
        assert limits["user"][0] == remaining
        assert 59 <= limits["user"][1] <= 60

    refused = await client.get("/tasks")
    problem = assert_problem(refused, 429)
    assert problem["title"] == "Too Many Requests"
    assert "user" in problem["detail"]
    retry_after = int(refused.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert refused.headers["ratelimit-policy"] == '"user";q=4;w=60'
    assert refused.headers["ratelimit"] == f'"user";r=0;t={retry_after}'
    assert (await client.get("/users/me")).status_code == 429  # one policy for every operation of the user


async def test_one_users_exhaustion_does_not_limit_another(client: httpx.AsyncClient, sign_in: SignIn) -> None:
    for _ in range(4):
        assert (await client.get("/tasks")).status_code == 200
    assert_problem(await client.get("/tasks"), 429)
    bob = await sign_in("bob")
    response = await bob.client.get("/tasks")
    assert response.status_code == 200
    assert fields(response)[1]["user"][0] == 3


async def test_error_responses_carry_the_fields_of_the_policies_counted(client: httpx.AsyncClient) -> None:
    missing = await client.get("/tasks/999")
    assert_problem(missing, 404)
    assert fields(missing)[1]["user"][0] == 3
    invalid = await client.post("/tasks", json={"title": ""})
    assert_problem(invalid, 422)
    assert fields(invalid)[1]["user"][0] == 2
    # No valid token: no user to count, so no policy applied and no fields.
    anonymous = await client.get("/tasks", headers={"Authorization": "Bearer nonsense"})
    assert_problem(anonymous, 401)
    assert "ratelimit" not in anonymous.headers
    assert "ratelimit-policy" not in anonymous.headers


async def test_sign_in_is_limited_per_username_and_per_client(app: FastAPI, alice: User) -> None:
    async with client_at(app, "192.0.2.1") as first, client_at(app, "192.0.2.2") as second:
        for left in (2, 1, 0):
            response = await sign_in_attempt(first, "alice")
            assert_problem(response, 401)
            policies, limits = fields(response)
            assert policies == {"login-client": (5, 60), "login-username": (3, 60)}
            assert limits["login-username"][0] == left
        assert response.headers["ratelimit-policy"] == '"login-client";q=5;w=60, "login-username";q=3;w=60'

        # The username's quota is spent, from any address, even with the right password.
        for client in (first, second):
            refused = await sign_in_attempt(client, "alice", PASSWORD)
            assert_problem(refused, 429)
            assert fields(refused)[1]["login-username"][0] == 0
            assert refused.headers["ratelimit"].endswith(f'"login-username";r=0;t={refused.headers["retry-after"]}')

        # Another username from the first address: its own quota, the address's fifth attempt.
        other = await sign_in_attempt(first, "bob")
        assert_problem(other, 401)
        assert fields(other)[1]["login-client"][0] == 0
        # The address's quota is spent: refused before the body is read, so only login-client is counted.
        refused = await sign_in_attempt(first, "carol")
        assert_problem(refused, 429)
        policies, limits = fields(refused)
        assert policies == {"login-client": (5, 60)}
        assert limits["login-client"][0] == 0

        # The other address still signs in as someone else.
        assert (await sign_in_attempt(second, "bob")).status_code == 401


async def test_sign_up_is_limited_per_client_before_the_body_is_read(app: FastAPI) -> None:
    async with client_at(app, "198.51.100.7") as client, client_at(app, "198.51.100.8") as elsewhere:
        assert (await client.post("/users", json={"username": "frank", "password": PASSWORD})).status_code == 201
        assert_problem(await client.post("/users", json={"username": "?"}), 422)  # counted all the same
        refused = await client.post("/users", json={"username": "grace", "password": PASSWORD})
        assert_problem(refused, 429)
        assert refused.headers["ratelimit-policy"] == '"signup-client";q=2;w=60'
        assert (await elsewhere.post("/users", json={"username": "grace", "password": PASSWORD})).status_code == 201


async def test_the_limit_resets_when_the_window_ends(database_url: str) -> None:
    settings = Settings(
        database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), rate_limits={"signup-client": "1/second"}
    )
    app = create_app(settings, clock=ManualClock())
    async with app.router.lifespan_context(app), client_at(app, "203.0.113.5") as client:
        assert (await client.post("/users", json={"username": "henry", "password": PASSWORD})).status_code == 201
        refused = await client.post("/users", json={"username": "irene", "password": PASSWORD})
        assert_problem(refused, 429)
        assert refused.headers["retry-after"] == "1"
        await asyncio.sleep(1.1)
        again = await client.post("/users", json={"username": "irene", "password": PASSWORD})
        assert again.status_code == 201
        assert again.headers["ratelimit"] == '"signup-client";r=0;t=1'


async def test_rate_limiting_off_sends_no_fields_and_never_429(database_url: str) -> None:
    settings = Settings(
        database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), rate_limiting=False, rate_limits=LIMITS
    )
    app = create_app(settings, clock=ManualClock())
    async with app.router.lifespan_context(app), client_at(app, "203.0.113.6") as client:
        for n in range(4):
            response = await client.post("/users", json={"username": f"user{n}", "password": PASSWORD})
            assert response.status_code == 201
            assert "ratelimit" not in response.headers


def test_a_policy_the_spec_lacks_is_refused_at_start_up(database_url: str) -> None:
    settings = Settings(database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), rate_limits={"admin": "1/day"})
    with pytest.raises(ValueError, match="TASKAPI_RATE_LIMITS names admin: not a policy of the spec"):
        create_app(settings)


@dataclass
class UnreachableStore:
    """The app counting in a Redis that is not there, a client of it, and the app's clock."""

    client: httpx.AsyncClient
    clock: ManualClock


@pytest.fixture
async def unreachable_store(database_url: str, request: pytest.FixtureRequest) -> AsyncIterator[UnreachableStore]:
    """The app with TASKAPI_REDIS_URL at a port where nothing listens (fail open or closed per the param):
    bound by this test, not listening, so that no other process can take it meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        settings = Settings(
            database_url=database_url,
            jwt_secret=SecretStr(JWT_SECRET),
            redis_url=f"redis://127.0.0.1:{closed.getsockname()[1]}/0",
            rate_limit_fail_open=request.param,
        )
        clock = ManualClock()
        app = create_app(settings, clock=clock)
        async with app.router.lifespan_context(app), client_at(app, "203.0.113.9") as client:
            yield UnreachableStore(client, clock)


@pytest.mark.parametrize("unreachable_store", [True], indirect=True)
async def test_an_unreachable_store_fails_open_with_one_warning(
    unreachable_store: UnreachableStore, caplog: pytest.LogCaptureFixture
) -> None:
    responses: list[Any] = []
    for n in range(3):
        body = {"username": f"kim{n}", "password": PASSWORD}
        responses.append(await unreachable_store.client.post("/users", json=body))
        unreachable_store.clock.advance(RETRY_STORE_SECONDS)  # past the pause after a failure: tried again
    assert [r.status_code for r in responses] == [201, 201, 201]
    assert not any("ratelimit" in r.headers for r in responses)
    records = caplog.get_records("setup") + caplog.get_records("call")  # the lifespan's check, then requests
    warnings = [r for r in records if r.name == "taskapi.ratelimit" and r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "unreachable" in warnings[0].getMessage()
    assert "serving without rate limits" in warnings[0].getMessage()


@pytest.mark.parametrize("unreachable_store", [False], indirect=True)
async def test_an_unreachable_store_fails_closed_with_503_when_configured(unreachable_store: UnreachableStore) -> None:
    for n in range(2):  # in the pause after a failure, and after it (the store tried again)
        refused = await unreachable_store.client.post("/users", json={"username": f"lena{n}", "password": PASSWORD})
        assert_problem(refused, 503)
        assert refused.headers["retry-after"] == "1"
        assert "ratelimit" not in refused.headers
        unreachable_store.clock.advance(RETRY_STORE_SECONDS)
    # Not rate limited: served as before.
    assert (await unreachable_store.client.get("/healthz")).status_code == 200


def rejections(exposition: str) -> dict[str, float]:
    """`taskapi_rate_limit_rejections_total` by policy, from a Prometheus text exposition."""
    return {
        sample.labels["policy"]: sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
        if sample.name == "taskapi_rate_limit_rejections_total"
    }


async def test_every_429_is_counted_by_the_policy_that_refused_it(
    app: FastAPI, client: httpx.AsyncClient, alice: User
) -> None:
    async with client_at(app, "192.0.2.44") as other:
        assert rejections((await other.get("/metrics")).text) == {}
        statuses = [(await client.get("/tasks")).status_code for _ in range(7)]  # user: 4/minute
        assert statuses == [200] * 4 + [429] * 3
        for n in range(4):  # signup-client: 2/minute
            await other.post("/users", json={"username": f"nora{n}", "password": PASSWORD})
        for _ in range(4):  # login-username: 3/minute, counted before login-client's 5 are spent
            await sign_in_attempt(other, alice.username)
        exposition = (await other.get("/metrics")).text
    assert rejections(exposition) == {"user": 3.0, "signup-client": 2.0, "login-username": 1.0}
