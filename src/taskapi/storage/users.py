"""User queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from taskapi.storage.tables import users

if TYPE_CHECKING:
    from taskapi.storage.database import Executor


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A row of `users`."""

    id: int
    username: str
    password_hash: str
    created_at: datetime


_COLUMNS = (users.c.id, users.c.username, users.c.password_hash, users.c.created_at)


def _record(row: Any) -> UserRecord:
    return UserRecord(*row)


class UserRepository:
    """Reads and writes users inside the caller's transaction."""

    def __init__(self, connection: Executor) -> None:
        self._connection = connection

    async def add(self, *, username: str, password_hash: str, now: datetime) -> UserRecord | None:
        """Insert a user; None when the username is taken (the unique constraint decides, race-free)."""
        statement = (
            insert(users).values(username=username, password_hash=password_hash, created_at=now).returning(*_COLUMNS)
        )
        try:
            async with self._connection.savepoint():
                return _record((await self._connection.execute(statement)).one())
        except IntegrityError:
            return None

    async def get(self, user_id: int) -> UserRecord | None:
        """The user with this id, if any."""
        row = (await self._connection.execute(select(*_COLUMNS).where(users.c.id == user_id))).first()
        return None if row is None else _record(row)

    async def by_username(self, username: str) -> UserRecord | None:
        """The user with this username, if any."""
        row = (await self._connection.execute(select(*_COLUMNS).where(users.c.username == username))).first()
        return None if row is None else _record(row)
