"""The security scheme: the bearer check the generated dispatch runs before every secured operation."""

from __future__ import annotations

from taskapi.auth import Principal, Tokens
from taskapi.clock import Clock, SystemClock
from taskapi.errors import Unauthorized
from taskapi.storage import Database

# How many confirmed accounts each process remembers (a few hundred bytes each).
_CONFIRMED_ACCOUNTS = 10_000


class SecurityHandlers:
    """Implements the generated `server.Security[Principal]`.

    The account behind a token must still exist. Each worker looks it up at most once per
    `recheck_seconds` (TASKAPI_ACCOUNT_RECHECK_SECONDS; 0 looks it up on every request): within that
    window a deleted account's token finds no tasks (they are deleted with it: reads are empty, changes
    404), cannot create any and is refused by `GET /users/me` (both look the account up), and after it
    the token is refused outright.
    """

    def __init__(
        self, db: Database, tokens: Tokens, *, recheck_seconds: float = 1.0, clock: Clock | None = None
    ) -> None:
        self._db = db
        self._tokens = tokens
        self._recheck_seconds = recheck_seconds
        self._clock = clock or SystemClock()
        self._confirmed: dict[int, tuple[Principal, float]] = {}

    async def authenticate_bearer(self, token: str) -> Principal:
        """The caller a token stands for, whose account must still exist."""
        user_id = self._tokens.subject(token)
        now = self._clock.monotonic()
        confirmed = self._confirmed.get(user_id)
        if confirmed is not None and now < confirmed[1]:
            return confirmed[0]
        user = await self._db.users.get(user_id)
        if user is None:
            self._confirmed.pop(user_id, None)
            raise Unauthorized("The bearer token's user no longer exists.")
        principal = Principal(user_id=user.id, username=user.username, created_at=user.created_at)
        if self._recheck_seconds > 0:
            self._confirmed.pop(user_id, None)  # re-inserted last: the dict stays in order of confirmation
            if len(self._confirmed) >= _CONFIRMED_ACCOUNTS:
                del self._confirmed[next(iter(self._confirmed))]  # the longest unconfirmed
            self._confirmed[user_id] = (principal, now + self._recheck_seconds)
        return principal
