"""HTTP as the real server speaks it (uvicorn with `taskapi serve`'s protocol, on a socket of its own): HEAD,
clients that half-close their connection, and, with `taskapi serve --root-path`, serving under a path prefix
behind a reverse proxy."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases, execute
from taskapi.testing.liveserver import InProcessServer, listening_socket, live_server
from tests.contract.signed_in import serving

pytestmark = [pytest.mark.contract, pytest.mark.xdist_group("http")]
ROUNDS = 20


@pytest.fixture(scope="module")
def server(databases: Databases) -> Iterator[InProcessServer]:
    with serving(databases) as running:
        yield running


@pytest.fixture(scope="module")
def token(server: InProcessServer) -> str:
    return sign_in(server.base_url, *random_credentials())


def test_head_answers_like_get_without_a_body(server: InProcessServer, token: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=auth) as http:
        task = http.post("/tasks", json={"title": "headed"}).json()
        for path in (f"/tasks/{task['id']}", "/tasks", "/healthz", "/tasks/999999"):
            got, headed = http.get(path), http.head(path)
            assert headed.status_code == got.status_code, path
            assert headed.content == b"", path
            for header in ("content-type", "content-length"):
                assert headed.headers[header] == got.headers[header], (path, header)
        not_allowed = http.head("/users")
    assert not_allowed.status_code == 405
    assert not_allowed.headers["allow"] == "POST"


def half_closed_exchange(server: InProcessServer, request: bytes) -> bytes:
    """Send one request, shut the write side, and read until the server closes the connection."""
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def raw_request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def test_half_closed_writes_and_reads_are_answered(server: InProcessServer, token: str) -> None:
    [(before,)] = asyncio.run(execute(server.database_url, "SELECT count(*) FROM tasks"))
    created = []
    for n in range(ROUNDS):
        answer = half_closed_exchange(server, raw_request("POST", "/tasks", token, b'{"title": "half %d"}' % n))
        assert answer.startswith(b"HTTP/1.1 201 Created\r\n"), answer[:200]
        created.append(json.loads(answer.partition(b"\r\n\r\n")[2]))
    for task in created:
        answer = half_closed_exchange(server, raw_request("GET", f"/tasks/{task['id']}", token))
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer[:200]
        assert json.loads(answer.partition(b"\r\n\r\n")[2]) == task
    [(after,)] = asyncio.run(execute(server.database_url, "SELECT count(*) FROM tasks"))
    assert after - before == ROUNDS


class StrippingProxy:
    """A reverse proxy serving the API under /api and stripping the prefix before it forwards, as
    nginx's `location /api/ { proxy_pass http://127.0.0.1:8000/; }` does."""

    def __init__(self, backend: str) -> None:
        self.backend = backend

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        if not scope["path"].startswith("/api/"):
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"not under /api"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        query = scope["query_string"].decode()
        url = f"{self.backend}{scope['path'].removeprefix('/api')}" + (f"?{query}" if query else "")
        headers = [(name, value) for name, value in scope["headers"] if name != b"host"]
        async with httpx.AsyncClient() as client:
            answer = await client.request(scope["method"], url, headers=headers, content=body)
        await send({"type": "http.response.start", "status": answer.status_code, "headers": answer.headers.raw})
        await send({"type": "http.response.body", "body": answer.content})


@contextmanager
def proxy_to(backend: str) -> Iterator[str]:
    """A `StrippingProxy` in front of `backend`, on a free port of its own; its URL."""
    listening = listening_socket()
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    config = uvicorn.Config(StrippingProxy(backend), lifespan="off", log_level="warning")
    proxy = uvicorn.Server(config)
    thread = threading.Thread(target=proxy.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not proxy.started and time.monotonic() < deadline:
            time.sleep(0.05)
        yield url
    finally:
        proxy.should_exit = True
        thread.join(10)
        listening.close()


def test_behind_a_proxy_that_strips_a_prefix_everything_points_under_it(
    tmp_path: Path, empty_database_url: str
) -> None:
    with (
        live_server(
            tmp_path / "server",
            database_url=empty_database_url,
            args=["--root-path", "/api"],
            env={"TASKAPI_LOG_LEVEL": "info"},
        ) as server,
        proxy_to(server.base_url) as proxy,
        httpx.Client(base_url=proxy) as http,
    ):
        credentials = {"username": "proxied", "password": "a long enough password"}
        assert http.post("/api/users", json=credentials).status_code == 201
        form = {"grant_type": "password", **credentials}
        token = http.post("/api/auth/token", data=form).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"

        created = http.post("/api/tasks", json={"title": "behind the proxy"})
        assert created.status_code == 201
        task = created.json()
        assert created.headers["location"] == f"/api/tasks/{task['id']}"
        assert http.get(created.headers["location"]).json() == task  # the Location works through the proxy
        assert http.get("/api/tasks").json()["items"] == [task]
        assert http.patch(f"/api/tasks/{task['id']}", json={"priority": 5}).json()["priority"] == 5
        assert http.patch(f"/api/tasks/{task['id']}/complete").json()["completed"] is True
        assert http.get("/api/users/me").json()["username"] == "proxied"
        assert http.delete(f"/api/tasks/{task['id']}").status_code == 204
        assert http.get("/api/healthz").json() == {"status": "ok"}

        missing = http.get(f"/api/tasks/{task['id']}")
        assert (missing.status_code, missing.json()["instance"]) == (404, f"/api/tasks/{task['id']}")
        assert http.put("/api/tasks").headers["allow"] == "GET, HEAD, POST"

        for page in ("/api/docs", "/api/redoc"):
            assert "/api/openapi.json" in http.get(page).text
        assert http.get("/api/openapi.json").json()["info"]["title"] == "taskapi"
        assert "/api/docs/oauth2-redirect" in http.get("/api/docs").text
        every = {
            "createUser", "createToken", "createTask", "getTask", "listTasks", "updateTask",
            "completeTask", "getCurrentUser", "deleteTask", "getHealth",
        }  # fmt: skip
        server.wait_for_log(lambda records: {record.get("operation_id") for record in records} >= every)
