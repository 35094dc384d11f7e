"""The Redis that the rate-limit tests and the benchmark count in: TASKAPI_TEST_REDIS_URL (default
127.0.0.1:6379, database 0), each run under key prefixes of its own so that runs never share counters.

`python -m taskapi.testing.redis` exits 0 when that Redis answers (else says why).
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
from urllib.parse import urlsplit

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_url() -> str:
    """The Redis tests use (TASKAPI_TEST_REDIS_URL)."""
    return os.environ.get("TASKAPI_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def redis_reachable(url: str | None = None) -> str | None:
    """None when Redis answers PING at `url` (default: the tests'); otherwise why not."""
    parts = urlsplit(url or redis_url())
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            reply = sock.recv(64)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if reply.startswith((b"+PONG", b"-NOAUTH")) else f"unexpected reply {reply!r}"


def key_prefix(label: str) -> str:
    """A key prefix no other run uses."""
    return f"taskapi-test-{label}-{os.getpid()}-{secrets.token_hex(4)}"


def main() -> int:
    """`python -m taskapi.testing.redis`: 0 when the test Redis answers."""
    problem = redis_reachable()
    if problem:
        print(f"no Redis at {redis_url()}: {problem}")
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main())
