"""A raw HTTP/1.1 client for what no well-behaved client sends: oversized, malformed, slow and smuggled
requests, written byte for byte on a socket of its own, and the answers read back as they come. Shared by
the hostile suite (tests/hostile/) and the limits' own tests (tests/contract/test_limits.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

MB = 1 << 20


@dataclass
class Answer:
    """One response: its status, its header fields (names in lower case; the last of a repeated one), its body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of(cls, response: httpx.Response) -> Answer:
        """The same for a response httpx read."""
        fields = {name.lower(): value for name, value in response.headers.multi_items()}
        return cls(response.status_code, fields, response.content)

    def json(self) -> Any:
        return json.loads(self.body)

    def __str__(self) -> str:
        return f"{self.status} {self.headers} {self.body[:300]!r}"


def request(
    method: str,
    target: str,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    length: bool = True,
) -> bytes:
    """A request's bytes: the request line, `Host`, the fields, and `Content-Length` when there is a body
    (unless `length` is false: the caller frames the body itself)."""
    items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
    if body and length:
        items.append(("Content-Length", str(len(body))))
    lines = [f"{method} {target} HTTP/1.1", "Host: hostile.test", *(f"{name}: {value}" for name, value in items)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


def chunked(body: bytes, piece: int = 16384, *, last: bool = True) -> bytes:
    """`body` in the chunked transfer coding, with the last chunk unless `last` is false."""
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[at : at + piece]), body[at : at + piece]) for at in range(0, len(body), piece)
    )
    return chunks + (b"0\r\n\r\n" if last else b"")


class Wire:
    """A raw connection to the server: send bytes, read responses one by one, see whether it is closed."""

    def __init__(self, base_url: str, timeout: float = 10) -> None:
        host, port = base_url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self._buffer = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_quietly(self, data: bytes) -> bool:
        """Send, and say whether the server still took it (False once it has closed the connection)."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def _more(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionError(f"the server closed the connection without an answer: {self._buffer[:300]!r}")
        self._buffer += chunk

    def answer(self, timeout: float = 10) -> Answer:
        """The next response (not to a HEAD request: its Content-Length is read as its body's)."""
        self.sock.settimeout(timeout)
        while b"\r\n\r\n" not in self._buffer:
            self._more()
        raw_head, _, self._buffer = self._buffer.partition(b"\r\n\r\n")
        status_line, *lines = raw_head.decode("latin-1").split("\r\n")
        headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        status = int(status_line.split()[1])
        length = 0 if status in (204, 304) else int(headers.get("content-length", "0"))
        while len(self._buffer) < length:
            self._more()
        body, self._buffer = self._buffer[:length], self._buffer[length:]
        return Answer(status, headers, body)

    def answers(self, count: int, timeout: float = 10) -> list[Answer]:
        return [self.answer(timeout) for _ in range(count)]

    def ends(self, timeout: float = 5) -> bool:
        """Whether the server ends the connection (FIN or reset) within `timeout`, sending nothing more."""
        if self._buffer:
            return False
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False

    def time_until_closed(self, timeout: float) -> float:
        """Seconds from now until the server ends the connection; AssertionError if it is still open after
        `timeout` or sends anything."""
        started = time.monotonic()
        if not self.ends(timeout):
            raise AssertionError(
                f"the connection is still open after {timeout:g} s (or the server sent {self._buffer[:200]!r})"
            )
        return time.monotonic() - started


def exchange(base_url: str, data: bytes, timeout: float = 10) -> Answer:
    """Send `data` on a new connection; the first response."""
    with Wire(base_url) as wire:
        wire.send(data)
        return wire.answer(timeout)


class Sender:
    """Sends `head`, then `size` bytes of `piece`s, in a thread, until done or the server stops taking them."""

    def __init__(self, wire: Wire, head: bytes, size: int, piece: bytes = b"x" * 65536) -> None:
        self.sent = 0
        self._wire, self._head, self._size, self._piece = wire, head, size, piece
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        if not self._wire.send_quietly(self._head):
            return
        while self.sent < self._size and self._wire.send_quietly(self._piece):
            self.sent += len(self._piece)

    def join(self, timeout: float = 10) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise AssertionError(f"still sending after {timeout:g} s ({self.sent} bytes sent)")
