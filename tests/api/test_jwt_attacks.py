"""The JWT attack set: every forged, broken or stale token gets 401 problem+json with a challenge."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.api.conftest import JWT_SECRET, User
from tests.api.problems import assert_problem

pytestmark = pytest.mark.anyio


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(user: User, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {"sub": str(user.id), "iss": "taskapi", "aud": "taskapi", "iat": now, "nbf": now, "exp": now + 600}
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def hs256(payload: dict[str, Any], key: str = JWT_SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def unsigned(payload: dict[str, Any]) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(payload).encode())}."


ATTACKS: dict[str, Any] = {
    "malformed": lambda user: "not.a.jwt",
    "garbage": lambda user: "%%%",
    "wrong signature": lambda user: hs256(claims(user), "another-secret-" + "x" * 40),
    "alg none": lambda user: unsigned(claims(user)),
    "alg none, no dot": lambda user: unsigned(claims(user))[:-1],
    "HS384 with the right key": lambda user: jwt.encode(claims(user), JWT_SECRET, algorithm="HS384"),
    "RS256 (alg confusion)": lambda user: jwt.encode(
        claims(user), rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"
    ),
    "expired": lambda user: hs256(claims(user, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "missing exp": lambda user: hs256(claims(user, exp=None)),
    "missing iat": lambda user: hs256(claims(user, iat=None)),
    "missing sub": lambda user: hs256(claims(user, sub=None)),
    "wrong aud": lambda user: hs256(claims(user, aud="someone-else")),
    "aud list": lambda user: hs256(claims(user, aud=["taskapi", "x"])),
    "wrong iss": lambda user: hs256(claims(user, iss="https://evil.example")),
    "future nbf": lambda user: hs256(claims(user, nbf=int(time.time()) + 3600)),
    "non-numeric sub": lambda user: hs256(claims(user, sub="alice")),
    "unknown user": lambda user: hs256(claims(user, sub="999999")),
    "sub of 5,000 digits": lambda user: hs256(claims(user, sub="9" * 5000)),
    "exp not a number": lambda user: hs256(claims(user, exp="soon")),
    "exp infinite": lambda user: hs256(claims(user, exp=float("inf"))),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_attack_gets_401(anonymous: httpx.AsyncClient, alice: User, attack: str) -> None:
    token = ATTACKS[attack](alice)
    for method, path in (("GET", "/tasks"), ("GET", "/users/me"), ("POST", "/tasks")):
        response = await anonymous.request(
            method, path, headers={"Authorization": f"Bearer {token}"}, json={"title": "x"}
        )
        problem = assert_problem(response, 401)
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
        assert JWT_SECRET not in response.text
        assert "argon2" not in response.text
        assert problem["detail"].startswith("The bearer token")
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
