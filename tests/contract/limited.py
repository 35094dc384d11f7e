"""What the tests of the server's limits share (test_limits.py, and test_limits_timed.py, which runs alone):
a `taskapi serve` with short timeouts, and what a refusal must look like."""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from taskapi.generated.server import LIMITS
from taskapi.testing.liveserver import LiveServer, live_server
from taskapi.testing.wire import Answer

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
MAX_HEADER, MAX_URL, MAX_BODY = LIMITS.max_header_bytes, LIMITS.max_url_bytes, LIMITS.max_body_bytes
# Short timeouts, so that their tests are quick; rate limits off, so that they do not get in the way.
FAST = {
    "TASKAPI_HEADER_TIMEOUT_SECONDS": "1",
    "TASKAPI_BODY_TIMEOUT_SECONDS": "1",
    "TASKAPI_KEEP_ALIVE_TIMEOUT_SECONDS": "1",
    "TASKAPI_PASSWORD_QUEUE_LIMIT": "1",
    "TASKAPI_RATE_LIMITING": "false",
    "TASKAPI_LOG_LEVEL": "info",
}


def limited_server(
    workdir: Path, database_url: str, env: Mapping[str, str] | None = None
) -> AbstractContextManager[LiveServer]:
    """`taskapi serve` with the FAST settings (and `env`) on `database_url`."""
    return live_server(workdir, database_url=database_url, env={**FAST, **(env or {})})


def problem(answer: Answer, status: int) -> dict[str, Any]:
    """The answer is a problem+json document of `status` with a request id made by the server."""
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/problem+json"
    assert GENERATED_ID.fullmatch(answer.headers["x-request-id"]), answer.headers
    document: dict[str, Any] = answer.json()
    assert (document["status"], document["type"]) == (status, "about:blank")
    return document
