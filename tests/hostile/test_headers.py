"""Hostile header sections: bearer tokens of megabytes, forged and absurd tokens, header sections over the
limit in one field or in thousands, and request ids that must not be echoed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from taskapi.auth import MAX_TOKEN_CHARS
from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import MB, Sender, Wire, exchange, request
from tests.hostile.conftest import JWT_SECRET, User
from tests.hostile.documented import LIMITS, REQUEST_ID, assert_documented
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]
MAX_HEADER = LIMITS["max_header_bytes"]
NEW_TASK = b'{"title": "must not be stored"}'


@pytest.mark.parametrize("size", [20 * MB, 1 * MB], ids=["20 MB", "1 MiB"])
def test_a_huge_bearer_token_is_431_while_it_arrives(server: LiveServer, db: DatabaseState, size: int) -> None:
    head = b"POST /tasks HTTP/1.1\r\nHost: hostile.test\r\nContent-Type: application/json\r\nAuthorization: Bearer "
    with db.unchanged(), Wire(server.base_url) as wire:
        sender = Sender(wire, head, size, b"A" * 65536)
        answer = wire.answer()
        assert_documented(answer, "createTask", 431)
        assert answer.headers["connection"] == "close"
        assert wire.ends()
        sender.join()


def claims(sub: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": sub, "iss": "taskapi", "aud": "taskapi", "iat": now, "nbf": now, "exp": now + 600}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not None}


def signed(payload: dict[str, Any], key: str = JWT_SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def unsigned(payload: dict[str, Any]) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    return f"{header}.{jwt.utils.base64url_encode(json.dumps(payload).encode()).decode()}."


# Tokens made with the server's own key unless they say otherwise: `sub` is the user's id.
TOKENS: dict[str, Callable[[User], str]] = {
    "sub of 5,000 digits, validly signed": lambda user: signed(claims("9" * 5000)),
    "sub of 2,500 digits, validly signed (short enough to be decoded)": lambda user: signed(claims("9" * 2500)),
    "sub past the largest id": lambda user: signed(claims(str(2**63))),
    "sub negative": lambda user: signed(claims("-1")),
    "sub zero": lambda user: signed(claims("0")),
    "sub in Arabic-Indic digits": lambda user: signed(claims("١")),
    "sub with a NUL": lambda user: signed(claims(f"{user.id}\u0000")),
    "sub an integer, not a string": lambda user: signed({**claims("0"), "sub": user.id}),
    "alg none": lambda user: unsigned(claims(str(user.id))),
    "another key": lambda user: signed(claims(str(user.id)), "not-the-servers-key-" + "x" * 40),
    "HS384 with the right key": lambda user: signed(claims(str(user.id)), algorithm="HS384"),
    "expired": lambda user: signed(claims(str(user.id), iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "exp of 400 digits": lambda user: signed(claims(str(user.id), exp=10**400)),
    "no exp": lambda user: signed(claims(str(user.id), exp=None)),
    "another issuer": lambda user: signed(claims(str(user.id), iss="https://evil.example")),
    "10 KiB of token characters": lambda user: "A" * 10240,
    "a token one character longer than any the server issues": lambda user: "A" * (MAX_TOKEN_CHARS + 1),
    "bytes that are not ASCII": lambda user: "\udcff\udcfe" * 10,
}


@pytest.mark.parametrize("make", list(TOKENS.values()), ids=list(TOKENS))
def test_a_forged_or_absurd_token_is_401(
    server: LiveServer, db: DatabaseState, alice: User, make: Callable[[User], str]
) -> None:
    auth = {"Authorization": f"Bearer {make(alice)}"}
    with db.unchanged():
        listing = exchange(server.base_url, request("GET", "/tasks", auth))
        creating = exchange(
            server.base_url, request("POST", "/tasks", {**auth, "Content-Type": "application/json"}, NEW_TASK)
        )
    for answer, operation in ((listing, "listTasks"), (creating, "createTask")):
        assert_documented(answer, operation, 401)
        assert answer.headers["www-authenticate"] == 'Bearer error="invalid_token"', answer


def test_a_header_field_over_the_limit_is_431(server: LiveServer, db: DatabaseState, alice: User) -> None:
    fields = {**alice.auth, "Content-Type": "application/json", "X-Padding": "p" * (MAX_HEADER + 1)}
    with db.unchanged():
        assert_documented(exchange(server.base_url, request("POST", "/tasks", fields, NEW_TASK)), "createTask", 431)


def test_twenty_thousand_tiny_header_fields_are_431(server: LiveServer, db: DatabaseState, alice: User) -> None:
    fields = [*alice.auth.items(), ("Content-Type", "application/json"), *((f"x{n}", "") for n in range(20000))]
    with db.unchanged():
        assert_documented(exchange(server.base_url, request("POST", "/tasks", fields, NEW_TASK)), "createTask", 431)


def test_header_fields_just_under_the_limit_are_served(server: LiveServer, alice: User) -> None:
    padding = MAX_HEADER - 1024  # what the other fields take, with room to spare
    answer = exchange(server.base_url, request("GET", "/tasks", {**alice.auth, "X-Padding": "p" * padding}))
    assert answer.status == 200, answer


@pytest.mark.parametrize(
    "request_id",
    [
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "a" * 129,
        "id with spaces",
        "%0d%0aSet-Cookie:%20x=1",
        "-leading-dash",
    ],
)
def test_an_ill_formed_request_id_is_replaced_not_echoed(server: LiveServer, request_id: str) -> None:
    answer = exchange(server.base_url, request("GET", "/tasks/1", {"X-Request-ID": request_id}))
    assert_documented(answer, "getTask", 401)
    assert answer.headers["x-request-id"] != request_id
    assert REQUEST_ID.fullmatch(answer.headers["x-request-id"])
    assert request_id.encode() not in answer.body
