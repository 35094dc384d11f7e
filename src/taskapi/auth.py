"""Authentication: Argon2 password hashes (pwdlib), HS256 bearer tokens (PyJWT), signing keys, and the
authenticated caller (`Principal`)."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import anyio
import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from taskapi.clock import Clock, SystemClock
from taskapi.errors import Overloaded, Unauthorized
from taskapi.settings import Settings

MIN_KEY_BYTES = 32
# How many verified tokens each process remembers (a few hundred bytes each).
_VERIFIED_TOKENS = 10_000
# User ids are 64-bit: a larger `sub` is no user's (and no database could even look it up).
_MAX_ID = 2**63 - 1
# Argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): strong, and small enough
# that a worker's peak memory stays low while it hashes. Hashes made with other settings still verify.
ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES = 19_456, 2, 1
# Argon2 is built to cost memory and CPU: bound how many hashes run at once.
_HASHING_SLOTS = 2
# The tokens this server issues are about 250 characters (a few hundred more with long issuer and audience
# names): anything much longer is no token of ours, and is refused before PyJWT decodes it.
MAX_TOKEN_CHARS = 4096


class InsecureConfiguration(RuntimeError):
    """The settings would make tokens forgeable; the server refuses to start."""


class Principal(NamedTuple):
    """The authenticated caller."""

    user_id: int
    username: str
    created_at: datetime


def signing_key(settings: Settings) -> bytes:
    """The HMAC key for tokens: TASKAPI_JWT_SECRET, or in development a random key kept in a file."""
    if settings.jwt_secret is not None:
        key = settings.jwt_secret.get_secret_value().encode()
        if len(key) < MIN_KEY_BYTES:
            raise InsecureConfiguration(f"TASKAPI_JWT_SECRET must be at least {MIN_KEY_BYTES} bytes")
        return key
    if settings.env == "development":
        return _load_or_create_key(settings.jwt_secret_file)
    raise InsecureConfiguration(
        "TASKAPI_JWT_SECRET is not set: production (TASKAPI_ENV=production) needs a secret of at least "
        f"{MIN_KEY_BYTES} bytes, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`"
    )


def _load_or_create_key(path: Path) -> bytes:
    # O_EXCL: when several workers start at once, exactly one writes the key and all read the same one.
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_bytes().strip()
            if len(key) >= MIN_KEY_BYTES:
                return key
            time.sleep(0.01)
        raise InsecureConfiguration(f"{path} holds no usable key; delete it to make a new one") from None
    key = secrets.token_urlsafe(48).encode()
    with os.fdopen(descriptor, "wb") as file:
        file.write(key + b"\n")
    return key


class Passwords:
    """Argon2 hashing off the event loop, and verification that costs the same for unknown users.

    At most two hashes run at once per worker, and at most `queue_limit` more wait for their turn; past
    that, `Overloaded` (503 with Retry-After) at once. Otherwise a flood of logins queues up and every real
    login waits behind it.
    """

    def __init__(self, hasher: PasswordHash | None = None, *, queue_limit: int = 32) -> None:
        self._hasher = hasher or PasswordHash(
            (Argon2Hasher(memory_cost=ARGON2_MEMORY_KIB, time_cost=ARGON2_PASSES, parallelism=ARGON2_LANES),)
        )
        self._dummy_hash: str | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._most = _HASHING_SLOTS + queue_limit
        self._pending = 0

    async def _run(self, function: Callable[..., object], *args: str) -> object:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(_HASHING_SLOTS)
        if self._pending >= self._most:
            raise Overloaded("Too many password checks are waiting; retry in a moment.")
        self._pending += 1
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self._limiter)
        finally:
            self._pending -= 1

    async def hash(self, password: str) -> str:
        """An Argon2 hash of the password."""
        return str(await self._run(self._hasher.hash, password))

    async def prepare(self) -> None:
        """Make the dummy hash that unknown usernames are checked against (at start-up, so that even the
        first failed login costs exactly one verification)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(32))

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """Whether the password matches; with no hash (unknown user) a dummy is checked, at the same cost."""
        await self.prepare()
        target = password_hash or self._dummy_hash
        assert target is not None  # noqa: S101 - prepare() made the dummy
        matches = bool(await self._run(self._hasher.verify, password, target))
        return matches and password_hash is not None


class Tokens:
    """Issue and verify bearer tokens: HS256 only, with exp, iat, nbf, sub, iss and aud."""

    ALGORITHM = "HS256"

    def __init__(self, key: bytes, *, issuer: str, audience: str, ttl_seconds: int, clock: Clock | None = None) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self.ttl_seconds = ttl_seconds
        self._clock = clock or SystemClock()
        self._verified: dict[str, tuple[int, float]] = {}

    def issue(self, user_id: int) -> str:
        """A token for this user, valid for `ttl_seconds`."""
        now = int(self._clock.now().timestamp())
        claims = {
            "sub": str(user_id),
            "iss": self._issuer,
            "aud": self._audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl_seconds,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self._key, algorithm=self.ALGORITHM)

    def subject(self, token: str) -> int:
        """The user id a token was issued to; Unauthorized unless it is valid now, in every claim.

        A token that verified once is remembered (it cannot change: its signature covers every claim)
        until it expires, so the HMAC and JSON work is done once per token, not once per request. A token
        longer than any this server issues is refused unread.
        """
        if len(token) > MAX_TOKEN_CHARS:
            raise Unauthorized("The bearer token is not valid.")
        known = self._verified.get(token)
        if known is not None:
            user_id, deadline = known
            if self._clock.monotonic() < deadline:
                return user_id
            del self._verified[token]
        user_id, expires = self._verify(token)
        if len(self._verified) >= _VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest entry
        # Remembered until `exp`, counted on the monotonic clock (cheaper to read than the wall clock).
        self._verified[token] = (user_id, self._clock.monotonic() + (expires - self._clock.now().timestamp()))
        return user_id

    def _verify(self, token: str) -> tuple[int, float]:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                # PyJWT checks the times against the real clock; they are checked below against ours.
                options={
                    "require": ["exp", "iat", "sub", "iss", "aud"],
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.InvalidTokenError:
            raise Unauthorized("The bearer token is not valid.") from None
        now = self._clock.now().timestamp()
        expires, issued, not_before = (_numeric_date(claims.get(name)) for name in ("exp", "iat", "nbf"))
        if expires is None or issued is None or (not_before is None and "nbf" in claims):
            raise Unauthorized("The bearer token is not valid.")
        if expires <= now:
            raise Unauthorized("The bearer token has expired.")
        if issued > now or (not_before is not None and not_before > now):
            raise Unauthorized("The bearer token is not valid yet.")
        subject = claims["sub"]
        if not (isinstance(subject, str) and subject.isascii() and subject.isdigit() and len(subject) <= 19):
            raise Unauthorized("The bearer token is not valid.")
        if int(subject) > _MAX_ID:
            raise Unauthorized("The bearer token is not valid.")
        return int(subject), expires


def _numeric_date(value: object) -> float | None:
    """A JWT NumericDate (RFC 7519: a JSON number of seconds since the epoch) as a float, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    # NaN fails every comparison; infinities and dates millions of years away are refused too.
    return float(value) if -1e15 < value < 1e15 else None
