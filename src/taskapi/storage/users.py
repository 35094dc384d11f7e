"""User queries."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, select, text

from taskapi.storage.sql import Executor, Query
from taskapi.storage.tables import users


class UserRecord(NamedTuple):
    """A row of `users`."""

    id: int
    username: str
    password_hash: str
    created_at: datetime


_record = UserRecord._make
_COLUMNS = (users.c.id, users.c.username, users.c.password_hash, users.c.created_at)
# ON CONFLICT … DO NOTHING is the same SQL on SQLite and PostgreSQL: a taken username returns no row,
# decided by the unique constraint, race-free and without aborting the transaction.
_ADD = Query(
    text(
        "INSERT INTO users (username, password_hash, created_at) "
        "VALUES (:username, :password_hash, :created_at) "
        "ON CONFLICT (username) DO NOTHING RETURNING id, username, password_hash, created_at"
    )
    .bindparams(bindparam("username"), bindparam("password_hash"), bindparam("created_at"))
    .columns(*_COLUMNS),
    writes=True,
)
_GET = Query(select(*_COLUMNS).where(users.c.id == bindparam("user_id")))
_BY_USERNAME = Query(select(*_COLUMNS).where(users.c.username == bindparam("username")))


class UserRepository:
    """Reads and writes users; every method is one statement, atomic on its own."""

    def __init__(self, sql: Executor) -> None:
        self._sql = sql

    async def add(self, *, username: str, password_hash: str, now: datetime) -> UserRecord | None:
        """Insert a user; None when the username is taken."""
        params = {"username": username, "password_hash": password_hash, "created_at": now}
        row = await self._sql.one(_ADD, params)
        return None if row is None else _record(row)

    async def get(self, user_id: int) -> UserRecord | None:
        """The user with this id, if any."""
        row = await self._sql.one(_GET, {"user_id": user_id})
        return None if row is None else _record(row)

    async def by_username(self, username: str) -> UserRecord | None:
        """The user with this username, if any."""
        row = await self._sql.one(_BY_USERNAME, {"username": username})
        return None if row is None else _record(row)
