"""The contract recorder beyond one app: the answers `taskapi serve`'s protocol makes itself (431 while the
headers arrive, 503 past the connection cap, 414, 400) are counted, under their operation where the method
and path are known; each process writes a file of its own (a forked child, uvicorn's spawned workers)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import pickle
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.recorder import Recorder, recording
from taskapi.serving import http_protocol
from taskapi.testing.liveserver import live_server
from tests.integration.test_serving import LIMITS, exchange, recording_app, serving

pytestmark = pytest.mark.anyio
CONSTANT = {"Cache-Control", "X-Content-Type-Options", "X-Request-ID"}  # declared on every response


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def answers(path: Path | None) -> dict[tuple[str | None, int], dict[str, Any]]:
    assert path is not None
    document = json.loads(path.read_text(encoding="utf-8"))
    return {(answer["operation"], answer["status"]): answer for answer in document["answers"]}


async def test_the_protocols_refusals_are_recorded(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    seen: list[str] = []
    async with serving(recording_app(seen), http_protocol("single-write", LIMITS, recorder=recorder)) as port:
        big = b"X-Big: " + b"b" * 60_000 + b"\r\n"
        await exchange(port, b"GET /tasks/7 HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer t\r\n" + big + b"\r\n")
        await exchange(port, b"PATCH /tasks/7 HTTP/1.1\r\nIf-Match: *\r\n" + big, half_close=False)
        await exchange(port, b"GET /" + b"u" * 2000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", half_close=False)
        await exchange(port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", half_close=False)
        await exchange(port, b"GET /nowhere HTTP/1.1\r\nHost: t\r\n" + big + b"\r\n")
    assert seen == []
    recorded = answers(recorder.recording.write())
    assert set(recorded) == {("getTask", 431), ("updateTask", 431), (None, 414), (None, 400), (None, 431)}
    got = recorded[("getTask", 431)]
    assert got["count"] == 1
    assert got["request_headers"] == {"Authorization": 1}
    assert got["response_headers"] == dict.fromkeys(CONSTANT, 1)
    assert recorded[("updateTask", 431)]["request_headers"] == {"If-Match": 1}


async def test_a_503_past_the_connection_cap_is_recorded_under_its_operation(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    limits = dataclasses.replace(LIMITS, header_timeout=5, max_connections=1)
    async with serving(recording_app([]), http_protocol("single-write", limits, recorder=recorder)) as port:
        with socket.create_connection(("127.0.0.1", port)):  # holds the one connection the worker takes
            await asyncio.sleep(0.05)  # accepted before the next one
            answer = await exchange(port, b"POST /tasks HTTP/1.1\r\nHost: t\r\nIdempotency-Key: k\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 503 ")
    over = answers(recorder.recording.write())[("createTask", 503)]
    assert over["request_headers"] == {"Idempotency-Key": 1}
    assert over["response_headers"] == dict.fromkeys({*CONSTANT, "Retry-After"}, 1)


def test_an_unpickled_recorder_counts_into_its_processs_recording(tmp_path: Path) -> None:
    """uvicorn's workers unpickle the protocol's recorder: it joins the worker's own recording."""
    recorder = Recorder(tmp_path)
    copy = pickle.loads(pickle.dumps(recorder))  # noqa: S301 - our own object
    assert copy is not recorder
    assert copy.recording is recorder.recording is recording(tmp_path)


def test_a_forked_child_writes_its_own_counts_to_its_own_file(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path)
    recorder.record("getHealth", 200, (), ())
    parent_file = recorder.recording.write()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one answer of its own, then its file's name to the parent
        try:
            recorder.record("getReadiness", 200, (), ())
            os.write(write, str(recorder.recording.write()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_file = Path(pipe.read())
    assert os.waitpid(pid, 0)[1] == 0
    assert child_file != parent_file
    assert child_file.name.startswith(f"{pid}-")
    assert set(answers(child_file)) == {("getReadiness", 200)}  # not the parent's counts
    assert set(answers(parent_file)) == {("getHealth", 200)}


def test_each_worker_of_taskapi_serve_writes_its_own_file(tmp_path: Path) -> None:
    """Two spawned workers: each counts what it answered, the protocol's refusals included, and writes its
    file when SIGTERM ends it; the supervisor writes none."""
    recordings = tmp_path / "recordings"
    env = {"TASKAPI_CONTRACT_RECORD_DIR": str(recordings)}
    with live_server(tmp_path / "server", workers=2, env=env) as server:
        requests = 40
        for _ in range(requests):
            with httpx.Client(base_url=server.base_url) as client:  # a connection each: both workers take some
                assert client.get("/healthz").status_code == 200
        with httpx.Client(base_url=server.base_url) as client:
            assert client.get("/readyz", headers={"x-pad": "p" * 20_000}).status_code == 431
        supervisor = server.process.pid
    files = sorted(recordings.glob("*.json"))
    documents = [json.loads(path.read_text(encoding="utf-8")) for path in files]
    assert [path.name for path in files if path.name.startswith(".")] == []
    pids = {document["pid"] for document in documents}
    assert supervisor not in pids
    assert len(pids) == len(files)
    counted = [(a["operation"], a["status"], a["count"]) for document in documents for a in document["answers"]]
    # /healthz answered the start-up probe too (live_server waits for it): at least `requests`.
    assert sum(count for operation, status, count in counted if (operation, status) == ("getHealth", 200)) > requests
    assert ("getReadiness", 431, 1) in counted
