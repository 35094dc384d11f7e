"""The bounded log queue (`LineSink`): lines arrive whole and in order; a full queue drops and counts
instead of waiting; one warning says how many once the log takes lines again; closing is bounded."""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from taskapi import logs
from taskapi.logs import FILE_BATCH_BYTES, PIPE_BATCH_BYTES, LineSink, batch_bytes_for, fd_writer

WAIT_SECONDS = 10


class Gate:
    """A `write` for the sink that keeps what it is given, and blocks (a stalled log) while shut."""

    def __init__(self, *, shut: bool = False) -> None:
        self.chunks: list[bytes] = []
        self.entered = threading.Event()  # a write has begun
        self._open = threading.Event()
        if not shut:
            self._open.set()

    def __call__(self, data: bytes) -> None:
        self.entered.set()
        self._open.wait()
        self.chunks.append(data)

    def open(self) -> None:
        self._open.set()

    def shut(self) -> None:
        self.entered.clear()
        self._open.clear()

    def lines(self) -> list[str]:
        return b"".join(self.chunks).decode("utf-8").splitlines(keepends=True)


@pytest.fixture
def stalled() -> Iterator[tuple[LineSink, Gate]]:
    """A sink of capacity 10 whose writer is stuck writing the line "first"."""
    gate = Gate(shut=True)
    sink = LineSink(gate, capacity=10, name="stdout")
    sink.start()
    sink.put("first\n")
    assert gate.entered.wait(WAIT_SECONDS)
    yield sink, gate
    gate.open()
    sink.close()


def _until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def _reports(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "taskapi.logs"]


@pytest.mark.parametrize("batch_bytes", [PIPE_BATCH_BYTES, FILE_BATCH_BYTES])
def test_lines_arrive_whole_and_in_order_in_atomic_writes(batch_bytes: int) -> None:
    gate = Gate()
    sink = LineSink(gate, capacity=100_000, name="stdout", batch_bytes=batch_bytes)
    sink.start()
    lines = [f'{{"n": {n}, "text": "{"é" * (n % 50)}"}}\n' for n in range(5000)]
    lines.insert(1234, "x" * 10_000 + "\n")  # longer than a pipe's atomic write: alone in its write
    for line in lines:
        sink.put(line)
    assert sink.close()
    assert gate.lines() == lines
    assert sink.dropped == 0
    for chunk in gate.chunks:
        assert chunk.endswith(b"\n")
        assert len(chunk) <= batch_bytes or chunk.count(b"\n") == 1
    assert max(len(chunk) for chunk in gate.chunks) > batch_bytes // 2  # writes are filled, not line by line


def test_a_pipe_or_terminal_gets_atomic_writes_a_file_larger_ones(tmp_path: Path) -> None:
    assert PIPE_BATCH_BYTES == select.PIPE_BUF < FILE_BATCH_BYTES
    with open(tmp_path / "log", "wb") as file, open(os.devnull, "wb") as null:
        assert batch_bytes_for(file.fileno()) == FILE_BATCH_BYTES
        assert batch_bytes_for(null.fileno()) == FILE_BATCH_BYTES
    read_fd, write_fd = os.pipe()
    try:
        assert batch_bytes_for(write_fd) == PIPE_BATCH_BYTES
    finally:
        os.close(read_fd)
        os.close(write_fd)
    left, right = socket.socketpair()
    with left, right:
        assert batch_bytes_for(left.fileno()) == PIPE_BATCH_BYTES
    main_fd, terminal_fd = os.openpty()
    try:
        assert batch_bytes_for(terminal_fd) == PIPE_BATCH_BYTES
    finally:
        os.close(main_fd)
        os.close(terminal_fd)


def test_an_idle_writer_is_woken_early_only_by_half_a_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "LOOK_EVERY_SECONDS", 3600.0)  # it would never look by itself in this test
    gate = Gate()
    sink = LineSink(gate, capacity=20, name="stdout")
    sink.start()
    _until(lambda: sink._idle)
    for n in range(9):
        sink.put(f"{n}\n")
    time.sleep(0.2)
    assert gate.chunks == []  # nine lines: the writer sleeps on (the log lags, requests do not wait)
    sink.put("9\n")  # half the queue: woken
    _until(lambda: len(gate.lines()) == 10)
    _until(lambda: sink._idle)
    sink.put("last\n")
    assert sink.close()  # closing wakes it too
    assert gate.lines() == [*(f"{n}\n" for n in range(10)), "last\n"]


def test_lines_from_several_threads_reach_a_pipe_whole() -> None:
    read_fd, write_fd = os.pipe()
    received = bytearray()

    def read() -> None:
        while chunk := os.read(read_fd, 65536):
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    sink = LineSink(fd_writer(write_fd), capacity=100_000, name="stdout")
    sink.start()

    def put(thread: int) -> None:
        for n in range(2000):
            sink.put(f"{thread} {n} {'.' * (n % 300)}\n")

    putters = [threading.Thread(target=put, args=(thread,)) for thread in range(4)]
    for putter in putters:
        putter.start()
    for putter in putters:
        putter.join()
    assert sink.close()
    os.close(write_fd)
    reader.join()
    os.close(read_fd)

    seen: dict[str, list[int]] = {}
    for line in received.decode().splitlines():
        thread, n, dots = line.split(" ")
        assert len(dots) == int(n) % 300
        seen.setdefault(thread, []).append(int(n))
    assert seen == {str(thread): list(range(2000)) for thread in range(4)}


def test_a_full_queue_drops_and_counts_without_waiting(stalled: tuple[LineSink, Gate]) -> None:
    sink, gate = stalled
    started = time.monotonic()
    for n in range(15):
        sink.put(f"{n}\n")
    assert time.monotonic() - started < 1
    assert sink.dropped == 5

    gate.open()
    assert sink.close()
    assert gate.lines() == ["first\n", *(f"{n}\n" for n in range(10))]
    assert sink.dropped == 5


def test_one_warning_once_the_log_takes_lines_again(
    stalled: tuple[LineSink, Gate], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskapi.logs")
    sink, gate = stalled
    for n in range(1010):
        sink.put(f"{n}\n")
    assert _reports(caplog) == []  # nothing while the log is stalled

    gate.open()
    _until(lambda: len(gate.chunks) >= 2 and bool(_reports(caplog)))
    for n in range(5):  # lines that fit: no more warnings
        sink.put(f"more {n}\n")
    _until(lambda: gate.lines()[-1] == "more 4\n")
    [report] = _reports(caplog)
    assert report.levelno == logging.WARNING
    assert report.getMessage() == "log sink stalled: 1000 line(s) dropped"
    assert report.__dict__["fields"] == {"dropped": 1000, "stream": "stdout", "pid": os.getpid()}

    gate.shut()  # a second stall: a second warning, with only its own lines
    sink.put("stuck\n")
    assert gate.entered.wait(WAIT_SECONDS)
    for n in range(13):
        sink.put(f"again {n}\n")
    gate.open()
    _until(lambda: len(_reports(caplog)) == 2)
    assert _reports(caplog)[1].__dict__["fields"]["dropped"] == 3
    assert sink.dropped == 1003


def test_closing_a_stalled_sink_gives_up_in_bounded_time(stalled: tuple[LineSink, Gate]) -> None:
    sink, _gate = stalled
    for n in range(5):
        sink.put(f"{n}\n")
    started = time.monotonic()
    assert sink.close(timeout=0.3) is False
    assert time.monotonic() - started < 2
    assert sink.dropped == 6  # the five queued and the one being written
    sink.put("after\n")
    assert sink.dropped == 7


def test_a_failing_log_drops_counts_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    def broken(data: bytes) -> None:
        raise BrokenPipeError("the collector went away")

    sink = LineSink(broken, capacity=100, name="stderr")
    sink.start()
    for n in range(50):
        sink.put(f"{n}\n")
    assert sink.close()
    assert sink.dropped == 50
    [error] = _reports(caplog)
    assert error.levelno == logging.ERROR
    assert "stderr" in error.getMessage()
