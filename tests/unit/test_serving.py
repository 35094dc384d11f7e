"""The transport under `taskapi serve`: what is written in one turn of the loop leaves in one write, and a
connection whose request was not read whole closes lingering; the open-files limit and the connection cap."""

from __future__ import annotations

import asyncio
import errno
import resource
import socket
from typing import Any, cast

import pytest

from taskapi.serving import AcceptErrors, CoalescingTransport, EventLoop, connection_cap, raise_open_files_limit
from taskapi.settings import Settings


class Recorder(asyncio.Transport):
    """An underlying transport that records what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False
        self.eof_written = False
        self.reading = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        self.eof_written = True

    def resume_reading(self) -> None:
        self.reading = True


def run(scenario: Any, *, unread: bool = False) -> Any:
    async def main() -> Any:
        recorder = Recorder()
        transport = CoalescingTransport(
            recorder, asyncio.get_running_loop(), unread=lambda: unread, linger_seconds=0.05
        )
        return await scenario(recorder, transport)

    return asyncio.run(main())


def test_a_response_written_in_pieces_leaves_in_one_write_at_the_end_of_the_turn() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        assert recorder.writes == []
        assert transport.get_write_buffer_size() == 40
        await asyncio.sleep(0)
        assert recorder.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        transport.write(b"next")
        await asyncio.sleep(0)
        assert recorder.writes[1:] == [b"next"]

    run(scenario)


def test_close_sends_what_is_pending_first() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.write(b"last words")
        transport.close()
        assert recorder.writes == [b"last words"]
        assert recorder.closed
        await asyncio.sleep(0)
        assert recorder.writes == [b"last words"]

    run(scenario)


def test_large_bodies_are_not_held_back() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.write(b"h" * 100)
        transport.write(b"b" * 70_000)
        assert [len(data) for data in recorder.writes] == [70_100]

    run(scenario)


def test_abort_drops_what_is_pending() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.write(b"never sent")
        transport.abort()
        await asyncio.sleep(0)
        assert recorder.writes == []
        assert recorder.aborted

    run(scenario)


def test_with_the_request_unread_close_shuts_the_write_side_and_closes_after_lingering() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.write(b"HTTP/1.1 413 Content Too Large\r\n...")
        transport.close()
        assert recorder.writes == [b"HTTP/1.1 413 Content Too Large\r\n..."]
        assert (recorder.eof_written, recorder.reading, recorder.closed) == (True, True, False)
        assert transport.is_closing()
        transport.write(b"too late")  # nothing is written after the end
        transport.close()
        await asyncio.sleep(0.1)
        assert recorder.closed
        assert recorder.writes == [b"HTTP/1.1 413 Content Too Large\r\n..."]

    run(scenario, unread=True)


def test_with_the_request_read_close_closes_at_once() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.close()
        assert (recorder.eof_written, recorder.closed) == (False, True)

    run(scenario, unread=False)


def test_abort_ends_a_lingering_close() -> None:
    async def scenario(recorder: Recorder, transport: CoalescingTransport) -> None:
        transport.close()
        transport.abort()
        assert recorder.aborted
        await asyncio.sleep(0.1)
        assert not recorder.closed

    run(scenario, unread=True)


def test_the_connection_cap_leaves_the_worker_files_of_its_own() -> None:
    settings = Settings.model_construct()
    assert connection_cap(settings, 1 << 20) == settings.max_connections == 1000
    assert connection_cap(settings, 1024) == 1024 - 64 - settings.db_pool_size
    assert connection_cap(settings, 10) == 1


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        raised = raise_open_files_limit()
        assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        assert raised == hard if hard != resource.RLIM_INFINITY else raised >= 256
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class ExhaustedListener:
    """A listening socket whose every accept fails: the process is out of file descriptors."""

    def __init__(self, fd: int) -> None:
        self.accepts = 0
        self._fd = fd
        self.family, self.type, self.proto = socket.AF_INET, socket.SOCK_STREAM, 0

    def accept(self) -> Any:
        self.accepts += 1
        raise OSError(errno.EMFILE, "Too many open files")

    def fileno(self) -> int:
        return self._fd

    def getsockname(self) -> Any:
        return ("127.0.0.1", 0)


@pytest.mark.parametrize(("loop_class", "accepts"), [(EventLoop, 1), (asyncio.SelectorEventLoop, 100)])
def test_out_of_file_descriptors_the_accept_loop_stops_at_the_first_failure(
    loop_class: type[asyncio.SelectorEventLoop], accepts: int, caplog: pytest.LogCaptureFixture
) -> None:
    """CPython 3.11's loop tries `backlog` times, logging and scheduling a retry each time; ours, once."""
    loop = loop_class()
    reported: list[str] = []
    if loop_class is not EventLoop:
        loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    read, write = socket.socketpair()
    try:
        listener = ExhaustedListener(read.fileno())
        loop._accept_connection(lambda: asyncio.Protocol(), listener, None, None, 100)  # type: ignore[attr-defined]
        assert listener.accepts == accepts
        assert len(loop._scheduled) == accepts  # type: ignore[attr-defined]  # the retries, a second later
    finally:
        loop.close()
        read.close()
        write.close()
    if loop_class is EventLoop:
        [record] = [r for r in caplog.records if r.name == "taskapi.serving"]
        assert record.getMessage().startswith("out of file descriptors: 1 connection(s) not accepted")
    else:
        assert len(reported) == 100


def test_accept_errors_are_reported_once_in_a_while() -> None:
    reported: list[str] = []

    class Loop:
        now = 0.0

        def time(self) -> float:
            return self.now

        def default_exception_handler(self, context: dict[str, Any]) -> None:
            reported.append("default: " + context["message"])

    handler, loop = AcceptErrors(every=10), Loop()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("taskapi.serving.logger.error", lambda message, *args: reported.append(message % args))
        for second in range(25):
            loop.now = float(second)
            for _ in range(1000):
                handler(cast(asyncio.AbstractEventLoop, loop), {"message": AcceptErrors.MESSAGE, "exception": "EMFILE"})
        handler(cast(asyncio.AbstractEventLoop, loop), {"message": "something else"})
    assert [line.split(" connection")[0] for line in reported[:3]] == [
        "out of file descriptors: 1",
        "out of file descriptors: 10000",
        "out of file descriptors: 10000",
    ]
    assert reported[3:] == ["default: something else"]
