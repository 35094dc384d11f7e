"""The app's purge of expired idempotency keys keeps going whatever one pass raises, and says so."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, cast

import pytest

from taskapi.app import purge_idempotency_keys
from taskapi.storage import Database, DatabaseUnavailable
from taskapi.testing.clock import ManualClock


class _Keys:
    def __init__(self) -> None:
        self.passes = 0
        self.fourth = asyncio.Event()

    async def purge(self, now: datetime) -> int:
        self.passes += 1
        if self.passes == 4:
            self.fourth.set()
        if self.passes == 1:
            raise DatabaseUnavailable("the database went away")
        if self.passes == 2:
            raise RuntimeError("canceling statement due to statement timeout")
        return 3


class _Database:
    def __init__(self) -> None:
        self.idempotency = _Keys()  # made inside the test's event loop: its Event belongs there


def test_a_failed_pass_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> None:
        db = _Database()
        task = asyncio.create_task(purge_idempotency_keys(cast(Database, db), ManualClock(), every=0.01))
        await db.idempotency.fourth.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    caplog.set_level(logging.INFO, logger="taskapi.app")
    asyncio.run(asyncio.wait_for(run(), 10))
    records: list[Any] = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert records[:3] == [
        ("WARNING", "purging expired idempotency keys failed: the database went away"),
        ("ERROR", "purging expired idempotency keys failed"),
        ("INFO", "purged 3 expired idempotency key(s)"),
    ]
