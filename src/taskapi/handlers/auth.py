"""The `auth` operations."""

from __future__ import annotations

from taskapi.auth import Passwords, Tokens
from taskapi.errors import Unauthorized
from taskapi.generated import models, server
from taskapi.storage import Database


class AuthHandlers:
    """Implements `server.AuthOperations`."""

    def __init__(self, db: Database, passwords: Passwords, tokens: Tokens) -> None:
        self._db = db
        self._passwords = passwords
        self._tokens = tokens

    async def create_token(self, body: models.PasswordGrant) -> server.CreateTokenResponse:
        """The password grant. Unknown users and wrong passwords get the same answer after the same work."""
        user = await self._db.users.by_username(body.username)
        if not await self._passwords.verify(body.password, None if user is None else user.password_hash):
            raise Unauthorized("The username or password is wrong.", error=None)
        assert user is not None  # noqa: S101 - verify() is False without a hash
        return server.CreateToken200Response(
            body=models.Token(
                access_token=self._tokens.issue(user.id),
                token_type="bearer",  # noqa: S106 - the OAuth2 token type, not a secret
                expires_in=self._tokens.ttl_seconds,
            )
        )
