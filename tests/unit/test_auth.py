"""Signing keys, tokens and password verification, without a server."""

from __future__ import annotations

import asyncio
import base64
import hmac
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import jwt
import pytest
from pwdlib import PasswordHash
from pydantic import SecretStr

from taskapi.auth import MAX_TOKEN_CHARS, InsecureConfiguration, Passwords, Tokens, signing_key
from taskapi.errors import Overloaded, Unauthorized
from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock

KEY = b"unit-tests-" + b"k" * 40


def test_production_refuses_to_run_without_a_secret(tmp_path: Path) -> None:
    with pytest.raises(InsecureConfiguration, match="TASKAPI_JWT_SECRET is not set"):
        signing_key(Settings(env="production", jwt_secret=None, jwt_secret_file=tmp_path / "key"))
    assert not (tmp_path / "key").exists()


def test_short_secrets_are_refused() -> None:
    with pytest.raises(InsecureConfiguration, match="at least 32 bytes"):
        signing_key(Settings(jwt_secret=SecretStr("too-short")))


def test_development_keeps_one_random_key_private(tmp_path: Path) -> None:
    settings = Settings(env="development", jwt_secret=None, jwt_secret_file=tmp_path / "var" / "jwt-secret")
    first = signing_key(settings)
    assert len(first) >= 32
    assert signing_key(settings) == first
    assert stat.S_IMODE(settings.jwt_secret_file.stat().st_mode) == 0o600
    other = Settings(env="development", jwt_secret=None, jwt_secret_file=tmp_path / "elsewhere")
    assert signing_key(other) != first


def test_a_token_names_its_user() -> None:
    tokens = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=600)
    assert tokens.subject(tokens.issue(42)) == 42


def test_a_token_expires_on_the_injected_clock() -> None:
    clock = ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    tokens = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=3600, clock=clock)
    token = tokens.issue(1)
    clock.advance(3598)
    assert tokens.subject(token) == 1
    clock.advance(2)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.subject(token)


def _signed(**claims: object) -> str:
    now = int(datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp())
    base: dict[str, object] = {"sub": "7", "iss": "taskapi", "aud": "taskapi", "iat": now, "nbf": now, "exp": now + 60}
    base.update(claims)
    return jwt.encode({k: v for k, v in base.items() if v is not None}, KEY, algorithm="HS256")


NOW = int(datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp())


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        ({"exp": NOW}, "expired"),
        ({"exp": NOW - 1}, "expired"),
        ({"iat": NOW + 1}, "not valid yet"),
        ({"nbf": NOW + 1}, "not valid yet"),
        ({"exp": "9999999999"}, "not valid"),
        ({"exp": True}, "not valid"),
        ({"exp": 1e300}, "not valid"),
        ({"exp": 10**400}, "not valid"),
        ({"iat": None}, "not valid"),
        ({"nbf": "0"}, "not valid"),
        ({"sub": "9" * 20}, "not valid"),
        ({"sub": str(2**63)}, "not valid"),  # 19 digits, one past the largest id
        ({"sub": "9" * 5000}, "not valid"),
        ({"sub": "٣"}, "not valid"),  # an Arabic-Indic digit: isdigit() says yes, int() too
        ({"sub": 7}, "not valid"),
    ],
)
def test_time_claims_and_the_subject_are_checked(claims: dict[str, object], message: str) -> None:
    clock = ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    tokens = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=60, clock=clock)
    with pytest.raises(Unauthorized, match=message):
        tokens.subject(_signed(**claims))


def test_a_token_within_its_times_is_accepted() -> None:
    clock = ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    tokens = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=60, clock=clock)
    assert tokens.subject(_signed(nbf=None, exp=NOW + 0.5)) == 7


def test_tokens_of_another_issuer_or_audience_are_refused() -> None:
    ours = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=600)
    for other in (
        Tokens(KEY, issuer="other", audience="taskapi", ttl_seconds=600),
        Tokens(KEY, issuer="taskapi", audience="other", ttl_seconds=600),
    ):
        with pytest.raises(Unauthorized):
            ours.subject(other.issue(1))


class CountingHasher:
    """A stand-in for pwdlib's PasswordHash that records what it verifies."""

    def __init__(self) -> None:
        self.verified: list[str] = []

    def hash(self, password: str) -> str:
        return f"hash:{password}"

    def verify(self, password: str, password_hash: str) -> bool:
        self.verified.append(password_hash)
        return password_hash == f"hash:{password}"


@pytest.mark.anyio
async def test_unknown_users_cost_one_verification_like_known_ones() -> None:
    hasher = CountingHasher()
    passwords = Passwords(cast(PasswordHash, hasher))
    assert await passwords.verify("pw", "hash:pw") is True
    assert await passwords.verify("pw", "hash:other") is False
    assert await passwords.verify("pw", None) is False
    assert len(hasher.verified) == 3
    assert hasher.verified[2].startswith("hash:")  # the dummy, hashed like a real password


@pytest.mark.anyio
async def test_real_hashes_are_argon2id() -> None:
    passwords = Passwords()
    stored = await passwords.hash("correct horse battery staple")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await passwords.verify("correct horse battery staple", stored)
    assert not await passwords.verify("wrong horse battery staple", stored)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_remembered_token_still_expires() -> None:
    clock = ManualClock()
    tokens = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=60, clock=clock)
    token = tokens.issue(7)
    assert tokens.subject(token) == 7  # verified, and now remembered
    clock.advance(59)
    assert tokens.subject(token) == 7
    clock.advance(1)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.subject(token)


class BlockingHasher:
    """Hashes only when told to, counting how many hashes run at once."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        self.release = threading.Event()

    def hash(self, password: str) -> str:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.current_thread().name)
        self.release.wait(10)
        with self._lock:
            self.running -= 1
        return f"hash:{password}"


@pytest.mark.anyio
async def test_at_most_two_hashes_run_at_once_off_the_event_loop() -> None:
    hasher = BlockingHasher()
    passwords = Passwords(cast(PasswordHash, hasher))
    hashing = [asyncio.create_task(passwords.hash(f"password {n}")) for n in range(6)]
    for _ in range(500):
        if hasher.running == 2:
            break
        await asyncio.sleep(0.01)  # the loop is free while the hashes block their threads
    await asyncio.sleep(0.05)  # room for a third to start, if the bound did not hold
    assert (hasher.running, sum(task.done() for task in hashing)) == (2, 0)
    hasher.release.set()
    assert await asyncio.gather(*hashing) == [f"hash:password {n}" for n in range(6)]
    assert hasher.peak == 2
    assert threading.main_thread().name not in hasher.threads


@pytest.mark.anyio
async def test_past_the_queue_limit_password_checks_are_refused_at_once() -> None:
    hasher = BlockingHasher()
    passwords = Passwords(cast(PasswordHash, hasher), queue_limit=1)
    hashing = [asyncio.create_task(passwords.hash(f"password {n}")) for n in range(3)]  # two run, one waits
    for _ in range(500):
        if hasher.running == 2:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(Overloaded) as refused:
        await passwords.hash("one too many")
    assert refused.value.status == 503
    assert refused.value.headers == {"Retry-After": "1"}
    hasher.release.set()
    assert len(await asyncio.gather(*hashing)) == 3
    assert await passwords.hash("after the burst") == "hash:after the burst"  # the queue empties again


def test_a_token_longer_than_any_issued_is_refused_before_it_is_decoded() -> None:
    tokens = Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=60)
    padded = jwt.encode(
        {"sub": "7", "iss": "taskapi", "aud": "taskapi", "iat": 0, "exp": 2**40, "pad": "x" * 3000}, KEY
    )
    assert len(padded) > MAX_TOKEN_CHARS
    with pytest.raises(Unauthorized, match="not valid"):
        tokens.subject(padded)  # validly signed: only its length refuses it
    assert len(tokens.issue(2**63 - 1)) < MAX_TOKEN_CHARS // 8


@pytest.mark.parametrize("digits", [2900, 5000])  # the longest a token within the cap holds; past int()'s
@pytest.mark.parametrize("claim", ["sub", "exp", "iat", "nbf"])
def test_an_enormous_number_in_a_claim_is_refused_not_a_500(claim: str, digits: int) -> None:
    claims = {"sub": '"7"', "iss": '"taskapi"', "aud": '"taskapi"', "iat": str(NOW), "exp": str(NOW + 60)}
    claims[claim] = "9" * digits
    payload = "{" + ", ".join(f'"{name}": {value}' for name, value in claims.items()) + "}"
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.digest(KEY, header + b"." + body, "sha256")).rstrip(b"=")
    clock = ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    with pytest.raises(Unauthorized, match="not valid"):
        Tokens(KEY, issuer="taskapi", audience="taskapi", ttl_seconds=60, clock=clock).subject(
            (header + b"." + body + b"." + signature).decode()
        )
