"""The `users` operations."""

from __future__ import annotations

from taskapi.auth import Passwords, Principal
from taskapi.clock import Clock, SystemClock
from taskapi.errors import Conflict, Unauthorized
from taskapi.generated import models, server
from taskapi.storage import Database


def _taken(username: str) -> Conflict:
    return Conflict(f"The username {username} is taken.")


class UsersHandlers:
    """Implements `server.UsersOperations[Principal]`."""

    def __init__(self, db: Database, passwords: Passwords, clock: Clock | None = None) -> None:
        self._db = db
        self._passwords = passwords
        self._clock = clock or SystemClock()

    async def create_user(self, body: models.UserCreate) -> server.CreateUserResponse:
        """Sign up: store the username with an Argon2 hash of the password, never the password. A taken
        username is refused before the hash is computed (the 409 says it is taken anyway); the unique
        constraint still decides between two sign-ups racing for one name."""
        if await self._db.users.by_username(body.username) is not None:
            raise _taken(body.username)
        password_hash = await self._passwords.hash(body.password)
        user = await self._db.users.add(username=body.username, password_hash=password_hash, now=self._clock.now())
        if user is None:
            raise _taken(body.username)
        return server.CreateUser201Response(
            body=models.User(id=user.id, username=user.username, created_at=user.created_at)
        )

    async def get_current_user(self, principal: Principal) -> server.GetCurrentUserResponse:
        """The account the bearer token belongs to, as stored now (not as the worker last confirmed it)."""
        user = await self._db.users.get(principal.user_id)
        if user is None:
            raise Unauthorized("The bearer token's user no longer exists.")
        return server.GetCurrentUser200Response(
            body=models.User(id=user.id, username=user.username, created_at=user.created_at)
        )
