"""The JWT attack set: every forged, broken or stale token gets 401 problem+json with a challenge."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from taskapi.testing.clock import ManualClock
from tests.api.conftest import JWT_SECRET, User
from tests.api.problems import assert_problem

pytestmark = pytest.mark.anyio


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(user: User, now: int, **changes: Any) -> dict[str, Any]:
    """A valid token's claims at `now` (the app's clock), with `changes` (None removes a claim)."""
    base = {"sub": str(user.id), "iss": "taskapi", "aud": "taskapi", "iat": now, "nbf": now, "exp": now + 600}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def hs256(payload: dict[str, Any], key: str = JWT_SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def unsigned(payload: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


INVALID = "The bearer token is not valid."
# Each attack: how to make the token from the user and the app's time, and the 401's detail, which
# says why it was refused (so no attack passes for the wrong reason).
ATTACKS: dict[str, tuple[Callable[[User, int], str], str]] = {
    "malformed": (lambda user, now: "not.a.jwt", INVALID),
    "garbage": (lambda user, now: "%%%", INVALID),
    "wrong signature": (lambda user, now: hs256(claims(user, now), "another-secret-" + "x" * 40), INVALID),
    "alg none": (lambda user, now: unsigned(claims(user, now)), INVALID),
    "alg none, no dot": (lambda user, now: unsigned(claims(user, now))[:-1], INVALID),
    "HS384 with the right key": (
        lambda user, now: jwt.encode(claims(user, now), JWT_SECRET, algorithm="HS384"),
        INVALID,
    ),
    "RS256 (alg confusion)": (
        lambda user, now: jwt.encode(
            claims(user, now), rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"
        ),
        INVALID,
    ),
    "expired": (
        lambda user, now: hs256(claims(user, now, iat=now - 7200, exp=now - 3600)),
        "The bearer token has expired.",
    ),
    "missing exp": (lambda user, now: hs256(claims(user, now, exp=None)), INVALID),
    "missing iat": (lambda user, now: hs256(claims(user, now, iat=None)), INVALID),
    "missing sub": (lambda user, now: hs256(claims(user, now, sub=None)), INVALID),
    "wrong aud": (lambda user, now: hs256(claims(user, now, aud="someone-else")), INVALID),
    "aud list": (lambda user, now: hs256(claims(user, now, aud=["taskapi", "x"])), INVALID),
    "wrong iss": (lambda user, now: hs256(claims(user, now, iss="https://evil.example")), INVALID),
    "future nbf": (lambda user, now: hs256(claims(user, now, nbf=now + 3600)), "The bearer token is not valid yet."),
    "future iat": (lambda user, now: hs256(claims(user, now, iat=now + 3600)), "The bearer token is not valid yet."),
    "non-numeric sub": (lambda user, now: hs256(claims(user, now, sub="alice")), INVALID),
    "unknown user": (
        lambda user, now: hs256(claims(user, now, sub="999999")),
        "The bearer token's user no longer exists.",
    ),
    "sub of 5,000 digits": (lambda user, now: hs256(claims(user, now, sub="9" * 5000)), INVALID),
    "sub past the largest id": (lambda user, now: hs256(claims(user, now, sub=str(2**63))), INVALID),
    "exp not a number": (lambda user, now: hs256(claims(user, now, exp="soon")), INVALID),
    "exp infinite": (lambda user, now: hs256(claims(user, now, exp=float("inf"))), INVALID),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_attack_gets_401(anonymous: httpx.AsyncClient, alice: User, clock: ManualClock, attack: str) -> None:
    make, detail = ATTACKS[attack]
    token = make(alice, int(clock.now().timestamp()))
    for method, path in (("GET", "/tasks"), ("GET", "/users/me"), ("POST", "/tasks")):
        response = await anonymous.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, json={"title": "x"}
        )
        problem = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert JWT_SECRET not in response.text
        assert "argon2" not in response.text
        assert problem["detail"] == detail
    assert (await alice.client.get("/tasks")).json()["items"] == []


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "Token abc"])
async def test_a_malformed_authorization_header_is_401(anonymous: httpx.AsyncClient, header: str) -> None:
    response = await anonymous.get("/tasks", headers={"Authorization": header})
    assert_problem(response, 401)
    # RFC 6750 §3.1: a request the server cannot read as bearer credentials is invalid_request.
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_request"'


async def test_no_token_is_401_with_a_bare_challenge(anonymous: httpx.AsyncClient) -> None:
    for method, path in (("GET", "/tasks"), ("POST", "/tasks"), ("GET", "/tasks/1"), ("DELETE", "/tasks/1")):
        response = await anonymous.request(method, path)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"


async def test_a_valid_token_works(alice: User) -> None:
    assert (await alice.client.get("/tasks")).status_code == 200
