"""The server's limits that take time, over raw sockets against `taskapi serve`: slow and idle connections
dropped on time, too many connections, a flood of password checks, too few open files, and the worker's
memory while 100 MB bodies come in. Each measures the wall clock or the worker's peak memory against the
settings it gives the server: they run alone (serial)."""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import (
    LiveServer,
    ServerProcess,
    listening_socket,
    server_process,
    taskapi_environment,
)
from taskapi.testing.wire import MB, Sender, Wire, chunked, request
from tests.contract.limited import FAST, GENERATED_ID, MAX_BODY, MAX_HEADER, limited_server, problem

# Timeouts, a connection cap and a worker's peak memory: the machine to themselves.
pytestmark = [pytest.mark.contract, pytest.mark.serial]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    with limited_server(tmp_path_factory.mktemp("limits"), databases.migrated()) as running:
        yield running


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


@pytest.fixture
def fresh(tmp_path: Path, databases: Databases) -> Iterator[LiveServer]:
    """A server of its own, whose peak memory no other test has raised, warmed up by small requests of each
    kind the test sends big (a sign-up, a sign-in, a body refused 413)."""
    with limited_server(tmp_path / "fresh", databases.migrated()) as running:
        with httpx.Client(base_url=running.base_url, timeout=30) as http:
            credentials = {"username": "warm", "password": "a long enough password"}
            assert http.post("/users", json=credentials).status_code == 201
            assert http.post("/auth/token", data={"grant_type": "password", **credentials}).status_code == 200
            too_big = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)}
            with Wire(running.base_url) as wire:
                wire.send(request("POST", "/users", too_big) + b"{" * (MAX_BODY + 1))
                problem(wire.answer(), 413)
        yield running


def test_the_worker_stays_small_while_100_mb_bodies_come_in(fresh: LiveServer) -> None:
    """Three 100 MB bodies at a time, declared and chunked, as JSON and as a form: each is refused at
    64 KiB, and the worker's peak memory stays where serving small requests put it."""
    server = fresh
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
    env = {
        "TASKAPI_MAX_CONNECTIONS": "4",
        "TASKAPI_HEADER_TIMEOUT_SECONDS": "30",
        "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": "30",
    }
    with limited_server(tmp_path / "capped", databases.migrated(), env) as running:
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
    assert served_again(capped.base_url), "the closed connections still count against the cap"


def served_again(base_url: str, within: float = 5) -> bool:
    """Whether a new connection's `GET /healthz` is answered 200 within `within` seconds (tried every 50 ms)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with Wire(base_url) as http:
            http.send(request("GET", "/healthz"))
            if http.answer().status == 200:
                return True
        time.sleep(0.05)
    return False


@pytest.fixture
def starved(tmp_path: Path, databases: Databases) -> Iterator[ServerProcess]:
    """`taskapi serve` in a process allowed 128 open files (prlimit), as in the report of the attack."""
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("needs prlimit (util-linux)")
    env = taskapi_environment(databases.migrated(), FAST)
    listening = listening_socket()
    serve = [sys.executable, "-m", "taskapi.cli", "serve", "--fd", str(listening.fileno())]
    command = [prlimit, "--nofile=128:128", *serve]
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
    assert served_again(starved.base_url), "no new connection served after the flood"
    log = "\n".join(starved.log_lines())
    assert "does not fit in 128 open files" in log
    assert "Traceback" not in log
    assert log.count("out of file descriptors") <= 3
