"""The access log: one JSON line per request, and never a failed request because of it."""

from __future__ import annotations

import io
import json
import os
from typing import Any

import pytest

from taskapi.logs import AccessLog

FIELDS: dict[str, Any] = {
    "method": "GET",
    "path": '/tasks/"\u00e9\n',
    "route": None,
    "operation_id": None,
    "status": 404,
    "duration_ms": 0.25,
    "request_id": "abc",
    "user_id": None,
    "client": "192.0.2.1",
}


def test_a_line_is_json_with_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    AccessLog(enabled=True).write(**FIELDS)
    (line,) = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["logger"] == "taskapi.access"
    assert {key: record[key] for key in FIELDS} == FIELDS
    assert record["pid"] == os.getpid()  # which worker served it


class BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError("the log collector went away")


def test_a_broken_stdout_turns_the_log_off_instead_of_failing_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout", BrokenPipe())
    log = AccessLog(enabled=True)
    log.write(**FIELDS)
    assert log.enabled is False


def test_off_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    AccessLog(enabled=False).write(**FIELDS)
    assert out.getvalue() == ""
