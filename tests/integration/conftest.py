"""Integration tests talk to real files and databases; async ones run on asyncio.

The storage tests share `db` (the test's migrated, empty database, open), `owner` (a user in it) and
`new_user` (another one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from taskapi.storage import Database, database_at

# When the users made here signed up (no test reads it).
SIGNED_UP = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """The test's database, open, closed after the test."""
    database = database_at(database_url)
    await database.open()
    yield database
    await database.close()


async def new_user(db: Database, username: str) -> int:
    """Add a user to `db`; their id."""
    user = await db.users.add(username=username, password_hash="$argon2id$fake", now=SIGNED_UP)
    assert user is not None
    return user.id


@pytest.fixture
async def owner(db: Database) -> int:
    """A user of `db`, whose tasks and keys the test works with."""
    return await new_user(db, "owner")
