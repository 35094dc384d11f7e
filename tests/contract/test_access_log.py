"""The log of the live server: one JSON access-log line per request with the X-Request-ID of its response,
the client's address (X-Forwarded-For believed only from `--forwarded-allow-ips`), error lines with
their traceback, and no access log at TASKAPI_LOG_LEVEL=warning."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import execute
from taskapi.testing.liveserver import live_server

pytestmark = pytest.mark.contract


def test_one_json_line_per_request(tmp_path: Path, empty_database_url: str) -> None:
    with live_server(tmp_path / "server", database_url=empty_database_url, env={"TASKAPI_LOG_LEVEL": "info"}) as server:
        token = sign_in(server.base_url, *random_credentials())
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url) as http:
            requests = [
                http.post("/tasks", json={"title": "logged"}, headers={**auth, "X-Request-ID": "client-id-1"}),
                http.get("/tasks", headers=auth),
                http.get("/tasks/999", headers=auth),
                http.get("/tasks"),
                http.put("/tasks", headers=auth),
                http.get("/no/such/path"),
                http.post("/tasks", content=b"{", headers={**auth, "content-type": "application/json"}),
                http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}),
                http.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"}),
            ]
        # Lines reach the log a little after their requests (the log's writer looks every 50 ms): the
        # requests' own lines are found by their ids, whenever the sign-in's and the start-up's arrive.
        ids = [response.headers["x-request-id"] for response in requests]
        server.wait_for_log(lambda records: {r["request_id"] for r in _access(records)} >= set(ids))
        time.sleep(0.2)  # room for a line too many
        records = [record for record in _access(server.log_records()) if record["request_id"] in ids]

    assert [record["request_id"] for record in records] == ids
    for response, record in zip(requests, records, strict=True):
        assert record["status"] == response.status_code
        assert record["duration_ms"] >= 0
        assert set(record) >= {"method", "route", "operation_id", "status", "duration_ms", "request_id", "user_id"}

    created = records[0]
    assert created["request_id"] == "client-id-1"
    assert (created["method"], created["route"], created["operation_id"]) == ("POST", "/tasks", "createTask")
    assert isinstance(created["user_id"], int)
    assert records[2]["route"] == "/tasks/{task_id}"
    assert records[2]["operation_id"] == "getTask"
    assert records[3]["user_id"] is None
    assert records[3]["status"] == 401
    assert records[5]["route"] is None
    assert records[7]["request_id"] != "bad id with spaces"
    # No proxy is trusted by default: the address is the peer's, whatever the request claims.
    assert {record["client"] for record in records} == {"127.0.0.1"}


def _access(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["logger"] == "taskapi.access"]


def test_a_trusted_proxy_names_the_client(tmp_path: Path) -> None:
    with live_server(
        tmp_path / "server", env={"TASKAPI_LOG_LEVEL": "info"}, args=["--forwarded-allow-ips", "127.0.0.1"]
    ) as server:
        proxied = httpx.get(f"{server.base_url}/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
        direct = httpx.get(f"{server.base_url}/healthz")
        ids = [proxied.headers["x-request-id"], direct.headers["x-request-id"]]
        logged = server.wait_for_log(lambda records: {r["request_id"] for r in _access(records)} >= set(ids))
        clients = [record["client"] for record in _access(logged) if record["request_id"] in ids]
    assert clients == ["203.0.113.9", "127.0.0.1"]


def test_an_error_line_carries_the_traceback_and_the_client_gets_none(tmp_path: Path, empty_database_url: str) -> None:
    with live_server(tmp_path / "server", database_url=empty_database_url) as server:
        token = sign_in(server.base_url, *random_credentials())
        asyncio.run(execute(server.database_url, "ALTER TABLE tasks RENAME TO gone"))
        try:
            failed = httpx.get(f"{server.base_url}/tasks", headers={"Authorization": f"Bearer {token}"})
        finally:
            asyncio.run(execute(server.database_url, "ALTER TABLE gone RENAME TO tasks"))
        lines = server.wait_for_log(lambda records: any(record["level"] == "error" for record in records))
        # TASKAPI_LOG_LEVEL=warning (the test servers' level): errors are logged, requests are not.
        assert _access(server.log_records()) == []
    assert failed.status_code == 500
    assert "Traceback" not in failed.text
    [error] = [line for line in lines if line["level"] == "error"]
    assert error["logger"] == "taskapi.errors"
    assert error["message"] == "unhandled error on GET /tasks"
    assert error["exception"].startswith("Traceback (most recent call last):")
    assert "tasks" in error["exception"].splitlines()[-1]  # the database's own words: no such table / relation
