"""`TASKAPI_HTTP_PROTOCOL=uvicorn` (stock uvicorn's httptools protocol) over raw sockets, one server for the
module, as README's Limits section describes it: the size limits and the duplicate and number checks stay
(the app applies them: problem+json), as does the keep-alive timeout; connections are capped by uvicorn's
`limit_concurrency` (a text/plain 503 without Retry-After); there is no header or body timeout; and a
malformed request gets uvicorn's text/plain 400. The single-write protocol's own answers to the same
requests: tests/contract/test_limits.py."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator

import pytest

from taskapi.generated.server import LIMITS
from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import LiveServer, live_server
from taskapi.testing.wire import Answer, Wire, chunked, request

pytestmark = [pytest.mark.contract, pytest.mark.xdist_group("stock_protocol")]

MAX_HEADER, MAX_URL, MAX_BODY = LIMITS.max_header_bytes, LIMITS.max_url_bytes, LIMITS.max_body_bytes
# The timeouts the single-write protocol would apply (short, so that three times them is quick to wait).
READ_TIMEOUT = 0.5
KEEP_ALIVE = 1
CAP = 6
STOCK = {
    "TASKAPI_HTTP_PROTOCOL": "uvicorn",
    "TASKAPI_HEADER_TIMEOUT_SECONDS": f"{READ_TIMEOUT:g}",
    "TASKAPI_BODY_TIMEOUT_SECONDS": f"{READ_TIMEOUT:g}",
    "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": str(KEEP_ALIVE),
    "TASKAPI_MAX_CONNECTIONS": str(CAP),
    "TASKAPI_RATE_LIMITING": "false",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("stock"), database_url=databases.fresh(), env=STOCK) as running:
        yield running


@pytest.fixture(scope="module")
def token(server: LiveServer) -> str:
    return sign_in(server.base_url, *random_credentials())


def exchange(server: LiveServer, raw: bytes) -> Answer:
    with Wire(server.base_url) as wire:
        wire.send(raw)
        return wire.answer()


def problem(answer: Answer, status: int) -> dict[str, object]:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/problem+json", answer
    document: dict[str, object] = answer.json()
    assert document["status"] == status
    return document


def errors(answer: Answer) -> list[tuple[str, str, str]]:
    """(location, pointer or parameter, detail) of each entry of a 422's `errors`."""
    document = problem(answer, 422)
    items = document["errors"]
    assert isinstance(items, list)
    return [(e["location"], e.get("pointer", e.get("parameter", "")), e["detail"]) for e in items]


def test_the_size_limits_are_the_apps_problems(server: LiveServer) -> None:
    too_long = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)}
    problem(exchange(server, request("GET", "/healthz", {"X-Big": "b" * MAX_HEADER})), 431)
    problem(exchange(server, request("GET", "/tasks?cursor=" + "1" * MAX_URL)), 414)
    problem(exchange(server, request("POST", "/users", too_long)), 413)
    body = chunked(b"{" * 2 * MAX_BODY)
    problem(exchange(server, request("POST", "/users", {"Transfer-Encoding": "chunked"}, body, length=False)), 413)


def test_values_given_twice_are_422(server: LiveServer, token: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    assert errors(exchange(server, request("GET", "/tasks?limit=1&limit=2", bearer))) == [
        ("query", "limit", "Appears more than once")
    ]
    member = b'{"title": "t", "priority": 1, "priority": 2}'
    answer = exchange(server, request("POST", "/tasks", {**bearer, "Content-Type": "application/json"}, member))
    assert errors(answer) == [("body", "/priority", "Appears more than once")]
    form = b"grant_type=password&username=a&password=b&username=c"
    answer = exchange(
        server, request("POST", "/auth/token", {"Content-Type": "application/x-www-form-urlencoded"}, form)
    )
    assert errors(answer) == [("body", "/username", "Appears more than once")]


@pytest.mark.parametrize("number", ["1e99999999999999999999", "9" * 5000])
def test_numbers_too_large_to_convert_are_422(server: LiveServer, token: str, number: str) -> None:
    bearer = {"Authorization": f"Bearer {token}"}
    body = b'{"title": "t", "priority": ' + number.encode() + b"}"
    answer = exchange(server, request("POST", "/tasks", {**bearer, "Content-Type": "application/json"}, body))
    assert [(where, pointer) for where, pointer, _ in errors(answer)] == [("body", "/priority")]
    answer = exchange(server, request("GET", f"/tasks?limit={number}", bearer))
    assert [(where, pointer) for where, pointer, _ in errors(answer)] == [("query", "limit")]


def test_a_malformed_request_is_uvicorns_text_400(server: LiveServer) -> None:
    answer = exchange(server, b"THIS IS NOT HTTP\r\n\r\n")
    assert answer.status == 400, answer
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert "x-request-id" not in answer.headers  # the app never saw it


@pytest.mark.serial
def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server: LiveServer) -> None:
    with Wire(server.base_url) as wire:
        wire.send(request("GET", "/healthz"))
        assert wire.answer().status == 200
        took = wire.time_until_closed(KEEP_ALIVE * 5)
    assert KEEP_ALIVE * 0.8 < took < KEEP_ALIVE * 2.5, took


@pytest.mark.serial
def test_there_is_no_header_timeout(server: LiveServer) -> None:
    with Wire(server.base_url) as silent, Wire(server.base_url) as trickling:
        trickling.send(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        # Three times the header timeout: the single-write protocol would have dropped both by now.
        assert not silent.ends(timeout=3 * READ_TIMEOUT)
        assert not trickling.ends(timeout=0.01)
        trickling.send(b"X-Late: yes\r\n\r\n")
        assert trickling.answer().status == 200
        silent.send(request("GET", "/healthz"))
        assert silent.answer().status == 200


@pytest.mark.serial
def test_there_is_no_body_timeout(server: LiveServer) -> None:
    body = json.dumps({"username": "", "password": "x"}).encode()
    head = request("POST", "/users", {"Content-Type": "application/json", "Content-Length": str(len(body))})
    with Wire(server.base_url) as wire:
        wire.send(head + body[:5])
        assert not wire.ends(timeout=3 * READ_TIMEOUT)  # the single-write protocol would have dropped it
        wire.send(body[5:])
        assert wire.answer().status == 422


def test_past_limit_concurrency_a_request_gets_uvicorns_text_503(server: LiveServer) -> None:
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(Wire(server.base_url)) for _ in range(CAP)]
        with Wire(server.base_url) as extra:
            extra.send(request("GET", "/healthz"))
            answer = extra.answer()
        assert answer.status == 503, answer
        assert answer.headers["content-type"] == "text/plain; charset=utf-8"
        assert "retry-after" not in answer.headers
        assert len(held) == CAP
    # Once they are gone, requests are served again (the server notices the closes soon after).
    deadline = time.monotonic() + 10
    while exchange(server, request("GET", "/healthz")).status != 200:
        assert time.monotonic() < deadline, "the closed connections still count against the cap"
        time.sleep(0.05)
