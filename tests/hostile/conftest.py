"""The hostile-input suite's servers: `taskapi serve` (one worker) on the run's backend, started once per
run, with short read timeouts so that slow clients are quick to test, the spec's size limits, and rate
limits on but raised beyond the suite's traffic; the floods get a server of their own with the spec's
rate limits as they ship. After every test, each server must still be running, must have logged no error
and no 5xx but 503 (the tests that cause one check it), and each worker's peak memory (VmHWM) must be
under 160 MB."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from taskapi.testing.contract import server_environment
from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import LiveServer, live_server
from tests.hostile.state import DatabaseState, status_kib, worker_pids

JWT_SECRET = "hostile-suite-" + "k" * 40
PASSWORD = "correct horse battery staple"
# The floods' worker peaks at 137-144 MB in a run of this suite alone (two Argon2 hashes of 19 MiB at a
# time, hundreds of connections, coverage's tracer), and reached 150.5 MB once in a whole `make test`.
MEMORY_LIMIT_KIB = 160 * 1024
# Header and body read timeouts, and the keep-alive timeout, of the suite's servers (seconds).
TIMEOUT = 2.0
# The password checks a worker lets wait behind the two it runs (TASKAPI_PASSWORD_QUEUE_LIMIT).
PASSWORD_QUEUE_LIMIT = 8
# Connections one worker holds (TASKAPI_MAX_CONNECTIONS): fewer than the default 1000, for a quicker test.
MAX_CONNECTIONS = 600
_QUICK = {
    "TASKAPI_JWT_SECRET": JWT_SECRET,
    "TASKAPI_LOG_LEVEL": "info",  # the access log, and the lines that say why a connection was dropped
    "TASKAPI_HEADER_TIMEOUT_SECONDS": f"{TIMEOUT:g}",
    "TASKAPI_BODY_TIMEOUT_SECONDS": f"{TIMEOUT:g}",
    "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": f"{TIMEOUT:g}",
    "TASKAPI_PASSWORD_QUEUE_LIMIT": str(PASSWORD_QUEUE_LIMIT),
    "TASKAPI_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
}
# Every request of the suite comes from 127.0.0.1: with the spec's limits, the first tests would spend
# the address's sign-up and sign-in quotas and every later one would get 429 for it. So they are raised
# here (and stay on); the floods test the spec's own limits on a server of their own.
SERVER_ENV = {**server_environment(), **_QUICK}
# The floods' server trusts X-Forwarded-For from 127.0.0.1, as it would a reverse proxy: each test client
# then has an address of its own, and the `login-client` policy counts each one apart, as in production.
FLOODS_ENV = dict(_QUICK)
FLOODS_ARGS = ("--forwarded-allow-ips", "127.0.0.1")


@dataclass
class _Watched:
    server: LiveServer
    log_read: int = 0
    peak_kib: int = 0


_WATCHED: dict[str, _Watched] = {}
_MARKERS = itertools.count()


@dataclass(frozen=True)
class User:
    """A signed-up user of the server, with a token and some tasks."""

    id: int
    username: str
    token: str
    tasks: list[int] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def sign_up(server: LiveServer, username: str, *, tasks: int = 0, token: bool = True) -> User:
    """Sign `username` up with PASSWORD; unless `token` is false, sign in (which counts against the sign-in
    limits) and create `tasks` tasks."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        created = http.post("/users", json={"username": username, "password": PASSWORD})
        assert created.status_code == 201, created.text
        user = User(created.json()["id"], username, "")
        if not token:
            return user
        form = {"grant_type": "password", "username": username, "password": PASSWORD}
        user = User(user.id, username, http.post("/auth/token", data=form).json()["access_token"])
        for n in range(tasks):
            task = http.post("/tasks", json={"title": f"{username}'s task {n}"}, headers=user.auth)
            user.tasks.append(task.json()["id"])
    return user


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("hostile"), database_url=databases.fresh(), env=SERVER_ENV) as running:
        _WATCHED["server"] = _Watched(running)
        yield running


@pytest.fixture(scope="session")
def floods_server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp("floods")
    with live_server(directory, database_url=databases.fresh(), env=FLOODS_ENV, args=FLOODS_ARGS) as running:
        _WATCHED["floods_server"] = _Watched(running)
        yield running


@pytest.fixture(scope="session")
def db(server: LiveServer) -> Iterator[DatabaseState]:
    """The main server's database, read directly."""
    state = DatabaseState(server.database_url)
    yield state
    state.close()


@pytest.fixture(scope="session")
def floods_db(floods_server: LiveServer) -> Iterator[DatabaseState]:
    """The floods' server's database, read directly."""
    state = DatabaseState(floods_server.database_url)
    yield state
    state.close()


@pytest.fixture(scope="session")
def alice(server: LiveServer) -> User:
    return sign_up(server, "alice", tasks=3)


@pytest.fixture(scope="session")
def bob(server: LiveServer) -> User:
    return sign_up(server, "bob", tasks=1)


@pytest.fixture(autouse=True)
def server_survives_unharmed(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test: every server the run started is still up, has logged no error and no 5xx but a
    503 (its tests check those) while the test ran, and no worker's peak memory has reached
    MEMORY_LIMIT_KIB. The lines a test made are those before a marker request sent at its end (each server
    has one worker, whose lines reach its log in the order it made them): none is left for the next."""
    yield
    marker = f"watchdog-{next(_MARKERS)}"
    for name, watched in _WATCHED.items():
        process = watched.server.process
        assert process.poll() is None, f"{name} exited with {process.returncode}"
        watched.server.send_log_marker(marker)
    for name, watched in _WATCHED.items():
        new, watched.log_read = watched.server.log_lines_until(marker, start=watched.log_read)
        failures = [line for line in new if _is_failure(line)]
        assert not failures, f"{name} logged failures during {request.node.nodeid}:\n" + "\n".join(failures[:20])
        for pid in worker_pids(watched.server.process.pid):
            peak = status_kib(pid, "VmHWM")
            watched.peak_kib = max(watched.peak_kib, peak)
            assert peak < MEMORY_LIMIT_KIB, f"{name}: worker {pid} peaked at {peak / 1024:.1f} MB (VmHWM)"


def _is_failure(line: str) -> bool:
    if line.startswith("{"):
        return '"level": "error"' in line or '"level": "critical"' in line or _server_error(line)
    return line.startswith(("ERROR", "CRITICAL")) or "Traceback" in line


def _server_error(line: str) -> bool:
    marker = '"status": '
    at = line.find(marker)
    if at < 0 or '"logger": "taskapi.access"' not in line:
        return False
    status = int(line[at + len(marker) : at + len(marker) + 3])
    return status >= 500 and status != 503


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for name, watched in _WATCHED.items():
        terminalreporter.write_line(
            f"hostile suite: {name} worker peak RSS (VmHWM) {watched.peak_kib / 1024:.1f} MB "
            f"(limit {MEMORY_LIMIT_KIB / 1024:.0f} MB)"
        )
