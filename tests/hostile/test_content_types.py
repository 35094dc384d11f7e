"""Bodies that are not of the operation's media type, or that say so ambiguously: 415, whatever the body."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import exchange, request
from tests.hostile.conftest import PASSWORD, User
from tests.hostile.documented import assert_documented
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]
TASK = b'{"title": "must not be stored"}'
MULTIPART = (
    b'--XX\r\nContent-Disposition: form-data; name="title"\r\n\r\nmust not be stored\r\n--XX--\r\n',
    "multipart/form-data; boundary=XX",
)

# The Content-Type fields sent with a valid task; each must be refused.
TASK_TYPES: dict[str, Sequence[str]] = {
    "missing": (),
    "text/plain": ("text/plain",),
    "charset=latin-1": ("application/json; charset=latin-1",),
    "charset=utf-16": ("application/json; charset=utf-16",),
    "charset given twice": ("application/json; charset=utf-8; charset=latin-1",),
    "form-encoded": ("application/x-www-form-urlencoded",),
    "multipart": (MULTIPART[1],),
    "application/xml": ("application/xml",),
    "two media types in one field": ("application/json, text/plain",),
    "text/plain first of two fields": ("text/plain", "application/json"),
    "empty": ("",),
    "no subtype": ("application",),
    "json as a parameter": ("text/plain; type=application/json",),
}


@pytest.mark.parametrize("content_types", list(TASK_TYPES.values()), ids=list(TASK_TYPES))
def test_a_task_that_is_not_json_is_415(
    server: LiveServer, db: DatabaseState, alice: User, content_types: Sequence[str]
) -> None:
    fields = [*alice.auth.items(), *(("Content-Type", value) for value in content_types)]
    body = MULTIPART[0] if content_types == (MULTIPART[1],) else TASK
    with db.unchanged():
        assert_documented(exchange(server.base_url, request("POST", "/tasks", fields, body)), "createTask", 415)


SIGN_IN = f"grant_type=password&username=alice&password={PASSWORD.replace(' ', '+')}".encode()
SIGN_IN_TYPES: dict[str, tuple[tuple[str, ...], bytes]] = {
    "JSON": (("application/json",), b'{"grant_type": "password", "username": "alice", "password": "x"}'),
    "missing": ((), SIGN_IN),
    "multipart": ((MULTIPART[1],), MULTIPART[0]),
    "text/plain": (("text/plain",), SIGN_IN),
}


@pytest.mark.parametrize(("content_types", "body"), list(SIGN_IN_TYPES.values()), ids=list(SIGN_IN_TYPES))
def test_a_sign_in_that_is_not_a_form_is_415(
    server: LiveServer, db: DatabaseState, alice: User, content_types: tuple[str, ...], body: bytes
) -> None:
    fields = [("Content-Type", value) for value in content_types]
    with db.unchanged():
        answer = exchange(server.base_url, request("POST", "/auth/token", fields, body))
    assert_documented(answer, "createToken", 415)


def test_a_sign_up_as_a_form_is_415(server: LiveServer, db: DatabaseState) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    with db.unchanged():
        answer = exchange(
            server.base_url, request("POST", "/users", form, b"username=mallory&password=a+long+password")
        )
    assert_documented(answer, "createUser", 415)
