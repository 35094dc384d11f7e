"""Hostile bodies: 100 MB bodies several at a time, declared and chunked, JSON and form; a 20 MB JSON
array; a 3 MiB task; bodies sent to operations that take none; and the limit to the byte."""

from __future__ import annotations

import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import MB, Sender, Wire, chunked, exchange, request
from tests.hostile.conftest import User
from tests.hostile.documented import LIMITS, assert_documented
from tests.hostile.state import DatabaseState

pytestmark = [pytest.mark.hostile, pytest.mark.xdist_group("hostile"), pytest.mark.slow]
MAX_BODY = LIMITS["max_body_bytes"]
JSON = {"Content-Type": "application/json"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_three_100_mb_bodies_at_once_to_sign_up_and_to_sign_in_are_413(server: LiveServer, db: DatabaseState) -> None:
    """Six connections at once, each announcing 100 MB and sending as fast as the server takes it: each is
    refused at the limit, its connection closed, and the worker's memory stays small (checked after
    every test)."""
    targets = [("/users", "createUser", JSON)] * 3 + [("/auth/token", "createToken", FORM)] * 3
    wires = [Wire(server.base_url) for _ in targets]
    try:
        with db.unchanged():
            senders = [
                Sender(wire, request("POST", path, {**headers, "Content-Length": str(100 * MB)}), 100 * MB)
                for wire, (path, _, headers) in zip(wires, targets, strict=True)
            ]
            for wire, (_, operation, _) in zip(wires, targets, strict=True):
                answer = wire.answer()
                assert_documented(answer, operation, 413)
                assert answer.headers["connection"] == "close"
                assert wire.ends()
            for sender in senders:
                sender.join()  # the rest is discarded unread (RFC 9112, 9.6), or refused when the server closes
    finally:
        for wire in wires:
            wire.close()


def test_a_100_mb_chunked_body_is_413_once_the_limit_has_arrived(
    server: LiveServer, db: DatabaseState, alice: User
) -> None:
    head = request("POST", "/tasks", {**alice.auth, **JSON, "Transfer-Encoding": "chunked"})
    piece = chunked(b"[" * 65536, last=False)
    with db.unchanged(), Wire(server.base_url) as wire:
        sender = Sender(wire, head, 100 * MB, piece)
        assert_documented(wire.answer(), "createTask", 413)
        assert wire.ends()
        sender.join()


def json_array(size: int) -> bytes:
    return b"[" + b"1," * (size // 2 - 1) + b"1]"


@pytest.mark.parametrize(
    ("body", "framing"),
    [
        (json_array(20 * MB), "declared"),
        (json_array(20 * MB), "chunked"),
        (b'{"title": "' + b"t" * (3 * MB) + b'"}', "declared"),
        (b'{"title": "x", "description": "' + b"d" * (3 * MB) + b'"}', "chunked"),
        (b"[" * 100_000, "declared"),
    ],
    ids=["20 MB JSON array", "20 MB JSON array, chunked", "3 MiB task", "3 MiB task, chunked", "100k ["],
)
def test_a_task_body_over_the_limit_is_413(
    server: LiveServer, db: DatabaseState, alice: User, body: bytes, framing: str
) -> None:
    if framing == "chunked":
        raw = request(
            "POST", "/tasks", {**alice.auth, **JSON, "Transfer-Encoding": "chunked"}, chunked(body), length=False
        )
    else:
        raw = request("POST", "/tasks", {**alice.auth, **JSON}, body)
    with db.unchanged(), Wire(server.base_url) as wire:
        sender = Sender(wire, raw, len(raw), raw) if len(raw) > MB else None
        if sender is None:
            wire.send(raw)
        assert_documented(wire.answer(), "createTask", 413)
        assert wire.ends()
        if sender is not None:
            sender.join()


def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_not(
    server: LiveServer, db: DatabaseState, alice: User
) -> None:
    at_limit = b'{"title": "' + b"t" * (MAX_BODY - 13) + b'"}'
    assert len(at_limit) == MAX_BODY
    with db.unchanged():
        problem = assert_documented(
            exchange(server.base_url, request("POST", "/tasks", {**alice.auth, **JSON}, at_limit)), "createTask", 422
        )
        assert [error["pointer"] for error in problem["errors"]] == ["/title"]
        over = at_limit[:-2] + b't"}'
        assert_documented(
            exchange(server.base_url, request("POST", "/tasks", {**alice.auth, **JSON}, over)), "createTask", 413
        )


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("PATCH", "/tasks/{id}", "updateTask"),
        ("GET", "/tasks", "listTasks"),
        ("GET", "/tasks/{id}", "getTask"),
        ("DELETE", "/tasks/{id}", "deleteTask"),
        ("PATCH", "/tasks/{id}/complete", "completeTask"),
        ("GET", "/users/me", "getCurrentUser"),
        ("GET", "/healthz", "getHealth"),
    ],
)
def test_a_100_mb_body_to_any_operation_is_refused_unread(
    server: LiveServer, db: DatabaseState, alice: User, method: str, path: str, operation: str
) -> None:
    """Operations that take no body still get one from a hostile client: the server must not read it."""
    head = request(method, path.format(id=alice.tasks[0]), {**alice.auth, **JSON, "Content-Length": str(100 * MB)})
    with db.unchanged(), Wire(server.base_url) as wire:
        sender = Sender(wire, head, 100 * MB)
        assert_documented(wire.answer(), operation, 413)
        assert wire.ends()
        sender.join()
