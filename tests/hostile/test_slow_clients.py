"""Slow clients: a connection that sends nothing, one that trickles its headers, one that trickles its
body, an idle keep-alive connection, and hundreds of such connections at once while a normal client must
still be served. The answer to each slow one is a dropped connection, on time."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import Wire, exchange, request
from tests.hostile.conftest import MAX_CONNECTIONS, TIMEOUT, User
from tests.hostile.documented import assert_documented
from tests.hostile.state import DatabaseState

# Timeouts and hundreds of connections, timed: the machine to themselves.
pytestmark = [pytest.mark.hostile, pytest.mark.serial]
# A dropped connection comes after the timeout and within this much more (the server's timer, this
# client's polling, a loaded machine).
SLACK = 1.5
HEADERS_LATE = "its request headers did not arrive in time"
BODY_LATE = "its body did not arrive in time"


def drops_logged(server: LiveServer, message: str) -> int:
    records = [json.loads(line) for line in server.settled_log_lines() if line.startswith("{")]
    return sum(message in str(record.get("message", "")) for record in records)


def wait_for_drops(server: LiveServer, message: str, count: int) -> None:
    server.wait_for_log(lambda records: sum(message in str(r.get("message", "")) for r in records) >= count)


def trickle_until_dropped(wire: Wire, data: bytes, interval: float = 0.1) -> None:
    """Send `data` a byte at a time, `interval` apart, until the server drops the connection."""
    for byte in data:
        if not wire.send_quietly(bytes([byte])) or wire.ends(timeout=interval):
            return
    pytest.fail(f"all {len(data)} bytes were taken over {len(data) * interval:.0f} s without a drop")


def test_a_connection_that_sends_nothing_is_dropped(server: LiveServer) -> None:
    with Wire(server.base_url) as wire:
        waited = wire.time_until_closed(TIMEOUT + SLACK)
    assert waited > TIMEOUT - 0.5


def test_a_client_that_trickles_its_headers_is_dropped(server: LiveServer, alice: User) -> None:
    logged = drops_logged(server, HEADERS_LATE)
    with Wire(server.base_url) as wire:
        started = time.monotonic()
        trickle_until_dropped(wire, request("GET", "/tasks", {**alice.auth, "X-Slow": "s" * 100}))
        elapsed = time.monotonic() - started
    assert TIMEOUT - 0.5 < elapsed < TIMEOUT + SLACK
    wait_for_drops(server, HEADERS_LATE, logged + 1)


def test_a_client_that_trickles_its_body_is_dropped(server: LiveServer, db: DatabaseState, alice: User) -> None:
    body = b'{"title": "' + b"t" * 150 + b'"}'
    logged = drops_logged(server, BODY_LATE)
    with db.unchanged(), Wire(server.base_url) as wire:
        wire.send(request("POST", "/tasks", {**alice.auth, "Content-Type": "application/json"}, body)[: -len(body)])
        started = time.monotonic()
        trickle_until_dropped(wire, body)
        elapsed = time.monotonic() - started
    assert TIMEOUT - 0.5 < elapsed < TIMEOUT + SLACK
    wait_for_drops(server, BODY_LATE, logged + 1)


def test_an_idle_keep_alive_connection_is_closed(server: LiveServer) -> None:
    with Wire(server.base_url) as wire:
        wire.send(request("GET", "/healthz"))
        assert wire.answer().status == 200
        waited = wire.time_until_closed(TIMEOUT + SLACK)
    assert waited > TIMEOUT - 0.5


@contextmanager
def trickling(wires: list[Wire], interval: float = 0.25) -> Iterator[None]:
    """While the block runs, send each connection one more byte of a header field every `interval`."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(interval):
            for wire in wires:
                wire.send_quietly(b"x")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def assert_all_dropped(wires: list[Wire], opened: float) -> None:
    """Every connection, opened at `opened` (monotonic), is dropped by the timeout (and SLACK)."""
    deadline = opened + TIMEOUT + SLACK
    still_open = [wire for wire in wires if not wire.ends(max(deadline - time.monotonic(), 0))]
    assert not still_open, f"{len(still_open)} of {len(wires)} connections still open after {TIMEOUT + SLACK:g} s"


IDLE, TRICKLING, HALF_BODIES = 150, 150, 100
NORMAL_REQUESTS = 30
NORMAL_LATENCY = 1.0  # seconds: far above a request's few milliseconds, far below the timeout


def test_hundreds_of_slow_connections_leave_normal_clients_served(
    server: LiveServer, db: DatabaseState, alice: User
) -> None:
    """400 slow connections at once (idle, trickling headers, half a body of a new task each) hold the
    worker's connections while a normal client makes requests on connections of its own: each answered
    at once. Then every slow connection is dropped on time, and none of the half bodies became a task."""
    body = b'{"title": "a slowloris task"}'
    half_body = request("POST", "/tasks", {**alice.auth, "Content-Type": "application/json"}, body)[:-10]
    wires: list[Wire] = []
    try:
        with db.unchanged():
            opened = time.monotonic()
            wires = [Wire(server.base_url) for _ in range(IDLE + TRICKLING + HALF_BODIES)]
            trickle = wires[IDLE : IDLE + TRICKLING]
            for wire in trickle:
                wire.send(b"GET /tasks HTTP/1.1\r\nHost: hostile.test\r\nX-Slow: ")
            for wire in wires[IDLE + TRICKLING :]:
                wire.send(half_body)
            with trickling(trickle), httpx.Client(base_url=server.base_url, headers=alice.auth) as normal:
                latencies = []
                for n in range(NORMAL_REQUESTS):
                    started = time.monotonic()
                    answer = normal.get("/tasks" if n % 2 else "/users/me", headers={"Connection": "close"})
                    latencies.append(time.monotonic() - started)
                    assert answer.status_code == 200, answer.text
                assert time.monotonic() - opened < TIMEOUT, "too slow to test while the slow connections are held"
                assert max(latencies) < NORMAL_LATENCY, f"slowest normal request: {max(latencies):.3f} s"
                assert_all_dropped(wires, opened)
    finally:
        for wire in wires:
            wire.close()


@pytest.mark.parametrize(("path", "operation"), [("/tasks", "listTasks"), ("/healthz", "getHealth")])
def test_past_the_connection_cap_new_connections_get_503_and_service_comes_back(
    server: LiveServer, alice: User, path: str, operation: str
) -> None:
    """A worker's worth of idle connections (and a few more): a new connection's request is refused at
    once with 503 and Retry-After, not queued; once the idle ones are dropped, requests are served again."""
    wires: list[Wire] = []
    try:
        opened = time.monotonic()
        wires = [Wire(server.base_url) for _ in range(MAX_CONNECTIONS + 20)]
        for _ in range(3):
            answer = exchange(server.base_url, request("GET", path, alice.auth), timeout=TIMEOUT)
            assert_documented(answer, operation, 503)
            assert answer.headers["retry-after"] == "1"
        assert time.monotonic() - opened < TIMEOUT, "too slow to test while the idle connections are held"
        assert_all_dropped(wires, opened)
    finally:
        for wire in wires:
            wire.close()
    assert exchange(server.base_url, request("GET", path, alice.auth)).status == 200
