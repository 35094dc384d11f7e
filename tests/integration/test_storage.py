"""The repositories over a real, migrated SQLite database."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from taskapi.storage import Database
from tests.databases import execute

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def new_user(db: Database, username: str) -> int:
    async with db.transaction(write=True) as tx:
        user = await tx.users.add(username=username, password_hash="$argon2id$fake", now=NOW)
    assert user is not None
    return user.id


@pytest.fixture
async def owner(db: Database) -> int:
    return await new_user(db, "owner")


async def test_round_trip_keeps_utc_datetimes(db: Database, owner: int) -> None:
    async with db.transaction(write=True) as tx:
        added = await tx.tasks.add(owner_id=owner, title="t", description=None, priority=2, now=NOW)
    async with db.transaction() as tx:
        assert await tx.tasks.get(owner, added.id) == added
    assert added.created_at == NOW
    assert added.created_at.tzinfo is not None


async def test_a_raising_transaction_rolls_back(db: Database, owner: int) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction(write=True) as tx:
            await tx.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
            raise RuntimeError("abort")
    async with db.transaction() as tx:
        assert await tx.tasks.page(owner, after_id=0, limit=10) == []


async def test_a_one_statement_transaction_refuses_a_second(db: Database, owner: int) -> None:
    with pytest.raises(RuntimeError, match="one statement"):
        async with db.transaction(write=True, one_statement=True) as tx:
            await tx.tasks.add(owner_id=owner, title="first", description=None, priority=1, now=NOW)
            await tx.tasks.add(owner_id=owner, title="second", description=None, priority=1, now=NOW)
    async with db.transaction() as tx:
        titles = [task.title for task in await tx.tasks.page(owner, after_id=0, limit=10)]
    # PostgreSQL committed the first statement as it ran; SQLite rolled the block back.
    assert titles == (["first"] if db.backend == "postgresql" else [])


async def test_change_and_complete(db: Database, owner: int) -> None:
    later = NOW + timedelta(minutes=5)
    async with db.transaction(write=True) as tx:
        task = await tx.tasks.add(owner_id=owner, title="t", description="d", priority=1, now=NOW)
        changed = await tx.tasks.change(owner, task.id, {"description": None, "priority": 4}, now=later)
        assert changed is not None
        assert (changed.description, changed.priority, changed.updated_at) == (None, 4, later)
        completed = await tx.tasks.complete(owner, task.id, now=later + timedelta(minutes=1))
        assert completed is not None
        assert completed.completed
        again = await tx.tasks.complete(owner, task.id, now=later + timedelta(minutes=9))
        assert again == completed
        assert await tx.tasks.change(owner, 999, {"title": "x"}, now=later) is None
        with pytest.raises(ValueError, match="not updatable"):
            await tx.tasks.change(owner, task.id, {"owner_id": 5}, now=later)


async def test_every_task_query_is_scoped_to_its_owner(db: Database, owner: int) -> None:
    other = await new_user(db, "other")
    async with db.transaction(write=True) as tx:
        task = await tx.tasks.add(owner_id=owner, title="mine", description=None, priority=1, now=NOW)
        assert await tx.tasks.get(other, task.id) is None
        assert await tx.tasks.page(other, after_id=0, limit=10) == []
        assert await tx.tasks.change(other, task.id, {"title": "stolen"}, now=NOW) is None
        assert await tx.tasks.complete(other, task.id, now=NOW) is None
        assert not await tx.tasks.remove(other, task.id)
        assert await tx.tasks.get(owner, task.id) == task


async def test_usernames_are_unique_and_a_clash_keeps_the_transaction_usable(db: Database) -> None:
    async with db.transaction(write=True) as tx:
        first = await tx.users.add(username="sam", password_hash="h1", now=NOW)
        assert await tx.users.add(username="sam", password_hash="h2", now=NOW) is None
        assert await tx.users.add(username="sam2", password_hash="h3", now=NOW) is not None
    async with db.transaction() as tx:
        assert await tx.users.by_username("sam") == first


async def test_deleting_a_user_deletes_their_tasks(db: Database, owner: int, database_url: str) -> None:
    async with db.transaction(write=True) as tx:
        await tx.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
    await execute(database_url, "DELETE FROM users WHERE id = :id", {"id": owner})
    assert await execute(database_url, "SELECT count(*) FROM tasks") == [(0,)]


async def test_keyset_pages_see_rows_deleted_and_added_between_pages(db: Database, owner: int) -> None:
    async def add(title: str) -> int:
        async with db.transaction(write=True) as tx:
            return (await tx.tasks.add(owner_id=owner, title=title, description=None, priority=1, now=NOW)).id

    ids = [await add(f"t{n}") for n in range(6)]
    async with db.transaction() as tx:
        first = await tx.tasks.page(owner, after_id=0, limit=3)
    async with db.transaction(write=True) as tx:
        assert await tx.tasks.remove(owner, ids[1])
        assert await tx.tasks.remove(owner, ids[3])
    newest = await add("new")
    async with db.transaction() as tx:
        second = await tx.tasks.page(owner, after_id=first[-1].id, limit=10)
    # No row skipped or repeated because of the deletions, as OFFSET pagination would.
    assert [t.id for t in first] == ids[:3]
    assert [t.id for t in second] == [ids[4], ids[5], newest]


async def test_concurrent_writers_on_separate_connections_all_commit(database_url: str) -> None:
    # Two Database objects (each with its own connections, as two workers have) writing at once: every
    # write commits once, ids stay unique. The cross-process wait for the write lock is tested below.
    first, second = Database(database_url), Database(database_url)
    owner = await new_user(first, "writer")

    async def write(db: Database, n: int) -> int:
        async with db.transaction(write=True) as tx:
            task = await tx.tasks.add(owner_id=owner, title=f"t{n}", description=None, priority=1, now=NOW)
            await tx.tasks.change(owner, task.id, {"priority": 2}, now=NOW)
            return task.id

    try:
        ids = await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(60)))
        assert len(set(ids)) == 60
        async with first.transaction() as tx:
            rows = await tx.tasks.page(owner, after_id=0, limit=100)
        assert len(rows) == 60
        assert {row.priority for row in rows} == {2}
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_writer_waiting_for_another_process_leaves_the_event_loop_free(database_url: str) -> None:
    """Another process (a raw sqlite3 connection in a thread, here) holds the write lock for 0.3 s: our
    write waits for it without blocking the loop, so a read started meanwhile finishes first."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL has row locks and no busy timeout")
    import sqlite3
    import threading
    import time

    db = Database(database_url)
    owner = await new_user(db, "waiter")
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        other = sqlite3.connect(database_url.removeprefix("sqlite+aiosqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(5)
        time.sleep(0.3)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    locked.wait(5)
    order: list[str] = []

    async def write() -> None:
        async with db.transaction(write=True) as tx:
            await tx.tasks.add(owner_id=owner, title="waited", description=None, priority=1, now=NOW)
        order.append("write")

    async def read() -> None:
        await asyncio.sleep(0.05)
        async with db.transaction() as tx:
            await tx.tasks.page(owner, after_id=0, limit=10)
        order.append("read")

    try:
        release.set()
        await asyncio.gather(write(), read())
    finally:
        holder.join()
        await db.dispose()
    assert order == ["read", "write"]
