"""On the live server: every request gets exactly one JSON access-log line, and every response an
X-Request-ID that matches the line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.liveserver import live_server

pytestmark = pytest.mark.contract


def test_one_json_line_per_request(tmp_path: Path, empty_database_url: str) -> None:
    with live_server(tmp_path / "server", database_url=empty_database_url, env={"TASKAPI_LOG_LEVEL": "info"}) as server:
        token = sign_in(server.base_url, *random_credentials())
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.base_url) as http:
            before = len(server.log_lines())
            requests = [
                http.post("/tasks", json={"title": "logged"}, headers={**auth, "X-Request-ID": "client-id-1"}),
                http.get("/tasks", headers=auth),
                http.get("/tasks/999", headers=auth),
                http.get("/tasks"),
                http.put("/tasks", headers=auth),
                http.get("/no/such/path"),
                http.post("/tasks", content=b"{", headers={**auth, "content-type": "application/json"}),
                http.get("/healthz", headers={"X-Request-ID": "bad id with spaces"}),
            ]
            time.sleep(0.5)
        lines = server.log_lines()[before:]

    records = [json.loads(line) for line in lines if line.startswith("{") and '"taskapi.access"' in line]
    assert len(records) == len(requests)
    for response, record in zip(requests, records, strict=True):
        assert response.headers["x-request-id"] == record["request_id"]
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
