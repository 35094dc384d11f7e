"""Hostile parameters and targets: query parameters given twice or out of range, task ids that are no ids
(traversal, NUL, huge, negative, other scripts' digits), another user's ids, and targets over the limit."""

from __future__ import annotations

import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import Answer, exchange, request
from tests.hostile.conftest import User
from tests.hostile.documented import LIMITS, assert_documented
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]
MAX_URL = LIMITS["max_url_bytes"]

QUERIES = {
    "limit=abc&limit=2": "limit=abc&limit=2",
    "limit=2&limit=2": "limit=2&limit=2",
    "completed=true&completed=false": "completed=true&completed=false",
    "cursor twice": "cursor=1&cursor=2",
    "limit in two spellings": "limit=2&l%69mit=3",
    "7 KB of limit=1 repeats": "&".join(["limit=1"] * 875),
    "limit=0": "limit=0",
    "limit=101": "limit=101",
    "limit=-1": "limit=-1",
    "limit=2.0": "limit=2.0",
    "limit=1e1": "limit=1e1",
    "limit=0x10": "limit=0x10",
    "limit=+5": "limit=%2B5",
    "limit= 5": "limit=%205",
    "limit empty": "limit=",
    "limit in Arabic-Indic digits": "limit=%D9%A1%D9%A2",
    "limit of 5,000 digits": "limit=" + "9" * 5000,
    "completed=yes": "completed=yes",
    "completed=1": "completed=1",
    "completed=True": "completed=True",
    "priority=6": "priority=6",
    "cursor=-1": "cursor=-1",
    "cursor of 20 digits": "cursor=" + "9" * 20,
    "cursor=abc": "cursor=abc",
    "cursor with SQL": "cursor=1%27%20OR%20%271%27%3D%271",
}


@pytest.mark.parametrize("query", list(QUERIES.values()), ids=list(QUERIES))
def test_a_bad_query_is_422(server: LiveServer, alice: User, query: str) -> None:
    assert_documented(exchange(server.base_url, request("GET", f"/tasks?{query}", alice.auth)), "listTasks", 422)


def test_a_24_kb_query_string_of_repeats_is_414(server: LiveServer, alice: User) -> None:
    query = "&".join(["limit=1"] * 3001)
    assert len(query) > 24000
    assert_documented(exchange(server.base_url, request("GET", f"/tasks?{query}", alice.auth)), "listTasks", 414)


@pytest.mark.parametrize(
    ("method", "target", "operation"),
    [
        ("GET", "/tasks/" + "1" * MAX_URL, "getTask"),
        ("POST", "/auth/token?" + "x" * MAX_URL, "createToken"),
        ("GET", "/" + "a" * MAX_URL, None),
    ],
    ids=["task id", "sign-in query", "unknown path"],
)
def test_a_target_over_the_limit_is_414(
    server: LiveServer, db: DatabaseState, alice: User, method: str, target: str, operation: str | None
) -> None:
    with db.unchanged():
        problem = assert_documented(exchange(server.base_url, request(method, target, alice.auth)), operation, 414)
    assert "instance" not in problem  # the refused target is not echoed


IDS = {
    "abc": "abc",
    "0": "0",
    "-1": "-1",
    "1.0": "1.0",
    "1e3": "1e3",
    "0x1": "0x1",
    "+1": "%2B1",
    "space": "%201",
    "2**63": str(2**63),
    "5,000 digits": "9" * 5000,
    "Arabic-Indic digits": "%D9%A1%D9%A2",
    "NUL after a digit": "1%00",
    "..": "%2e%2e",
    "backslashes": "..%5C..%5Cusers%5Cme",
    "SQL": "1%20OR%201%3D1",
}
# What each operation on /tasks/{task_id} is sent, with any body it needs.
OPERATIONS = {
    "getTask": ("GET", "", b""),
    "updateTask": ("PATCH", "", b'{"title": "must not be stored"}'),
    "completeTask": ("PATCH", "/complete", b""),
    "deleteTask": ("DELETE", "", b""),
}


def on_task(server: LiveServer, user: User, operation: str, task_id: str) -> Answer:
    """Call `operation` on /tasks/`task_id` (sent as it is: it may be no id at all), signed in as `user`."""
    method, suffix, body = OPERATIONS[operation]
    fields = {**user.auth, "Content-Type": "application/json"} if body else user.auth
    return exchange(server.base_url, request(method, f"/tasks/{task_id}{suffix}", fields, body))


@pytest.mark.parametrize("task_id", list(IDS.values()), ids=list(IDS))
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_a_task_id_that_is_no_id_is_422(
    server: LiveServer, db: DatabaseState, alice: User, operation: str, task_id: str
) -> None:
    with db.unchanged():
        answer = on_task(server, alice, operation, task_id)
    problem = assert_documented(answer, operation, 422)
    assert [(error["location"], error.get("parameter")) for error in problem["errors"]] == [("path", "task_id")]


@pytest.mark.parametrize(
    "task_id", ["..%2F..%2Fusers%2Fme", "1%2F..%2F2", "1/../2", "%2e%2e/%2e%2e/users/me", "%2F..%2F1"]
)
@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_path_traversal_reaches_no_operation(
    server: LiveServer, db: DatabaseState, alice: User, operation: str, task_id: str
) -> None:
    with db.unchanged():
        assert_documented(on_task(server, alice, operation, task_id), None, 404)


@pytest.mark.parametrize("operation", list(OPERATIONS))
def test_another_users_task_is_404_and_untouched(
    server: LiveServer, db: DatabaseState, alice: User, bob: User, operation: str
) -> None:
    with db.unchanged():
        theirs = on_task(server, alice, operation, str(bob.tasks[0]))
        missing = on_task(server, alice, operation, "999999999")
    assert_documented(theirs, operation, 404)
    assert_documented(missing, operation, 404)
    assert theirs.json()["detail"] == missing.json()["detail"].replace("999999999", str(bob.tasks[0]))


SIGN_IN = "grant_type=password&username=alice&password=correct+horse+battery+staple"
FORMS = {
    "username twice": (f"{SIGN_IN}&username=bob", 422, "/username"),
    "password twice": (f"{SIGN_IN}&password=another+password", 422, "/password"),
    "grant_type twice": (f"{SIGN_IN}&grant_type=password", 422, "/grant_type"),
    "no grant_type": ("username=alice&password=correct+horse+battery+staple", 422, "/grant_type"),
    "grant_type=client_credentials": (SIGN_IN.replace("=password", "=client_credentials", 1), 422, "/grant_type"),
    "username of 65 characters": (SIGN_IN.replace("alice", "a" * 65), 422, "/username"),
    "scope of 1,001 characters": (f"{SIGN_IN}&scope={'s' * 1001}", 422, "/scope"),
    "an unknown field": (f"{SIGN_IN}&admin=true", 422, "/admin"),
    "101 fields": (SIGN_IN + "".join(f"&f{n}=1" for n in range(98)), 400, None),
}


@pytest.mark.parametrize(("form", "status", "pointer"), list(FORMS.values()), ids=list(FORMS))
def test_a_bad_sign_in_form_is_refused_even_with_the_right_password(
    server: LiveServer, db: DatabaseState, alice: User, form: str, status: int, pointer: str | None
) -> None:
    fields = {"Content-Type": "application/x-www-form-urlencoded"}
    with db.unchanged():
        answer = exchange(server.base_url, request("POST", "/auth/token", fields, form.encode()))
    problem = assert_documented(answer, "createToken", status)
    if pointer is not None:
        assert pointer in [error.get("pointer") for error in problem["errors"]], problem
