"""The live server's log queues (taskapi.logs): with standard output and standard error pipes that nobody
reads, `taskapi serve` answers every request about as fast as with a log that is read, drops the lines its
queue (TASKAPI_LOG_QUEUE_LINES) cannot hold, counts them, and says how many in one warning once the log is
read again; every line is either written whole or counted. Each worker has its own queue, and writes it out
when SIGTERM stops it."""

from __future__ import annotations

import fcntl
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.liveserver import live_server
from taskapi.testing.wire import Wire, request

pytestmark = pytest.mark.contract

QUEUE_LINES = 200
REQUESTS = 600
# A pipe of one page holds about a dozen access-log lines: the queue, not the pipe, takes a stalled batch.
PAGE = 4096
# A request the log holds fails the test after this, instead of hanging it.
REQUEST_TIMEOUT_SECONDS = 5.0


class Pipe:
    """A pipe for a server's output, read by a thread of its own while `reading` is set (once it is
    cleared, at most one more read), its lines and records kept."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()
        self.reading = threading.Event()
        self.reading.set()
        self._data = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while self.reading.wait() and (chunk := os.read(self.read_fd, 65536)):
            with self._lock:
                self._data += chunk

    def lines(self) -> list[str]:
        with self._lock:
            return self._data.decode("utf-8").splitlines()

    def records(self) -> list[dict[str, Any]]:
        """The JSON lines read so far (every line of the server's stdout is one)."""
        return [json.loads(line) for line in self.lines()]

    def wait_for(self, condition: Callable[[Pipe], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the pipe did not get there within {timeout:g} s: {self.lines()[-5:]}")
            time.sleep(0.05)

    def close_write_end(self) -> None:
        """Our copy of the write end (the server has its own): closed, so that the reader sees the end."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1

    def close(self) -> None:
        self.close_write_end()
        self.reading.set()  # read to the end: the server is stopped by now
        self._thread.join(timeout=10)
        os.close(self.read_fd)


@contextmanager
def pipe(size: int | None = None) -> Iterator[Pipe]:
    """A `Pipe`, holding `size` bytes (Linux's default: 64 KiB), closed on exit."""
    made = Pipe()
    if size is not None:
        fcntl.fcntl(made.write_fd, fcntl.F_SETPIPE_SZ, size)
    try:
        yield made
    finally:
        made.close()


def _access(records: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [r for r in records if r["logger"] == "taskapi.access" and r["request_id"].startswith(prefix)]


def _stall_reports(records: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [
        r
        for r in records
        if r["logger"] == "taskapi.logs" and r["message"].startswith("log sink stalled") and r["stream"] == stream
    ]


def _batch(http: httpx.Client, token: str, prefix: str) -> float:
    """REQUESTS requests, every one answered 200: health checks and authenticated task lists on one
    keep-alive connection, and every tenth on a connection of its own. Seconds taken."""
    auth = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    for number in range(REQUESTS):
        headers = {"X-Request-ID": f"{prefix}-{number}"}
        if number % 10 == 0:
            headers["Connection"] = "close"  # the next request opens a new connection
        elif number % 2:
            headers.update(auth)
        path = "/tasks" if "Authorization" in headers else "/healthz"
        try:
            answer = http.get(path, headers=headers)
        except httpx.TimeoutException:
            pytest.fail(f"{prefix}: request {number} waited {REQUEST_TIMEOUT_SECONDS:g} s (the log held it?)")
        assert answer.status_code == 200, (prefix, number, answer.text)
    return time.monotonic() - started


@pytest.mark.serial  # its pace with a stalled log, against the same with a log that is read: the machine to itself
def test_a_log_nobody_reads_holds_no_request(tmp_path: Path) -> None:
    env = {"TASKAPI_LOG_LEVEL": "info", "TASKAPI_LOG_QUEUE_LINES": str(QUEUE_LINES), "TASKAPI_RATE_LIMITING": "false"}
    with (
        pipe(size=PAGE) as out,
        pipe() as err,
        live_server(tmp_path / "server", env=env, stdout=out.write_fd, stderr=err.write_fd) as server,
    ):
        out.close_write_end()
        err.close_write_end()
        token = sign_in(server.base_url, *random_credentials())
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            before = _batch(http, token, "before")
            out.wait_for(lambda pipe: len(_access(pipe.records(), "before-")) == REQUESTS)

            out.reading.clear()
            err.reading.clear()
            stalled = _batch(http, token, "stalled")

            out.reading.set()
            err.reading.set()
            out.wait_for(lambda pipe: bool(_stall_reports(pipe.records(), "stdout")))
            [report] = _stall_reports(out.records(), "stdout")
            assert report["level"] == "warning"
            assert report["message"] == f"log sink stalled: {report['dropped']} line(s) dropped"
            # A page of pipe and QUEUE_LINES take a couple of hundred lines: most of the batch was dropped.
            assert REQUESTS // 2 < report["dropped"] < REQUESTS
            written = _access(out.records(), "stalled-")
            assert len(written) + report["dropped"] == REQUESTS  # each line written whole, or counted
            numbers = [int(record["request_id"].removeprefix("stalled-")) for record in written]
            assert numbers == sorted(numbers)

            # Still serving, and logging every line again.
            after = _batch(http, token, "after")
            out.wait_for(lambda pipe: len(_access(pipe.records(), "after-")) == REQUESTS)
        assert len(_stall_reports(out.records(), "stdout")) == 1
    # Relative to the same batch on the same server with the log read, before and after (the slower of the
    # two: a busy machine slows some batches down), with a margin: robust on a slow 2-core machine.
    assert stalled < 3 * max(before, after) + 1, f"stalled {stalled:.1f} s, read {before:.1f} s and {after:.1f} s"
    assert stalled < 30


def test_a_standard_error_nobody_reads_holds_no_request(tmp_path: Path) -> None:
    # Stock uvicorn's protocol logs a warning on standard error for each malformed request.
    env = {"TASKAPI_LOG_LEVEL": "info", "TASKAPI_LOG_QUEUE_LINES": str(QUEUE_LINES), "TASKAPI_HTTP_PROTOCOL": "uvicorn"}
    malformed = 500
    with (
        pipe() as out,
        pipe(size=PAGE) as err,  # about a hundred of uvicorn's lines fill it
        live_server(tmp_path / "server", env=env, stdout=out.write_fd, stderr=err.write_fd) as server,
    ):
        out.close_write_end()
        err.close_write_end()
        err.wait_for(lambda pipe: any("Application startup complete" in line for line in pipe.lines()))
        err.reading.clear()
        started = time.monotonic()
        for _ in range(malformed):
            with Wire(server.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as wire:
                wire.send(b"NOT HTTP AT ALL\r\n\r\n")
                assert wire.answer(REQUEST_TIMEOUT_SECONDS).status == 400
        assert httpx.get(f"{server.base_url}/healthz", timeout=REQUEST_TIMEOUT_SECONDS).status_code == 200
        assert time.monotonic() - started < 30

        err.reading.set()
        out.wait_for(lambda pipe: bool(_stall_reports(pipe.records(), "stderr")))
        [report] = _stall_reports(out.records(), "stderr")
        invalid = [line for line in err.lines() if "Invalid HTTP request received." in line]
        assert report["dropped"] > 0
        assert len(invalid) + report["dropped"] == malformed
        assert all(line.endswith("Invalid HTTP request received.") for line in invalid)  # none split
        # One more request after the recovery still works with uvicorn's request parsing intact.
        with Wire(server.base_url) as wire:
            wire.send(request("GET", "/healthz"))
            assert wire.answer().status == 200


def _pids(lines: list[str], what: str) -> set[int]:
    return {int(found.group(1)) for line in lines if (found := re.search(rf"{what} server process \[(\d+)\]", line))}


@pytest.mark.parametrize("workers", [1, 2])
def test_each_worker_writes_its_last_lines_when_stopped(tmp_path: Path, workers: int) -> None:
    env = {"TASKAPI_LOG_LEVEL": "info"}
    with pipe() as out, pipe() as err:
        with live_server(
            tmp_path / "server", workers=workers, env=env, stdout=out.write_fd, stderr=err.write_fd
        ) as server:
            out.close_write_end()
            err.close_write_end()
            err.wait_for(lambda pipe: len(_pids(pipe.lines(), "Started")) == workers)
            answer = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": "last-request"})
            assert answer.status_code == 200
        # Stopped (SIGTERM): uvicorn logs "Finished server process" and at once ends by the signal.
        out.wait_for(lambda pipe: len(_access(pipe.records(), "last-request")) == 1)
        err.wait_for(lambda pipe: _pids(pipe.lines(), "Finished") == _pids(pipe.lines(), "Started"))


def test_each_worker_has_its_own_queue(tmp_path: Path) -> None:
    queue_lines, requests = 50, 240
    env = {"TASKAPI_LOG_LEVEL": "info", "TASKAPI_LOG_QUEUE_LINES": str(queue_lines)}
    with (
        pipe(size=PAGE) as out,
        pipe() as err,
        live_server(tmp_path / "server", workers=2, env=env, stdout=out.write_fd, stderr=err.write_fd) as server,
    ):
        out.close_write_end()
        err.close_write_end()
        err.wait_for(lambda pipe: len(_pids(pipe.lines(), "Started")) == 2)
        workers = _pids(err.lines(), "Started")
        out.reading.clear()
        with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT_SECONDS) as http:
            for number in range(requests):
                # A connection each: the two workers share them.
                headers = {"X-Request-ID": f"spread-{number}", "Connection": "close"}
                assert http.get("/healthz", headers=headers).status_code == 200
        out.reading.set()

        def accounted(pipe: Pipe) -> bool:  # every line written, or counted in a worker's report
            records = pipe.records()
            dropped: int = sum(report["dropped"] for report in _stall_reports(records, "stdout"))
            return len(_access(records, "spread-")) + dropped == requests

        out.wait_for(accounted)
        reports = _stall_reports(out.records(), "stdout")
        assert reports
        assert {report["pid"] for report in reports} <= workers
        assert len(reports) == len({report["pid"] for report in reports})  # one each
        assert {record["pid"] for record in _access(out.records(), "spread-")} <= workers
