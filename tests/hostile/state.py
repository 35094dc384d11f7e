"""What a hostile request must not change: the rows of the database (and its id sequences), read straight
from the database over a connection held for the run; and what it must not grow past a bound: the memory
of the server's workers, read from /proc."""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from taskapi.storage.urls import DatabaseUrl

TABLES = ("users", "tasks")
_SEQUENCES = {
    "sqlite": "SELECT name, seq FROM sqlite_sequence ORDER BY name",
    "postgresql": "SELECT sequencename, last_value FROM pg_sequences ORDER BY sequencename",
}


@dataclass(frozen=True)
class Snapshot:
    """Row counts, and a digest of every row of `TABLES` and of the id sequences."""

    counts: dict[str, int]
    digest: str


class DatabaseState:
    """Reads a database the server serves, without going through the server."""

    def __init__(self, url: str) -> None:
        self._url = DatabaseUrl.parse(url)
        self._sqlite: sqlite3.Connection | None = None
        self._runner: asyncio.Runner | None = None
        self._postgres: Any = None
        if self._url.backend == "sqlite":
            # Autocommit: every read sees what is committed now (the server writes in WAL mode).
            self._sqlite = sqlite3.connect(self._url.sqlite_path, isolation_level=None, check_same_thread=False)
        else:
            self._runner = asyncio.Runner()
            self._postgres = self._runner.run(asyncpg.connect(self._url.postgres_dsn, timeout=10))

    def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
        if self._runner is not None:
            self._runner.run(self._postgres.close())
            self._runner.close()

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of one query."""
        if self._sqlite is not None:
            return [tuple(row) for row in self._sqlite.execute(sql)]
        assert self._runner is not None
        return [tuple(record) for record in self._runner.run(self._postgres.fetch(sql))]

    def snapshot(self) -> Snapshot:
        digest = hashlib.sha256()
        counts: dict[str, int] = {}
        for table in TABLES:
            rows = self.rows(f"SELECT * FROM {table} ORDER BY id")  # noqa: S608 - the names are constants
            counts[table] = len(rows)
            digest.update(repr((table, rows)).encode())
        digest.update(repr(self.rows(_SEQUENCES[self._url.backend])).encode())
        return Snapshot(counts, digest.hexdigest())

    @contextmanager
    def unchanged(self, what: object = "the requests") -> Iterator[None]:
        """Asserts that the block (requests the server must refuse) left every row and sequence as it was."""
        before = self.snapshot()
        yield
        after = self.snapshot()
        assert after == before, f"the database changed under {what}: {before.counts} -> {after.counts}"


def worker_pids(pid: int) -> list[int]:
    """The processes that serve requests: `taskapi serve` itself with one worker, its children with more."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children or [pid]


def status_kib(pid: int, field: str) -> int:
    """A `/proc/<pid>/status` figure in KiB: VmRSS (now) or VmHWM (the peak so far)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise LookupError(f"{field} not in /proc/{pid}/status")
