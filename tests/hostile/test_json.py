"""Hostile JSON within the size limit: malformed documents, nesting as deep as the bytes allow, numbers too
large to convert, members given twice, properties the client must not set, and values of the wrong type."""

from __future__ import annotations

import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import exchange
from tests.hostile.conftest import User
from tests.hostile.documented import assert_documented, with_body
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]

MALFORMED = {
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "unclosed object": b'{"title": "x"',
    "missing value": b'{"title": }',
    "single quotes": b"{'title': 'x'}",
    "trailing comma": b'{"title": "x",}',
    "NaN": b'{"title": "x", "priority": NaN}',
    "Infinity": b'{"title": "x", "priority": Infinity}',
    "-Infinity": b'{"title": "x", "priority": -Infinity}',
    "two documents": b'{"title": "x"}{"title": "y"}',
    "trailing garbage": b'{"title": "x"} garbage',
    "a comment": b'// a task\n{"title": "x"}',
    "unquoted name": b'{title: "x"}',
    "hexadecimal number": b'{"title": "x", "priority": 0x5}',
    "leading zero": b'{"title": "x", "priority": 05}',
    "60,000 [": b"[" * 60_000,
    "10,000 nested objects": b'{"a": ' * 10_000,
    "nested 60,000 deep inside a task": b'{"title": "x", "description": ' + b"[" * 60_000,
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
@pytest.mark.parametrize("operation", ["createTask", "updateTask", "createUser"])
def test_malformed_json_is_400(server: LiveServer, db: DatabaseState, alice: User, operation: str, body: bytes) -> None:
    with db.unchanged():
        answer = exchange(server.base_url, with_body(operation, body, alice.auth, alice.tasks[0]))
    assert_documented(answer, operation, 400)


# Well-formed JSON that TaskCreate refuses, and where the 422 must point.
INVALID_TASKS = {
    "null": (b"null", ""),
    "an array": (b'[{"title": "x"}]', ""),
    "a string": (b'"title"', ""),
    "a number": (b"42", ""),
    "no title": (b"{}", "/title"),
    "priority twice": (b'{"title": "x", "priority": 1, "priority": 5}', "/priority"),
    "title twice": (b'{"title": "x", "title": "y"}', "/title"),
    "owner_id (mass assignment)": (b'{"title": "x", "owner_id": 1}', "/owner_id"),
    "id": (b'{"title": "x", "id": 1}', "/id"),
    "completed on create": (b'{"title": "x", "completed": true}', "/completed"),
    "created_at": (b'{"title": "x", "created_at": "2000-01-01T00:00:00Z"}', "/created_at"),
    "__proto__": (b'{"title": "x", "__proto__": {"admin": true}}', "/__proto__"),
    "priority 1e400": (b'{"title": "x", "priority": 1e400}', "/priority"),
    "priority of 4,001 digits": (b'{"title": "x", "priority": ' + b"9" * 4001 + b"}", "/priority"),
    "priority 1e99999999999999999999": (b'{"title": "x", "priority": 1e99999999999999999999}', "/priority"),
    "priority 2**64": (b'{"title": "x", "priority": 18446744073709551616}', "/priority"),
    "priority -0": (b'{"title": "x", "priority": -0}', "/priority"),
    "priority 1.5": (b'{"title": "x", "priority": 1.5}', "/priority"),
    "priority 5.000000000000001": (b'{"title": "x", "priority": 5.000000000000001}', "/priority"),
    "priority as a string": (b'{"title": "x", "priority": "5"}', "/priority"),
    "priority true": (b'{"title": "x", "priority": true}', "/priority"),
    "priority nested": (b'{"title": "x", "priority": ' + b"[" * 500 + b"]" * 500 + b"}", "/priority"),
    "title null": (b'{"title": null}', "/title"),
    "title an object": (b'{"title": {"$gt": ""}}', "/title"),
    "title a number": (b'{"title": 1}', "/title"),
    "title empty": (b'{"title": ""}', "/title"),
    "title of 201 characters": (b'{"title": "' + b"t" * 201 + b'"}', "/title"),
    "title of 60,000 characters": (b'{"title": "' + b"t" * 60_000 + b'"}', "/title"),
    "description of 2,001 characters": (b'{"title": "x", "description": "' + b"d" * 2001 + b'"}', "/description"),
    "5,000 unknown members": (b'{"title": "x", ' + b", ".join(b'"m%d": 0' % n for n in range(5000)) + b"}", "/m0"),
}


INVALID_UPDATES = {
    "no property": (b"{}", ""),
    "owner_id (mass assignment)": (b'{"owner_id": 2}', "/owner_id"),
    "id": (b'{"id": 1}', "/id"),
    "completed twice": (b'{"completed": true, "completed": false}', "/completed"),
    "completed as a string": (b'{"completed": "yes"}', "/completed"),
    "title null": (b'{"title": null}', "/title"),
    "priority 0": (b'{"priority": 0}', "/priority"),
}


INVALID_SIGN_UPS = {
    "username twice": (
        b'{"username": "mallory", "username": "alice", "password": "a long enough password"}',
        "/username",
    ),
    "password of 257 characters": (b'{"username": "mallory", "password": "' + b"p" * 257 + b'"}', "/password"),
    "password of 60,000 characters": (b'{"username": "mallory", "password": "' + b"p" * 60_000 + b'"}', "/password"),
    "fullwidth username": ('{"username": "ａｌｉｃｅ", "password": "a long enough password"}'.encode(), "/username"),
    "username with a path": (b'{"username": "../alice", "password": "a long enough password"}', "/username"),
    "username an array": (b'{"username": ["alice"], "password": "a long enough password"}', "/username"),
    "id (mass assignment)": (b'{"username": "mallory", "password": "a long enough password", "id": 1}', "/id"),
}


INVALID = {
    **{f"createTask: {name}": ("createTask", *case) for name, case in INVALID_TASKS.items()},
    **{f"updateTask: {name}": ("updateTask", *case) for name, case in INVALID_UPDATES.items()},
    **{f"createUser: {name}": ("createUser", *case) for name, case in INVALID_SIGN_UPS.items()},
}


@pytest.mark.parametrize(("operation", "body", "pointer"), list(INVALID.values()), ids=list(INVALID))
def test_json_the_operation_refuses_is_422_pointing_at_the_fault(
    server: LiveServer, db: DatabaseState, alice: User, operation: str, body: bytes, pointer: str
) -> None:
    with db.unchanged():
        answer = exchange(server.base_url, with_body(operation, body, alice.auth, alice.tasks[0]))
    problem = assert_documented(answer, operation, 422)
    assert pointer in [error.get("pointer") for error in problem["errors"]], problem
