"""What the live-server tests of conditional requests and idempotency keys share: their servers (the app on
uvicorn in this process: what they test is HTTP, not the process), a signed-in client, and the rounds of
their concurrency tests."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from pydantic import SecretStr

from taskapi.clock import Clock
from taskapi.settings import Settings
from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import InProcessServer, LiveServer, in_process_server

# Concurrency tests run once per round; TASKAPI_TEST_ROUNDS=20 runs them twenty times in a row.
ROUNDS = 1


def rounds() -> range:
    """One parameter per round of a concurrency test."""
    return range(int(os.environ.get("TASKAPI_TEST_ROUNDS", ROUNDS)))


@contextmanager
def serving(databases: Databases, *, clock: Clock | None = None, **settings: Any) -> Iterator[InProcessServer]:
    """The app, in production mode, on a new migrated database of the run's backend, served by uvicorn with
    `taskapi serve`'s protocol in this process. Rate limits are off: these modules sign up a user per test,
    more than the spec's sign-up limit allows one client a minute. `settings` change any other setting."""
    configured = Settings(
        database_url=databases.migrated(),
        jwt_secret=SecretStr(secrets.token_urlsafe(48)),
        env="production",
        **{"rate_limiting": False, **settings},
    )
    with in_process_server(configured, clock=clock) as server:
        yield server


def client(server: LiveServer | InProcessServer, token: str) -> httpx.Client:
    """A client of `server` that sends `token` as its bearer token."""
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
