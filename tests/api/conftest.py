"""The app in-process (httpx over ASGI, lifespan included) on a fresh SQLite database per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from taskapi.app import create_app
from taskapi.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database_url=database_url))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
