"""Hostile text: NUL characters, lone surrogates, bytes that are not UTF-8 (invalid, overlong, CESU-8,
truncated), a byte-order mark, UTF-16 — in JSON bodies, forms, query strings and paths."""

from __future__ import annotations

import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import exchange, request
from tests.hostile.conftest import User
from tests.hostile.documented import assert_documented, with_body
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]

# JSON task bodies, and the status each must get: 422 when the JSON is well-formed UTF-8 but the value
# is not acceptable text, 400 when the bytes are not UTF-8 or not JSON.
TASK_BODIES = {
    "NUL escaped in the title": (b'{"title": "a\\u0000b"}', 422),
    "NUL escaped in the description": (b'{"title": "x", "description": "a\\u0000"}', 422),
    "NUL byte in a string": (b'{"title": "a\x00b"}', 400),
    "NUL byte between tokens": (b'{"title": "x"}\x00', 400),
    "lone high surrogate": (b'{"title": "\\ud800"}', 422),
    "lone low surrogate": (b'{"title": "\\udfff"}', 422),
    "surrogates reversed": (b'{"title": "\\udc00\\ud800"}', 422),
    "lone surrogate in the description": (b'{"title": "x", "description": "\\udbff"}', 422),
    "lone surrogate as a member name": (b'{"title": "x", "\\ud800": 1}', 422),
    "invalid UTF-8 byte": (b'{"title": "\xff"}', 400),
    "overlong slash": (b'{"title": "\xc0\xaf"}', 400),
    "overlong NUL": (b'{"title": "\xc0\x80"}', 400),
    "CESU-8 surrogate": (b'{"title": "\xed\xa0\x80"}', 400),
    "truncated sequence": (b'{"title": "\xe2\x82"}', 400),
    "code point past U+10FFFF": (b'{"title": "\xf4\x90\x80\x80"}', 400),
    "byte-order mark": (b'\xef\xbb\xbf{"title": "x"}', 400),
    "UTF-16": ('{"title": "x"}'.encode("utf-16"), 400),
    "Latin-1": ('{"title": "café"}'.encode("latin-1"), 400),
}


SIGN_UPS = {
    "NUL in the username": (b'{"username": "mallory\\u0000", "password": "a long enough password"}', 422),
    "NUL in the password": (b'{"username": "mallory", "password": "a long enough\\u0000password"}', 422),
    "lone surrogate in the username": (b'{"username": "m\\ud800", "password": "a long enough password"}', 422),
    "lone surrogates as the password": (b'{"username": "mallory", "password": "' + b"\\ud800" * 12 + b'"}', 422),
    "invalid UTF-8 in the password": (b'{"username": "mallory", "password": "a long enough \xff password"}', 400),
}


FORMS = {
    "NUL in the username": (b"grant_type=password&username=alice%00&password=x", 422),
    "NUL in the password": (b"grant_type=password&username=alice&password=a%00b", 422),
    "percent-encoded invalid UTF-8": (b"grant_type=password&username=%ff&password=x", 400),
    "percent-encoded surrogate": (b"grant_type=password&username=%ED%A0%80&password=x", 400),
    "percent-encoded overlong": (b"grant_type=password&username=%C0%AF&password=x", 400),
    "raw bytes that are not ASCII": ("grant_type=password&username=é&password=x".encode(), 400),
    "raw NUL byte": (b"grant_type=password&username=alice\x00&password=x", 422),
    "broken percent-encoding": (b"grant_type=password&username=%zz&password=x", 401),
}


BODIES = {
    **{f"createTask: {name}": ("createTask", *case) for name, case in TASK_BODIES.items()},
    **{f"createUser: {name}": ("createUser", *case) for name, case in SIGN_UPS.items()},
    **{f"createToken: {name}": ("createToken", *case) for name, case in FORMS.items()},
}


@pytest.mark.parametrize(("operation", "body", "status"), list(BODIES.values()), ids=list(BODIES))
def test_hostile_text_in_a_body(
    server: LiveServer, db: DatabaseState, alice: User, operation: str, body: bytes, status: int
) -> None:
    with db.unchanged():
        answer = exchange(server.base_url, with_body(operation, body, alice.auth))
    assert_documented(answer, operation, status)


TARGETS = {
    "NUL in a query value": ("/tasks?cursor=%00", "listTasks", 422),
    "percent-encoded surrogate in a query value": ("/tasks?cursor=%ED%A0%80", "listTasks", 422),
    "invalid UTF-8 in a query value": ("/tasks?cursor=%FF", "listTasks", 422),
    "overlong in a query value": ("/tasks?limit=%C0%B1", "listTasks", 422),
    "NUL as a task id": ("/tasks/%00", "getTask", 422),
    "invalid UTF-8 as a task id": ("/tasks/%FF", "getTask", 422),
    "overlong digit as a task id": ("/tasks/%C0%B1", "getTask", 422),
    "fullwidth digit as a task id": ("/tasks/%EF%BC%91", "getTask", 422),
}


@pytest.mark.parametrize(("target", "operation", "status"), list(TARGETS.values()), ids=list(TARGETS))
def test_hostile_text_in_a_request_target(
    server: LiveServer, alice: User, target: str, operation: str, status: int
) -> None:
    assert_documented(exchange(server.base_url, request("GET", target, alice.auth)), operation, status)
