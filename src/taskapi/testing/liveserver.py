"""The real server for tests and the benchmark, each on a 127.0.0.1 socket bound before the server starts,
so that no other process can take its port and whatever answers on it is the server that was started:

- `live_server()`: `taskapi serve` in a subprocess (`--fd`: the socket is handed over), on a migrated
  database. For what the process does: workers, signals, its log, its memory.
- `in_process_server()`: the same app on uvicorn with the same HTTP protocol, in a thread of the calling
  process. For what HTTP does when the process does not matter: nothing to start but the app, and
  coverage measured in place.
- `server_process()`: any command that serves HTTP (the benchmark's peers; another build of taskapi).

Each stops what it started, by PID: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from taskapi.logs import LOOK_EVERY_SECONDS

STOP_TIMEOUT_SECONDS = 20
START_TIMEOUT_SECONDS = 30
# A test's server holds more than a worker's default queue of new connections (the hostile suite opens
# hundreds at once): uvicorn's own default backlog.
BACKLOG = 2048
# Where `make test` asks the servers of the run to record what they answer (the contract coverage report):
# the harness passes it to each server as TASKAPI_CONTRACT_RECORD_DIR.
RECORD_DIR_VARIABLE = "TASKAPI_TEST_CONTRACT_RECORD_DIR"


def listening_socket() -> socket.socket:
    """A TCP socket listening on 127.0.0.1, on a port the kernel chose: the port stays taken for as long as
    the socket (or a process it was handed to) holds it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


@contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections for as long as the block runs: bound by this process and not
    listening, so no other process can take it meanwhile (an unreachable Redis, say)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def free_port() -> int:
    """A port nothing listens on right now, for a server that cannot be handed a socket (another build of
    taskapi, which may lack `--fd`). Another process may take it before the server binds it: prefer
    `listening_socket()`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


@dataclass
class ServerProcess:
    """A running server: its URL, its process and the file its output goes to."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path

    def __str__(self) -> str:
        return self.base_url

    def log_lines(self) -> list[str]:
        """What the server has written so far (stdout and stderr), line by line."""
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def log_records(self) -> list[dict[str, Any]]:
        """The JSON lines of the log (taskapi's own and its access log), parsed."""
        return [json.loads(line) for line in self.log_lines() if line.startswith("{")]

    def settled_log_lines(self) -> list[str]:
        """`log_lines()` once the lines already made have had time to arrive: the server's log writer looks at
        its queue every `LOOK_EVERY_SECONDS` (`taskapi.logs`). For a test that counts lines that should not
        be there, or counts before it acts; one that waits for a line uses `wait_for_log`, and one whose
        server logs its requests uses `log_lines_until()`, which waits only as long as it must."""
        time.sleep(LOOK_EVERY_SECONDS * 4)
        return self.log_lines()

    def send_log_marker(self, marker: str) -> None:
        """`GET /healthz` with the request id `marker`, whose access-log line `log_lines_until` looks for."""
        answer = httpx.get(f"{self.base_url}/healthz", headers={"X-Request-ID": marker}, timeout=10)
        if answer.headers.get("x-request-id") != marker:
            raise ValueError(f"{marker!r} is not a request id the server takes as it is")

    def log_lines_until(self, marker: str, start: int = 0, timeout: float = 10) -> tuple[list[str], int]:
        """The lines the server wrote, from byte `start` of its log, before it served the request
        `send_log_marker(marker)` sent, and the byte offset after the marker's line. A one-worker server at
        TASKAPI_LOG_LEVEL=info or debug, its standard output and error going to the log (one queue for both:
        `taskapi.logs`), writes its lines in the order it made them: nothing made before the marker request
        is missing, and nothing made after it is there."""
        needle = f'"request_id": "{marker}"'.encode()
        deadline = time.monotonic() + timeout
        with self.log.open("rb") as log:
            log.seek(start)
            data = b""
            while True:
                data += log.read()
                at = data.find(needle)
                if at >= 0 and (end := data.find(b"\n", at)) >= 0:
                    before = data[: data.rfind(b"\n", 0, at) + 1]
                    return before.decode("utf-8", "replace").splitlines(), start + end + 1
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the marker {marker} did not reach the log within {timeout:g} s")
                time.sleep(0.005)

    def wait_for_log(
        self, condition: Callable[[list[dict[str, Any]]], bool], timeout: float = 10
    ) -> list[dict[str, Any]]:
        """The JSON records of the log once `condition` holds of them; TimeoutError after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.log_records()
            if condition(records):
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"the log did not get there within {timeout:g} s: {records[-5:]}")
            time.sleep(0.02)


@dataclass
class LiveServer(ServerProcess):
    """A running `taskapi serve` and the database it serves."""

    database_url: str


@contextmanager
def server_process(
    command: Sequence[str],
    *,
    log: Path,
    listening: socket.socket | None = None,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/healthz",
    ready_status: int | None = 200,
    pin_to_core: int | None = None,
    cwd: Path | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> Iterator[ServerProcess]:
    """Run `command`, which serves on the socket `listening` (handed to it: the command names its
    descriptor, `listening.fileno()`; this process closes its own copy once the command has it) or on
    `port` (which it binds itself); wait until `ready_path` answers `ready_status` (None: any status), yield;
    stop it on exit. `pin_to_core` runs it on one CPU core (`taskset`), for the benchmark. Its output goes
    to `log`, or to the file descriptor `stdout` (a pipe's, say) and `stderr` (default: where stdout goes)."""
    if (listening is None) == (port is None):
        raise ValueError("a server process needs a listening socket or a port, not both")
    argv = list(command)
    if pin_to_core is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(pin_to_core), *argv]
    base_url = _base_url(listening) if listening is not None else f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        try:
            process = subprocess.Popen(
                argv,
                env=dict(env or os.environ),
                stdout=out if stdout is None else stdout,
                stderr=subprocess.STDOUT if stderr is None else stderr,
                cwd=cwd,
                pass_fds=() if listening is None else (listening.fileno(),),
            )
        finally:
            if listening is not None:
                # Only the server holds the port now: once it exits, connections are refused, not queued.
                listening.close()
        try:
            _wait_until_up(f"{base_url}{ready_path}", ready_status, process, log)
            yield ServerProcess(base_url=base_url, process=process, log=log)
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> int:
    """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT_SECONDS; its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def recording_settings() -> dict[str, str]:
    """TASKAPI_CONTRACT_RECORD_DIR for a test's server, when the run asks its servers to record what they
    answer (`RECORD_DIR_VARIABLE`, set by `make test`)."""
    directory = os.environ.get(RECORD_DIR_VARIABLE)
    return {"TASKAPI_CONTRACT_RECORD_DIR": directory} if directory else {}


def taskapi_environment(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: this one without TASKAPI_* settings, production mode with a
    random key, the access log off, recording when the run records (`extra` overrides any of it)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKAPI_")}
    env.update(
        {
            "TASKAPI_DATABASE_URL": database_url,
            "TASKAPI_LOG_LEVEL": "warning",
            "TASKAPI_ENV": "production",
            "TASKAPI_JWT_SECRET": secrets.token_urlsafe(48),
            **recording_settings(),
        }
    )
    env.update(extra or {})
    return env


@contextmanager
def live_server(
    workdir: Path,
    *,
    database_url: str | None = None,
    workers: int = 1,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    pin_to_core: int | None = None,
    checkout: Path | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
    measured: bool = True,
) -> Iterator[LiveServer]:
    """Bring a database (default: a new SQLite file in `workdir`) to the newest migration, serve it with
    `taskapi serve` (`args` added to its command line), yield the server; stop it on exit. `checkout` serves
    another build of taskapi instead of this one: a checkout with its own `.venv`, migrated and served by
    its own code (the benchmark's baseline). `stdout` and `stderr` are as `server_process()` takes them.
    `measured=False`: a server under load, whose paths other tests measure, runs without the coverage
    tracer a test run passes down to its subprocesses (it would run at half speed)."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'taskapi.db'}"
    environment = taskapi_environment(url, env)
    if not measured:
        environment = {name: value for name, value in environment.items() if not name.startswith("COVERAGE_PROCESS_")}
    python = str(checkout / ".venv" / "bin" / "python") if checkout else sys.executable
    cli = [python, "-m", "taskapi.cli"]
    common: dict[str, Any] = {
        "log": workdir / "server.log",
        "env": environment,
        "pin_to_core": pin_to_core,
        "cwd": checkout,
        "stdout": stdout,
        "stderr": stderr,
    }
    serve = [*cli, "serve", "--host", "127.0.0.1", "--workers", str(workers), *args]
    if checkout is not None:
        # Another build: its own migrations, and a command line that may predate --fd.
        subprocess.run([*cli, "migrate"], env=environment, check=True, capture_output=True, cwd=checkout)
        port = free_port()
        with server_process([*serve, "--port", str(port)], port=port, **common) as running:
            yield LiveServer(running.base_url, running.process, running.log, database_url=url)
        return
    from taskapi.storage.migrate import upgrade

    upgrade(url)  # in this process: a no-op on a database already at the newest migration
    listening = listening_socket()
    with server_process([*serve, "--fd", str(listening.fileno())], listening=listening, **common) as running:
        yield LiveServer(running.base_url, running.process, running.log, database_url=url)


@dataclass
class InProcessServer:
    """`in_process_server()`'s server: its URL and the database it serves."""

    base_url: str
    database_url: str

    def __str__(self) -> str:
        return self.base_url


@contextmanager
def in_process_server(settings: Any, *, clock: Any = None) -> Iterator[InProcessServer]:
    """`create_app(settings, clock=clock)` served by uvicorn with `taskapi serve`'s HTTP protocol and limits,
    on a listening socket of its own, in a thread of this process; stopped (gracefully) on exit. The
    database must be at the newest migration. No access log, whatever the settings say (this process's
    standard output is the test run's)."""
    import uvicorn

    from taskapi.app import create_app
    from taskapi.logs import AccessLog
    from taskapi.serving import ConnectionLimits, http_protocol

    listening = listening_socket()
    quiet = settings.model_copy(update={"log_level": "warning"})
    config = uvicorn.Config(
        create_app(quiet, clock=clock),
        http=http_protocol(quiet.http_protocol, ConnectionLimits.from_settings(quiet), AccessLog(enabled=False)),
        loop="taskapi.serving:EventLoop" if quiet.event_loop == "asyncio" else quiet.event_loop,
        lifespan="on",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_keep_alive=quiet.keep_alive_timeout_seconds,
        timeout_graceful_shutdown=quiet.shutdown_timeout_seconds,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[listening])
        except BaseException as exc:  # reported to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="taskapi-in-process-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if failure or not thread.is_alive():
                raise RuntimeError(f"the in-process server did not start: {failure[:1]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the in-process server did not start within {START_TIMEOUT_SECONDS} s")
            time.sleep(0.01)
        yield InProcessServer(base_url=_base_url(listening), database_url=settings.database_url)
    finally:
        server.should_exit = True
        thread.join(STOP_TIMEOUT_SECONDS)
        listening.close()
    if failure:
        raise RuntimeError("the in-process server failed") from failure[0]


def _wait_until_up(url: str, status: int | None, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{_text(log)}")
        try:
            answer = httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.05)
            continue
        if status is None or answer.status_code == status:
            return
        raise RuntimeError(f"the server answered {url} with {answer.status_code}:\n{_text(log)}")
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_SECONDS} s:\n{_text(log)}")


def _text(log: Path) -> str:
    return log.read_text(errors="replace")
