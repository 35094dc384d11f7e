"""The server's limits as a hostile client meets them, over raw sockets against `taskapi serve`: oversized
heads and bodies, malformed bytes, pipelining, and the same refusals under stock uvicorn. What takes time
(timeouts, a connection cap, a flood of password checks, the worker's memory) is in test_limits_timed.py."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import (
    LiveServer,
)
from taskapi.testing.wire import MB, Sender, Wire, chunked, request
from tests.contract.limited import MAX_BODY, MAX_HEADER, MAX_URL, limited_server, problem

pytestmark = [pytest.mark.contract, pytest.mark.xdist_group("limits")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    with limited_server(tmp_path_factory.mktemp("limits"), databases.migrated()) as running:
        yield running


def test_header_fields_over_the_limit_together_are_431_and_up_to_it_are_served(server: LiveServer) -> None:
    fields = {f"X-Field-{n:03d}": "v" * 100 for n in range(170)}  # 170 × 111 bytes: 18,870
    with Wire(server.base_url) as http:
        http.send(request("GET", "/healthz", fields))
        problem(http.answer(), 431)
    with Wire(server.base_url) as http:
        http.send(request("GET", "/healthz", {"X-Pad": "p" * (MAX_HEADER - 100)}))
        assert http.answer().status == 200


def test_a_url_over_the_limit_is_414(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        http.send(request("GET", "/tasks?cursor=" + "1" * MAX_URL))
        answer = http.answer()
        assert problem(answer, 414)["detail"] == f"The request target is longer than {MAX_URL} bytes."
        assert "instance" not in json.loads(answer.body)  # the target is what was refused: not echoed
        assert http.ends()
    with Wire(server.base_url) as http:
        http.send(request("GET", "/healthz?pad=" + "p" * (MAX_URL - 100)))
        assert http.answer().status == 200


def test_a_declared_body_over_the_limit_is_413_at_once_and_the_connection_closed(server: LiveServer) -> None:
    head = request("POST", "/users", {"Content-Type": "application/json", "Content-Length": str(100 * MB)})
    with Wire(server.base_url) as http:
        http.send(head + b"x" * MAX_BODY)  # 64 KiB of the 100 MB, then wait for the answer
        answer = http.answer()
        assert problem(answer, 413)["detail"] == f"The body is longer than {MAX_BODY} bytes."
        assert answer.headers["connection"] == "close"
        assert http.ends()


def test_a_client_still_sending_after_its_413_reads_the_answer(server: LiveServer) -> None:
    """Closing a socket with unread input makes the kernel send a reset, which can destroy the answer
    before the client reads it; the server shuts its side and discards input for a while instead."""
    head = request("POST", "/tasks", {"Content-Type": "application/json", "Content-Length": str(100 * MB)})
    for _ in range(5):
        with Wire(server.base_url) as http:
            sending = Sender(http, head, 100 * MB)
            problem(http.answer(), 413)
            assert http.ends(timeout=5)
            sending.join()


def test_a_chunked_body_past_the_limit_is_413(server: LiveServer) -> None:
    head = request("POST", "/users", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with Wire(server.base_url) as http:
        http.send(head + chunked(b"{" * 4 * MAX_BODY)[: 2 * MAX_BODY])  # no end: the server must not wait for it
        problem(http.answer(), 413)
        assert http.ends()


def test_a_malformed_request_is_a_problem_with_a_request_id(server: LiveServer) -> None:
    for garbage in (b"NOT HTTP AT ALL\r\n\r\n", b"GET / HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n"):
        with Wire(server.base_url) as http:
            http.send(garbage)
            answer = http.answer()
            assert problem(answer, 400)["detail"].startswith("The request is not well-formed HTTP/1.1: ")
            assert http.ends()


def test_requests_pipelined_before_a_refused_one_are_answered_first(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        http.send(request("GET", "/healthz") * 20 + request("GET", "/tasks?" + "q" * MAX_URL))
        assert [http.answer().status for _ in range(21)] == [200] * 20 + [414]
        assert http.ends()


def test_a_chunked_body_with_broken_framing_is_400(server: LiveServer) -> None:
    head = request("POST", "/users", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with Wire(server.base_url) as http:
        http.send(head + b"5\r\n{}{}{\r\nnot a chunk size\r\n")
        problem(http.answer(), 400)
        assert http.ends()
