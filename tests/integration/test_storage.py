"""The task repository over a real, migrated SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from taskapi.storage import Database

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def test_round_trip_keeps_utc_datetimes(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        added = await tx.tasks.add(title="t", description=None, priority=2, now=NOW)
    async with db.transaction() as tx:
        assert await tx.tasks.get(added.id) == added
    assert added.created_at == NOW
    assert added.created_at.tzinfo is not None


async def test_a_raising_transaction_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction(write=True) as tx:
            await tx.tasks.add(title="t", description=None, priority=1, now=NOW)
            raise RuntimeError("abort")
    async with db.transaction() as tx:
        assert await tx.tasks.page(after_id=0, limit=10) == []


async def test_change_and_complete(db: Database) -> None:
    later = NOW + timedelta(minutes=5)
    async with db.transaction(write=True) as tx:
        task = await tx.tasks.add(title="t", description="d", priority=1, now=NOW)
        changed = await tx.tasks.change(task.id, {"description": None, "priority": 4}, now=later)
        assert changed is not None
        assert (changed.description, changed.priority, changed.updated_at) == (None, 4, later)
        completed = await tx.tasks.complete(task.id, now=later + timedelta(minutes=1))
        assert completed is not None and completed.completed
        again = await tx.tasks.complete(task.id, now=later + timedelta(minutes=9))
        assert again == completed
        assert await tx.tasks.change(999, {"title": "x"}, now=later) is None
        with pytest.raises(ValueError, match="not updatable"):
            await tx.tasks.change(task.id, {"id": 5}, now=later)


async def test_keyset_pages_see_rows_deleted_and_added_between_pages(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        ids = [(await tx.tasks.add(title=f"t{n}", description=None, priority=1, now=NOW)).id for n in range(6)]
    async with db.transaction() as tx:
        first = await tx.tasks.page(after_id=0, limit=3)
    async with db.transaction(write=True) as tx:
        assert await tx.tasks.remove(ids[1])
        assert await tx.tasks.remove(ids[3])
        newest = await tx.tasks.add(title="new", description=None, priority=1, now=NOW)
    async with db.transaction() as tx:
        second = await tx.tasks.page(after_id=first[-1].id, limit=10)
    # No row skipped or repeated because of the deletions, as OFFSET pagination would.
    assert [t.id for t in first] == ids[:3]
    assert [t.id for t in second] == [ids[4], ids[5], newest.id]


async def test_concurrent_writers_on_separate_connections_all_commit(database_url: str) -> None:
    # Two engines (as two worker processes would have) writing at once: BEGIN IMMEDIATE queues them on
    # the busy timeout instead of failing with "database is locked" on a read-to-write upgrade.
    first, second = Database(database_url), Database(database_url)

    async def write(db: Database, n: int) -> int:
        async with db.transaction(write=True) as tx:
            task = await tx.tasks.add(title=f"t{n}", description=None, priority=1, now=NOW)
            await tx.tasks.change(task.id, {"priority": 2}, now=NOW)
            return task.id

    try:
        ids = await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(60)))
        assert len(set(ids)) == 60
        async with first.transaction() as tx:
            rows = await tx.tasks.page(after_id=0, limit=100)
        assert len(rows) == 60
        assert {row.priority for row in rows} == {2}
    finally:
        await first.dispose()
        await second.dispose()
