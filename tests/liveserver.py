"""Start the real server (`taskapi serve`, uvicorn) on a free 127.0.0.1 port over a fresh database."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(database_url: str, extra: Mapping[str, str] | None) -> dict[str, str]:
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


@dataclass
class LiveServer:
    """A running `taskapi serve`."""

    base_url: str
    process: subprocess.Popen[bytes]
    log: Path
    database_url: str

    def __str__(self) -> str:
        return self.base_url

    def log_lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()


@contextmanager
def live_server(
    workdir: Path, *, database_url: str | None = None, workers: int = 1, env: Mapping[str, str] | None = None
) -> Iterator[LiveServer]:
    """Migrate a database, serve it, yield the server; stop it (SIGTERM by PID, then SIGKILL) on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{workdir / 'taskapi.db'}"
    environment = _env(url, env)
    cli = [sys.executable, "-m", "taskapi.cli"]
    subprocess.run([*cli, "migrate"], env=environment, check=True, capture_output=True)
    port = free_port()
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, process, workdir / "server.log")
        yield LiveServer(base_url=base_url, process=process, log=workdir / "server.log", database_url=url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within 30 s:\n{log.read_text(errors='replace')}")
