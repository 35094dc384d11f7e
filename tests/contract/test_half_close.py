"""Clients that shut their write side right after a request (socat, some proxies and load testers) get
their response from the real server, for reads and for writes, on the run's backend."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import execute
from taskapi.testing.liveserver import LiveServer, live_server

pytestmark = pytest.mark.contract
ROUNDS = 20


def half_closed_exchange(server: LiveServer, request: bytes) -> bytes:
    """Send one request, shut the write side, and read until the server closes the connection."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def test_half_closed_writes_and_reads_are_answered(tmp_path: Path, empty_database_url: str) -> None:
    with live_server(tmp_path / "server", database_url=empty_database_url) as server:
        token = sign_in(server.base_url, *random_credentials())
        created = []
        for n in range(ROUNDS):
            answer = half_closed_exchange(server, request("POST", "/tasks", token, b'{"title": "half %d"}' % n))
            assert answer.startswith(b"HTTP/1.1 201 Created\r\n"), answer[:200]
            created.append(json.loads(answer.partition(b"\r\n\r\n")[2]))
        for task in created:
            answer = half_closed_exchange(server, request("GET", f"/tasks/{task['id']}", token))
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
            assert json.loads(answer.partition(b"\r\n\r\n")[2]) == task
        rows = execute_sync(server.database_url)
    assert rows == len(created) == ROUNDS


def execute_sync(url: str) -> int:
    import asyncio

    [(count,)] = asyncio.run(execute(url, "SELECT count(*) FROM tasks"))
    return int(count)
