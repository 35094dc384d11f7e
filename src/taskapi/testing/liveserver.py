"""The real server in a subprocess on a free 127.0.0.1 port: `live_server()` migrates a database and
runs `taskapi serve` on it; `server_process()` runs any command that serves HTTP (the benchmark's
peers). Both stop what they started, by PID: SIGTERM, then SIGKILL."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from taskapi.logs import LOOK_EVERY_SECONDS

STOP_TIMEOUT_SECONDS = 20


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        be there, or counts before it acts; one that waits for a line uses `wait_for_log`."""
        time.sleep(LOOK_EVERY_SECONDS * 4)
        return self.log_lines()

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
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/healthz",
    pin_to_core: int | None = None,
    cwd: Path | None = None,
    stdout: int | None = None,
    stderr: int | None = None,
) -> Iterator[ServerProcess]:
    """Run `command` (serving on `port`), wait until `ready_path` answers at all, yield; stop it on exit.
    `pin_to_core` runs it on one CPU core (`taskset`), for the benchmark. Its output goes to `log`, or to
    the file descriptor `stdout` (a pipe's, say) and `stderr` (default: where stdout goes) when given."""
    argv = list(command)
    if pin_to_core is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(pin_to_core), *argv]
    base_url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv,
            env=dict(env or os.environ),
            stdout=out if stdout is None else stdout,
            stderr=subprocess.STDOUT if stderr is None else stderr,
            cwd=cwd,
        )
        try:
            _wait_until_up(f"{base_url}{ready_path}", process, log)
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


def taskapi_environment(database_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a test server: this one without TASKAPI_* settings, production mode with a
    random key, the access log off (`extra` overrides any of it)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("TASKAPI_")}
    env.update(
        {
            "TASKAPI_DATABASE_URL": database_url,
            "TASKAPI_LOG_LEVEL": "warning",
            "TASKAPI_ENV": "production",
            "TASKAPI_JWT_SECRET": secrets.token_urlsafe(48),
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
) -> Iterator[LiveServer]:
    """Migrate a database (default: a new SQLite file in `workdir`), serve it with `taskapi serve`
    (`args` added to its command line), yield the server; stop it on exit. `checkout` serves another
    build of taskapi instead of this one: a checkout with its own `.venv` (the benchmark's baseline).
    `stdout` and `stderr` are as `server_process()` takes them."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'taskapi.db'}"
    environment = taskapi_environment(url, env)
    python = str(checkout / ".venv" / "bin" / "python") if checkout else sys.executable
    cli = [python, "-m", "taskapi.cli"]
    subprocess.run([*cli, "migrate"], env=environment, check=True, capture_output=True, cwd=checkout)
    port = free_port()
    command = [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *args]
    with server_process(
        command,
        port=port,
        log=workdir / "server.log",
        env=environment,
        pin_to_core=pin_to_core,
        cwd=checkout,
        stdout=stdout,
        stderr=stderr,
    ) as running:
        yield LiveServer(base_url=running.base_url, process=running.process, log=running.log, database_url=url)


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within 30 s:\n{log.read_text(errors='replace')}")
