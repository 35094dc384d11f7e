"""Framing attacks: requests smuggled inside ambiguous bodies (CL.TE, TE.CL, duplicate Content-Length,
obfuscated Transfer-Encoding), bytes that are not HTTP/1.1, and 300 mixed requests pipelined on one
connection, answered in order."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import Wire, chunked, request
from tests.hostile.conftest import User
from tests.hostile.documented import assert_documented
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]


def smuggled(user: User) -> bytes:
    """The request a smuggler hides in a body: if the server ever ran it, a task would appear."""
    return request("POST", "/tasks", {**user.auth, "Content-Type": "application/json"}, b'{"title": "smuggled"}')


def framed(user: User, fields: list[tuple[str, str]], body: bytes) -> bytes:
    return request(
        "POST", "/tasks", [*user.auth.items(), ("Content-Type", "application/json"), *fields], body, length=False
    )


SMUGGLING = {
    # The front end reads Content-Length, the back end chunks: the rest is a second request.
    "CL.TE": lambda user: framed(
        user, [("Content-Length", "5"), ("Transfer-Encoding", "chunked")], b"0\r\n\r\n" + smuggled(user)
    ),
    "TE.CL": lambda user: framed(
        user, [("Transfer-Encoding", "chunked"), ("Content-Length", "4")], chunked(b'{"title": "x"}' + smuggled(user))
    ),
    "two different Content-Lengths": lambda user: framed(
        user,
        [("Content-Length", "14"), ("Content-Length", str(14 + len(smuggled(user))))],
        b'{"title": "x"}' + smuggled(user),
    ),
    "two equal Content-Lengths": lambda user: framed(
        user, [("Content-Length", "14"), ("Content-Length", "14")], b'{"title": "x"}' + smuggled(user)
    ),
    "Content-Length list": lambda user: framed(
        user, [("Content-Length", "14, 14")], b'{"title": "x"}' + smuggled(user)
    ),
    "Transfer-Encoding: xchunked": lambda user: framed(
        user, [("Transfer-Encoding", "xchunked"), ("Content-Length", "5")], b"0\r\n\r\n" + smuggled(user)
    ),
    "Transfer-Encoding: chunked, identity": lambda user: framed(
        user, [("Transfer-Encoding", "chunked, identity")], chunked(b'{"title": "x"}') + smuggled(user)
    ),
    "Transfer-Encoding twice": lambda user: framed(
        user,
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "identity")],
        chunked(b'{"title": "x"}') + smuggled(user),
    ),
    "space before the colon": lambda user: framed(
        user, [("Transfer-Encoding ", "chunked"), ("Content-Length", "5")], b"0\r\n\r\n" + smuggled(user)
    ),
    "Transfer-Encoding folded": lambda user: framed(
        user, [("Transfer-Encoding", "\r\n chunked"), ("Content-Length", "5")], b"0\r\n\r\n" + smuggled(user)
    ),
    "chunk size overflow": lambda user: framed(
        user, [("Transfer-Encoding", "chunked")], b"10000000000000000e\r\n" + smuggled(user)
    ),
    "negative Content-Length": lambda user: framed(user, [("Content-Length", "-1")], smuggled(user)),
    "Content-Length overflow": lambda user: framed(user, [("Content-Length", "9" * 30)], smuggled(user)),
}


@pytest.mark.parametrize("attack", list(SMUGGLING))
def test_a_smuggling_attempt_is_400_and_the_hidden_request_never_runs(
    server: LiveServer, db: DatabaseState, alice: User, attack: str
) -> None:
    with db.unchanged("a smuggled request"), Wire(server.base_url) as wire:
        wire.send(SMUGGLING[attack](alice))
        assert_documented(wire.answer(), None, 400)
        assert wire.ends()  # and nothing more: no answer to a second request


MALFORMED = {
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello's start
    "not a request line": b"HELLO\r\n\r\n",
    "HTTP/2 preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "unknown method": b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "lower-case method": b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "control character in the method": b"G\x01T /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "HTTP/9.9": b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
    "space in the target": b"GET /heal thz HTTP/1.1\r\nHost: x\r\n\r\n",
    "field without a colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Field\r\n\r\n",
    "space before the colon": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n",
    "obsolete line folding": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\n\r\n",
    "NUL in a field value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bare CR in a field value": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n",
    "bare LF line ends": b"GET /healthz HTTP/1.1\nHost: x\n\n",
    "CONNECT": b"CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n",
}


@pytest.mark.parametrize("data", list(MALFORMED.values()), ids=list(MALFORMED))
def test_bytes_that_are_not_http_are_400_with_a_request_id(server: LiveServer, data: bytes) -> None:
    with Wire(server.base_url) as wire:
        wire.send(data)
        problem = assert_documented(wire.answer(), None, 400)
        assert problem["detail"].startswith("The request is not well-formed HTTP/1.1"), problem
        assert wire.ends()


def test_300_mixed_requests_pipelined_are_answered_in_order(server: LiveServer, db: DatabaseState, alice: User) -> None:
    json_type = {"Content-Type": "application/json"}
    mine = alice.tasks[0]
    kinds: list[tuple[Callable[[int], bytes], int]] = [
        (lambda n: request("GET", "/healthz"), 200),
        (lambda n: request("GET", "/tasks?limit=2", alice.auth), 200),
        (lambda n: request("POST", "/tasks", {**alice.auth, **json_type}, b'{"title": "pipelined %d"}' % n), 201),
        (lambda n: request("GET", f"/tasks/{mine}", alice.auth), 200),
        (lambda n: request("GET", "/tasks/999999999", alice.auth), 404),
        (lambda n: request("GET", "/tasks/abc", alice.auth), 422),
        (
            lambda n: request(
                "PATCH", f"/tasks/{mine}", {**alice.auth, **json_type}, b'{"priority": %d}' % (n % 5 + 1)
            ),
            200,
        ),
        (lambda n: request("POST", "/tasks", {**alice.auth, **json_type}, b'{"title": ""}'), 422),
        (lambda n: request("POST", "/tasks", {**alice.auth, **json_type}, b"{"), 400),
        (lambda n: request("DELETE", "/tasks/999999999", alice.auth), 404),
        (lambda n: request("GET", "/users/me"), 401),
        (lambda n: request("PUT", "/tasks"), 405),
    ]
    plan = [(kinds[n % len(kinds)][0](n), kinds[n % len(kinds)][1]) for n in range(300)]
    before = db.snapshot()
    with Wire(server.base_url) as wire:
        wire.send(
            b"".join(
                raw.replace(b"\r\n\r\n", f"\r\nX-Request-ID: pipelined-{n}\r\n\r\n".encode(), 1)
                for n, (raw, _) in enumerate(plan)
            )
        )
        answers = wire.answers(len(plan), timeout=30)
    assert [answer.headers["x-request-id"] for answer in answers] == [f"pipelined-{n}" for n in range(len(plan))]
    assert [answer.status for answer in answers] == [status for _, status in plan]
    created = [json.loads(answer.body)["title"] for answer in answers if answer.status == 201]
    assert created == [f"pipelined {n}" for n in range(len(plan)) if plan[n][1] == 201]
    assert db.snapshot().counts["tasks"] == before.counts["tasks"] + len(created)
