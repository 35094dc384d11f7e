"""Each worker deletes expired idempotency keys by itself (every min(retention, 600 s)), and only those:
here the retention is 1 s, so the app's purge runs every second, on the app's own clock."""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import SecretStr

from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from taskapi.testing.databases import execute
from tests.api.conftest import JWT_SECRET, SignIn

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]

WAIT_SECONDS = 10


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), env="production", idempotency_retention_seconds=1
    )


async def _keys(database_url: str) -> list[str]:
    return [str(row[0]) for row in await execute(database_url, "SELECT key FROM idempotency_keys ORDER BY key")]


async def test_expired_keys_are_purged_and_live_ones_kept(
    sign_in: SignIn, clock: ManualClock, database_url: str
) -> None:
    alice = await sign_in("alice")
    created = await alice.client.post("/tasks", json={"title": "kept"}, headers={"Idempotency-Key": "k1"})
    assert created.status_code == 201, created.text
    await asyncio.sleep(1.5)  # a purge has run: the key is not expired on the app's clock
    assert await _keys(database_url) == ["k1"]

    clock.advance(2)
    deadline = time.monotonic() + WAIT_SECONDS
    while await _keys(database_url):
        assert time.monotonic() < deadline, "the expired key was not purged"
        await asyncio.sleep(0.1)
    listed = await alice.client.get("/tasks")
    assert [task["title"] for task in listed.json()["items"]] == ["kept"]  # the task stays
