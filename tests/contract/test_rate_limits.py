"""Rate limits on the live server: counted in Redis by two workers, the (N+1)th sign-in is refused with
429 and the RateLimit fields whichever worker answers, and the window ends when Retry-After says; with
Redis unreachable the server fails open: every request served, one warning in the log, never a 500.

These tests need the Redis at TASKAPI_TEST_REDIS_URL (default 127.0.0.1:6379) and fail when it is not
there, as the PostgreSQL tests do.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.testing.liveserver import LiveServer, live_server, refused_port
from taskapi.testing.redis import key_prefix, redis_reachable, redis_url

pytestmark = pytest.mark.contract

PASSWORD = "a long enough password"
ATTEMPTS = 3  # sign-ins one username may make per window
WINDOW = 4  # seconds: long enough for the attempts below, short enough to wait out
LIMIT = re.compile(r'"login-client";r=(\d+);t=(\d+), "login-username";r=(\d+);t=(\d+)')
POLICY = '"login-client";q=1000;w=60, "login-username";q=3;w=4'


@pytest.fixture(scope="module")
def redis() -> str:
    url = redis_url()
    if (why := redis_reachable(url)) is not None:
        pytest.fail(f"the rate-limit tests need Redis at {url}: {why}", pytrace=False)
    return url


@pytest.fixture
def two_workers(tmp_path: Path, redis: str) -> Iterator[LiveServer]:
    env = {
        "TASKAPI_REDIS_URL": redis,
        "TASKAPI_RATE_LIMIT_KEY_PREFIX": key_prefix("workers"),
        "TASKAPI_RATE_LIMITS": json.dumps(
            {"login-client": "1000/minute", "login-username": f"{ATTEMPTS} per {WINDOW} seconds"}
        ),
        "TASKAPI_LOG_LEVEL": "info",  # the access log names the worker (pid) of each response
    }
    with live_server(tmp_path / "server", workers=2, env=env) as server:
        yield server


def sign_in(server: LiveServer, request_id: str) -> httpx.Response:
    """One sign-in on a connection of its own (so that either worker may accept it)."""
    form = {"grant_type": "password", "username": "olga", "password": PASSWORD}
    with httpx.Client(base_url=server.base_url, timeout=10) as http:
        return http.post("/auth/token", data=form, headers={"X-Request-ID": request_id})


def workers_of(server: LiveServer, request_ids: list[str]) -> dict[str, int]:
    """The pid of the worker that answered each request, from the access log."""
    wanted = set(request_ids)

    def logged(records: list[dict[str, Any]]) -> bool:
        return wanted <= {r.get("request_id") for r in records if r["logger"] == "taskapi.access"}

    records = server.wait_for_log(logged)
    return {r["request_id"]: r["pid"] for r in records if r["logger"] == "taskapi.access" and r["request_id"] in wanted}


@pytest.mark.serial  # a window of a few seconds, against the wall clock: the machine to itself
def test_two_workers_share_the_limit_and_it_resets_after_the_window(two_workers: LiveServer) -> None:
    server = two_workers
    with httpx.Client(base_url=server.base_url) as http:
        assert http.post("/users", json={"username": "olga", "password": PASSWORD}).status_code == 201

    started = time.monotonic()
    allowed = [sign_in(server, f"allowed-{n}") for n in range(ATTEMPTS)]
    for n, response in enumerate(allowed):
        assert response.status_code == 200, response.text
        assert response.headers["ratelimit-policy"] == POLICY
        limit = LIMIT.fullmatch(response.headers["ratelimit"])
        assert limit is not None, response.headers["ratelimit"]
        assert int(limit[3]) == ATTEMPTS - 1 - n  # one count, whichever worker served the ones before
        assert 0 <= int(limit[4]) <= WINDOW

    # Past the quota: refused by whichever worker answers; keep asking until both have answered.
    refused: dict[str, httpx.Response] = {}
    pids: dict[str, int] = {}
    while len(set(pids.values())) < 2:
        assert len(refused) < 40, f"one worker answered every refused sign-in: {pids}"
        request_id = f"refused-{len(refused)}"
        refused[request_id] = sign_in(server, request_id)
        pids = workers_of(server, list(refused))
    assert time.monotonic() - started < WINDOW - 1, "too slow for the window: the test proves nothing"

    for response in refused.values():
        assert response.status_code == 429, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["ratelimit-policy"] == POLICY
        limit = LIMIT.fullmatch(response.headers["ratelimit"])
        assert limit is not None, response.headers["ratelimit"]
        assert int(limit[3]) == 0
        retry_after = int(response.headers["retry-after"])
        assert int(limit[4]) == retry_after
        assert 1 <= retry_after <= WINDOW

    # The window ends when Retry-After said: the username may sign in again, with a fresh quota.
    last = list(refused.values())[-1]
    time.sleep(int(last.headers["retry-after"]) + 0.2)
    again = sign_in(server, "after-the-window")
    assert again.status_code == 200, again.text
    limit = LIMIT.fullmatch(again.headers["ratelimit"])
    assert limit is not None and int(limit[3]) == ATTEMPTS - 1


def test_an_unreachable_redis_fails_open_with_one_warning_and_no_500(tmp_path: Path, redis: str) -> None:
    with refused_port() as port:
        closed = f"redis://127.0.0.1:{port}/0"
        env = {"TASKAPI_REDIS_URL": closed, "TASKAPI_RATE_LIMITS": json.dumps({"signup-client": "1/minute"})}
        statuses, records = _sign_ups_and_lists(tmp_path, env)
    assert statuses == [201, 200] * 3  # a limit of 1 sign-up a minute, not applied: it fails open
    warnings = [r for r in records if r["logger"] == "taskapi.ratelimit" and r["level"] == "warning"]
    assert len(warnings) == 1, warnings
    assert "unreachable" in warnings[0]["message"]
    assert "serving without rate limits" in warnings[0]["message"]
    assert not [r for r in records if r["level"] == "error"]


def _sign_ups_and_lists(tmp_path: Path, env: dict[str, str]) -> tuple[list[int], list[dict[str, Any]]]:
    """Three sign-ups, sign-ins and lists on a server with `env`, a second apart (the store is tried again
    after each pause): their statuses, and the server's log records."""
    statuses: list[int] = []
    with live_server(tmp_path / "server", env=env) as server, httpx.Client(base_url=server.base_url) as http:
        for n in range(3):
            created = http.post("/users", json={"username": f"pat{n}", "password": PASSWORD})
            statuses.append(created.status_code)
            assert "ratelimit" not in created.headers
            form = {"grant_type": "password", "username": f"pat{n}", "password": PASSWORD}
            token = http.post("/auth/token", data=form).json()["access_token"]
            listed = http.get("/tasks", headers={"Authorization": f"Bearer {token}"})
            statuses.append(listed.status_code)
            time.sleep(1.1)
        return statuses, server.log_records()
