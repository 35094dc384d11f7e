"""The server's limits as a hostile client meets them, over raw sockets against `taskapi serve` on the run's
backend: oversized heads and bodies, slow and idle connections, too many connections, malformed bytes,
a flood of password checks, and the worker's memory while 100 MB bodies come in."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.generated.server import LIMITS
from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import (
    LiveServer,
    ServerProcess,
    listening_socket,
    live_server,
    server_process,
    taskapi_environment,
)
from taskapi.testing.wire import MB, Answer, Sender, Wire, chunked, request

# Timeouts, a connection cap and a worker's peak memory: the machine to themselves.
pytestmark = [pytest.mark.contract, pytest.mark.serial]
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
MAX_HEADER, MAX_URL, MAX_BODY = LIMITS.max_header_bytes, LIMITS.max_url_bytes, LIMITS.max_body_bytes
# Short timeouts, so that their tests are quick; rate limits off, so that they do not get in the way.
FAST = {
    "TASKAPI_HEADER_TIMEOUT_SECONDS": "1",
    "TASKAPI_BODY_TIMEOUT_SECONDS": "1",
    "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": "1",
    "TASKAPI_PASSWORD_QUEUE_LIMIT": "1",
    "TASKAPI_RATE_LIMITING": "false",
    "TASKAPI_LOG_LEVEL": "info",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("limits"), database_url=databases.fresh(), env=FAST) as running:
        yield running


def problem(answer: Answer, status: int) -> dict[str, Any]:
    """The answer is a problem+json document of `status` with a request id made by the server."""
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/problem+json"
    assert GENERATED_ID.fullmatch(answer.headers["x-request-id"]), answer.headers
    document: dict[str, Any] = answer.json()
    assert (document["status"], document["type"]) == (status, "about:blank")
    return document


def test_a_header_over_the_limit_is_431_before_it_is_all_sent(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        # A 50 MB header would follow; the server answers once it has seen 16 KiB (and a slice) of it.
        http.send(b"GET /tasks HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer " + b"a" * (4 * MAX_HEADER))
        started = time.monotonic()
        answer = http.answer()
        assert time.monotonic() - started < 0.9  # not the header timeout (1 s), which would answer nothing
        assert problem(answer, 431)["detail"] == f"The request's header fields are larger than {MAX_HEADER} bytes."
        assert answer.headers["connection"] == "close"
        assert http.ends()
    records = server.wait_for_log(lambda records: any(r.get("status") == 431 for r in records))
    [line] = [r for r in records if r.get("status") == 431]
    assert (line["request_id"], line["method"], line["path"]) == (answer.headers["x-request-id"], "GET", "/tasks")


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


def test_a_client_that_trickles_its_headers_is_dropped_after_the_header_timeout(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        http.send(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        started = time.monotonic()
        for n in range(30):  # a header field every 0.1 s, for up to 3 s
            try:
                http.send(b"X-Slow-%d: yes\r\n" % n)
            except OSError:
                break
            if http.ends(timeout=0.1):
                break
        else:
            pytest.fail("still connected after 3 s")
    assert 0.9 < time.monotonic() - started < 2
    server.wait_for_log(lambda records: any("headers did not arrive" in r.get("message", "") for r in records))


def test_a_connection_that_sends_nothing_is_dropped_after_the_header_timeout(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        started = time.monotonic()
        assert http.ends(timeout=3)
    assert 0.9 < time.monotonic() - started < 2


def test_a_body_that_does_not_arrive_in_time_is_dropped(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        http.send(request("POST", "/users", {"Content-Type": "application/json", "Content-Length": "100"}))
        http.send(b'{"username": ')
        started = time.monotonic()
        assert http.ends(timeout=3)
    assert 0.9 < time.monotonic() - started < 2


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(server: LiveServer) -> None:
    with Wire(server.base_url) as http:
        for _ in range(3):  # kept alive while requests come in time
            http.send(request("GET", "/healthz"))
            assert http.answer().status == 200
            assert not http.ends(timeout=0.5)
        started = time.monotonic()
        assert http.ends(timeout=3)
    assert time.monotonic() - started < 1.5


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


def test_a_full_password_queue_is_503_with_retry_after(server: LiveServer) -> None:
    """Two Argon2 checks run at once and one waits (TASKAPI_PASSWORD_QUEUE_LIMIT=1): the rest of a burst
    of logins is refused at once, and a login after the burst is served."""
    form = {"grant_type": "password", "username": "nobody", "password": "wrong password"}

    def login(_: int) -> httpx.Response:
        return httpx.post(f"{server.base_url}/auth/token", data=form, timeout=30)

    with ThreadPoolExecutor(12) as pool:
        burst = list(pool.map(login, range(12)))
    statuses = sorted(response.status_code for response in burst)
    assert set(statuses) == {401, 503} and statuses.count(401) >= 3, statuses
    for response in burst:
        if response.status_code == 503:
            assert response.headers["retry-after"] == "1"
            assert response.headers["content-type"] == "application/problem+json"
            assert GENERATED_ID.fullmatch(response.headers["x-request-id"])
    assert login(0).status_code == 401


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(field)


def test_the_worker_stays_small_while_100_mb_bodies_come_in(server: LiveServer) -> None:
    """Three 100 MB bodies at a time, declared and chunked, as JSON and as a form: each is refused at
    64 KiB, and the worker's peak memory stays where serving small requests put it."""
    piece = b"x" * 65536
    targets = [
        ("/users", {"Content-Type": "application/json", "Content-Length": str(100 * MB)}, piece),
        ("/auth/token", {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(100 * MB)}, piece),
        (
            "/users",
            {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            chunked(b"{" * len(piece), last=False),
        ),
    ]
    pid = server.process.pid
    before = vm_kib(pid, "VmHWM")
    for _ in range(2):
        connections = [Wire(server.base_url) for _ in targets]
        try:
            sending = [
                Sender(http, request("POST", path, headers), 100 * MB, piece)
                for http, (path, headers, piece) in zip(connections, targets, strict=True)
            ]
            for http in connections:
                problem(http.answer(timeout=10), 413)
            for sender in sending:
                sender.join()
        finally:
            for http in connections:
                http.sock.close()
    peak = vm_kib(pid, "VmHWM")
    assert peak < 150 * 1024, f"peak RSS {peak} KiB (before: {before} KiB)"
    assert peak - before < 20 * 1024, f"peak RSS grew from {before} to {peak} KiB"


@pytest.fixture
def capped(tmp_path: Path, databases: Databases) -> Iterator[LiveServer]:
    env = {**FAST, "TASKAPI_MAX_CONNECTIONS": "4"}
    env.update({"TASKAPI_HEADER_TIMEOUT_SECONDS": "30", "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": "30"})
    with live_server(tmp_path / "capped", database_url=databases.fresh(), env=env) as running:
        yield running


def test_past_the_connection_cap_a_new_connection_gets_503_and_the_others_are_served(capped: LiveServer) -> None:
    held = [Wire(capped.base_url) for _ in range(4)]
    try:
        for http in held:  # four connections, each with a request served: the cap
            http.send(request("GET", "/healthz"))
            assert http.answer().status == 200
        with Wire(capped.base_url) as extra:
            extra.send(request("GET", "/healthz"))
            answer = extra.answer()
            problem(answer, 503)
            assert answer.headers["retry-after"] == "1"
            assert extra.ends()
        with Wire(capped.base_url) as silent:  # past the cap, a connection that sends nothing is closed soon
            started = time.monotonic()
            assert silent.ends(timeout=5)
            assert time.monotonic() - started < 2
        for http in held:  # the connections within the cap are served as before
            http.send(request("GET", "/healthz"))
            assert http.answer().status == 200
    finally:
        for http in held:
            http.sock.close()
    # Once they are gone, new connections are served again.
    for _ in range(100):
        with Wire(capped.base_url) as http:
            http.send(request("GET", "/healthz"))
            if http.answer().status == 200:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the closed connections still count against the cap")


def test_stock_uvicorn_refuses_the_same_requests_in_the_app(tmp_path: Path, databases: Databases) -> None:
    """TASKAPI_HTTP_PROTOCOL=uvicorn: the app's own check answers what the protocol would have."""
    env = {**FAST, "TASKAPI_HTTP_PROTOCOL": "uvicorn"}
    too_long = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)}
    cases = [
        (request("GET", "/tasks", {"X-Big": "b" * MAX_HEADER}), 431),
        (request("GET", "/tasks?cursor=" + "1" * MAX_URL), 414),
        (request("POST", "/users", too_long), 413),
        (request("POST", "/users", {"Transfer-Encoding": "chunked"}, chunked(b"{" * 2 * MAX_BODY), length=False), 413),
    ]
    with live_server(tmp_path / "stock", database_url=databases.fresh(), env=env) as stock:
        for raw, status in cases:
            with Wire(stock.base_url) as http:
                http.send(raw)
                problem(http.answer(), status)


def test_a_chunked_body_with_broken_framing_is_400(server: LiveServer) -> None:
    head = request("POST", "/users", {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    with Wire(server.base_url) as http:
        http.send(head + b"5\r\n{}{}{\r\nnot a chunk size\r\n")
        problem(http.answer(), 400)
        assert http.ends()


@pytest.fixture
def starved(tmp_path: Path, databases: Databases) -> Iterator[ServerProcess]:
    """`taskapi serve` in a process allowed 128 open files (prlimit), as in the report of the attack."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("needs prlimit (util-linux)")
    env = taskapi_environment(databases.migrated(), FAST)
    listening = listening_socket()
    command = [
        prlimit,
        "--nofile=128:128",
        sys.executable,
        "-m",
        "taskapi.cli",
        "serve",
        "--fd",
        str(listening.fileno()),
    ]
    with server_process(command, listening=listening, log=tmp_path / "server.log", env=env) as running:
        yield running


def test_more_connections_than_open_files_leave_the_worker_serving_and_its_log_quiet(starved: ServerProcess) -> None:
    """140 connections that send nothing, against 128 open files: the worker lowers its cap to fit (60),
    keeps serving the connection it had, answers or closes the others, writes a line about the lack of
    files now and then rather than a traceback per failed accept, and serves new connections once the
    flood is gone."""
    with Wire(starved.base_url) as kept:
        kept.send(request("GET", "/healthz"))
        assert kept.answer().status == 200
        flood = [Wire(starved.base_url) for _ in range(140)]
        try:
            for _ in range(3):
                time.sleep(0.5)
                kept.send(request("GET", "/healthz"))  # within the keep-alive timeout (1 s)
                assert kept.answer().status == 200
        finally:
            for http in flood:
                http.sock.close()
    for _ in range(50):
        with Wire(starved.base_url) as http:
            http.send(request("GET", "/healthz"))
            if http.answer().status == 200:
                break
        time.sleep(0.1)
    else:
        pytest.fail("no new connection served after the flood")
    log = "\n".join(starved.log_lines())
    assert "does not fit in 128 open files" in log
    assert "Traceback" not in log
    assert log.count("out of file descriptors") <= 3
