"""The app in-process (httpx over ASGI, lifespan included) on a fresh SQLite database per test.

`client` is signed in as alice; `anonymous` sends no token; `sign_in` makes more users. Users are
inserted with one Argon2 hash computed per session (sign-up itself is tested in test_users.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from pydantic import SecretStr

from taskapi.app import create_app
from taskapi.auth import Tokens, signing_key
from taskapi.settings import Settings
from taskapi.storage import database_at
from taskapi.testing.clock import ManualClock
from taskapi.testing.databases import execute

JWT_SECRET = "api-tests-" + "k" * 40
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class User:
    id: int
    username: str
    token: str
    client: httpx.AsyncClient


SignIn = Callable[[str], Awaitable[User]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def password_hash() -> str:
    return PasswordHash.recommended().hash(PASSWORD)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, jwt_secret=SecretStr(JWT_SECRET), env="production")


@pytest.fixture
def clock() -> ManualClock:
    """The app's time: it moves only when a test advances it (and a microsecond per reading)."""
    return ManualClock()


@pytest.fixture
def tokens(settings: Settings, clock: ManualClock) -> Tokens:
    return Tokens(
        signing_key(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.token_ttl_seconds,
        clock=clock,
    )


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(app) as http:
        yield http


@pytest.fixture
async def sign_in(
    app: FastAPI, settings: Settings, tokens: Tokens, password_hash: str, clock: ManualClock
) -> AsyncIterator[SignIn]:
    db = database_at(settings.database_url)
    await db.open()
    async with AsyncExitStack() as stack:

        async def make(username: str) -> User:
            record = await db.users.add(username=username, password_hash=password_hash, now=clock.now())
            assert record is not None
            token = tokens.issue(record.id)
            client = await stack.enter_async_context(_client(app, token))
            return User(id=record.id, username=username, token=token, client=client)

        yield make
    await db.close()


@pytest.fixture
async def alice(sign_in: SignIn) -> User:
    return await sign_in("alice")


@pytest.fixture
def client(alice: User) -> httpx.AsyncClient:
    """Signed in as alice."""
    return alice.client


@pytest.fixture
async def broken_request(client: httpx.AsyncClient, database_url: str) -> httpx.Response:
    """GET /tasks while the tasks table is missing: a request that fails inside the database."""
    await execute(database_url, "ALTER TABLE tasks RENAME TO gone")
    try:
        return await client.get("/tasks")
    finally:
        await execute(database_url, "ALTER TABLE gone RENAME TO tasks")
