"""PostgreSQL stopped under a serving worker, then started again (`pg_ctlcluster … stop -m fast` / `start`,
as CI can: it runs as root). It stops the server every other test uses, so this suite runs on its own
(`make test-outage`, after the PostgreSQL leg of `make test`).

While the database is down, reads, writes and `/readyz` answer 503 with Retry-After, each within 5 s;
within 10 s of the database's return the worker serves again, without a restart; and every task whose
creation was answered 201, before, during or after the outage, is there afterwards.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases, postgres_reachable
from taskapi.testing.liveserver import LiveServer, live_server

CONFIG = Path("/etc/postgresql")


def pg_ctlcluster(action: str) -> None:
    """Stop or start the machine's PostgreSQL cluster (the one the tests use)."""
    versions = sorted(p.name for p in CONFIG.iterdir()) if CONFIG.is_dir() else []
    if len(versions) != 1:
        pytest.fail(f"this test drives the one cluster under {CONFIG}; found {versions}", pytrace=False)
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", action]
    if action == "stop":
        command += ["-m", "fast"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed ({result.returncode}): {result.stderr}", pytrace=False)


def wait_for_postgres(timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while (why := postgres_reachable()) is not None:
        if time.monotonic() > deadline:
            pytest.fail(f"PostgreSQL did not come back: {why}", pytrace=False)
        time.sleep(0.2)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    if os.geteuid() != 0:
        pytest.fail("stopping PostgreSQL takes root (pg_ctlcluster), as CI has", pytrace=False)
    if (why := postgres_reachable()) is not None:
        pytest.fail(f"PostgreSQL is not reachable: {why}", pytrace=False)
    databases = Databases(tmp_path / "databases")
    url = databases.fresh("postgresql")
    try:
        # No rate limits: the writer and the check after it send far more than a user may in a minute.
        env = {
            "TASKAPI_DB_CONNECT_TIMEOUT_SECONDS": "2",
            "TASKAPI_DB_POOL_TIMEOUT_SECONDS": "3",
            "TASKAPI_RATE_LIMITING": "false",
        }
        with live_server(tmp_path / "server", database_url=url, env=env) as running:
            yield running
    finally:
        if postgres_reachable() is not None:  # the test failed while it was down
            pg_ctlcluster("start")
        wait_for_postgres(30)
        databases.drop_all()


class Writer(threading.Thread):
    """Creates tasks one after another until stopped, remembering every answer."""

    def __init__(self, base_url: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base_url, self.token = base_url, token
        self.created: list[str] = []  # Location of every 201
        self.statuses: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=15) as http:
            n = 0
            while not self.stopping.is_set():
                n += 1
                try:
                    response = http.post("/tasks", json={"title": f"write {n}"})
                except httpx.TransportError:
                    self.statuses.append(0)
                    continue
                self.statuses.append(response.status_code)
                if response.status_code == 201:
                    self.created.append(response.headers["Location"])
                elif response.status_code == 503:
                    time.sleep(0.05)


def timed(http: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = http.request(method, path, **kwargs)  # type: ignore[arg-type]
    return response, time.monotonic() - started


def test_postgres_stopped_under_a_worker_is_503_then_recovers_with_nothing_lost(server: LiveServer) -> None:
    token = sign_in(server.base_url, *random_credentials())
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=15) as http:
        existing = http.post("/tasks", json={"title": "before"}).headers["Location"]
        writer = Writer(server.base_url, token)
        writer.start()
        try:
            time.sleep(0.5)
            pg_ctlcluster("stop")
            down: dict[str, tuple[httpx.Response, float]] = {}
            for _ in range(3):  # the first may meet a connection that had not yet heard the news
                down = {
                    "read": timed(http, "GET", existing),
                    "write": timed(http, "POST", "/tasks", json={"title": "during"}),
                    "ready": timed(http, "GET", "/readyz"),
                }
            pg_ctlcluster("start")
            back = time.monotonic()
            while http.get("/readyz").status_code != 200:
                assert time.monotonic() - back < 10, "not ready within 10 s of PostgreSQL's return"
                time.sleep(0.1)
            ready_after = time.monotonic() - back
            read_again = http.get(existing)
            written_again = http.post("/tasks", json={"title": "after"})
            time.sleep(0.5)
        finally:
            writer.stopping.set()
            writer.join(30)
        for name, (response, seconds) in down.items():
            assert response.status_code == 503, (name, response.status_code, response.text)
            assert response.headers["Content-Type"] == "application/problem+json", name
            assert response.headers["Retry-After"].isdigit(), name
            assert seconds < 5, (name, seconds)
        assert read_again.status_code == 200
        assert written_again.status_code == 201
        assert ready_after < 10
        # Every acknowledged write is there; nothing but 201 and 503 was answered (never a 500).
        assert 503 in writer.statuses and 201 in writer.statuses
        assert set(writer.statuses) <= {201, 503}, sorted(set(writer.statuses))
        lost = {location: status for location in writer.created if (status := http.get(location).status_code) != 200}
        assert lost == {}, lost
    errors = [record for record in server.log_records() if record["level"] == "error"]
    assert errors == []  # no unhandled error (a 500) was logged
