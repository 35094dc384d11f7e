"""The transport under `taskapi serve`: what is written in one turn of the loop leaves in one write."""

from __future__ import annotations

import asyncio
from typing import Any

from taskapi.serving import CoalescingTransport


class Recorder(asyncio.Transport):
    """An underlying transport that records what reaches it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

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


def run(scenario: Any) -> Any:
    async def main() -> Any:
        recorder = Recorder()
        transport = CoalescingTransport(recorder, asyncio.get_running_loop())
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
