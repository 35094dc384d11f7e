"""What the live-server tests of conditional requests and idempotency keys share: a signed-in client, the
rounds of their concurrency tests, and the settings of their servers."""

from __future__ import annotations

import os

import httpx

from taskapi.testing.liveserver import LiveServer

# Concurrency tests run once per round; TASKAPI_TEST_ROUNDS=20 runs them twenty times in a row.
ROUNDS = 1
# These modules sign up a user per test, more than the spec's sign-up limit allows one client a minute.
NO_RATE_LIMITS = {"TASKAPI_RATE_LIMITING": "false"}


def rounds() -> range:
    """One parameter per round of a concurrency test."""
    return range(int(os.environ.get("TASKAPI_TEST_ROUNDS", ROUNDS)))


def client(server: LiveServer, token: str) -> httpx.Client:
    """A client of `server` that sends `token` as its bearer token."""
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
