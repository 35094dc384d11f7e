"""The storage layer over a real, migrated database of the run's backend (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from taskapi.storage import Database, DatabaseUnavailable, DatabaseUrl, database_at
from taskapi.storage.postgres import PoolTimeout, PostgresDatabase
from taskapi.testing.databases import backend_under_test, execute
from tests.integration.conftest import new_user

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]
sqlite_only = pytest.mark.skipif(backend_under_test() != "sqlite", reason="SQLite's locks and journal")
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)


async def test_round_trip_keeps_utc_datetimes_and_booleans(db: Database, owner: int) -> None:
    # Given in another zone, read back as the same instant in UTC.
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    added = await db.tasks.add(owner_id=owner, title="t", description=None, priority=2, now=tokyo)
    assert await db.tasks.get(owner, added.id) == added
    assert added.created_at == NOW
    assert added.created_at.utcoffset() == timedelta(0)
    assert added.completed is False


async def test_a_statement_on_its_own_is_committed_when_it_returns(db: Database, owner: int, database_url: str) -> None:
    added = await db.tasks.add(owner_id=owner, title="committed", description=None, priority=1, now=NOW)
    # Another connection sees it at once.
    assert await execute(database_url, "SELECT title FROM tasks WHERE id = :id", {"id": added.id}) == [("committed",)]


async def test_a_transaction_commits_together_or_not_at_all(db: Database, owner: int) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.tasks.add(owner_id=owner, title="first", description=None, priority=1, now=NOW)
            await tx.tasks.add(owner_id=owner, title="second", description=None, priority=1, now=NOW)
            raise RuntimeError("abort")
    assert await db.tasks.page(owner, after_id=0, limit=10) == []
    async with db.transaction() as tx:
        await tx.tasks.add(owner_id=owner, title="first", description=None, priority=1, now=NOW)
        await tx.tasks.add(owner_id=owner, title="second", description=None, priority=1, now=NOW)
    assert [task.title for task in await db.tasks.page(owner, after_id=0, limit=10)] == ["first", "second"]


async def test_change_and_complete(db: Database, owner: int) -> None:
    later = NOW + timedelta(minutes=5)
    task = await db.tasks.add(owner_id=owner, title="t", description="d", priority=1, now=NOW)
    changed = await db.tasks.change(owner, task.id, {"description": None, "priority": 4}, now=later)
    assert changed is not None
    assert (changed.description, changed.priority, changed.updated_at) == (None, 4, later)
    completed = await db.tasks.complete(owner, task.id, now=later + timedelta(minutes=1))
    assert completed is not None
    assert completed.completed
    assert completed.updated_at == later + timedelta(minutes=1)
    # Completing again changes nothing, updated_at included.
    assert await db.tasks.complete(owner, task.id, now=later + timedelta(minutes=9)) == completed
    assert await db.tasks.change(owner, 999, {"title": "x"}, now=later) is None
    assert await db.tasks.complete(owner, 999, now=later) is None
    with pytest.raises(ValueError, match="not updatable"):
        await db.tasks.change(owner, task.id, {"owner_id": 5}, now=later)


async def test_every_task_query_is_scoped_to_its_owner(db: Database, owner: int) -> None:
    other = await new_user(db, "other")
    task = await db.tasks.add(owner_id=owner, title="mine", description=None, priority=1, now=NOW)
    assert await db.tasks.get(other, task.id) is None
    assert await db.tasks.page(other, after_id=0, limit=10) == []
    assert await db.tasks.change(other, task.id, {"title": "stolen"}, now=NOW) is None
    assert await db.tasks.complete(other, task.id, now=NOW) is None
    assert not await db.tasks.remove(other, task.id)
    assert await db.tasks.get(owner, task.id) == task


async def test_usernames_are_unique_and_a_clash_keeps_the_transaction_usable(db: Database) -> None:
    async with db.transaction() as tx:
        first = await tx.users.add(username="sam", password_hash="h1", now=NOW)
        assert await tx.users.add(username="sam", password_hash="h2", now=NOW) is None
        assert await tx.users.add(username="sam2", password_hash="h3", now=NOW) is not None
    assert await db.users.by_username("sam") == first
    assert await db.users.add(username="sam", password_hash="h4", now=NOW) is None


async def test_deleting_a_user_deletes_their_tasks(db: Database, owner: int, database_url: str) -> None:
    await db.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
    await execute(database_url, "DELETE FROM users WHERE id = :id", {"id": owner})
    assert await execute(database_url, "SELECT count(*) FROM tasks") == [(0,)]


async def test_keyset_pages_see_rows_deleted_and_added_between_pages(db: Database, owner: int) -> None:
    async def add(title: str) -> int:
        return (await db.tasks.add(owner_id=owner, title=title, description=None, priority=1, now=NOW)).id

    ids = [await add(f"t{n}") for n in range(6)]
    first = await db.tasks.page(owner, after_id=0, limit=3)
    assert await db.tasks.remove(owner, ids[1])
    assert await db.tasks.remove(owner, ids[3])
    newest = await add("new")
    second = await db.tasks.page(owner, after_id=first[-1].id, limit=10)
    # No row skipped or repeated because of the deletions, as OFFSET pagination would.
    assert [t.id for t in first] == ids[:3]
    assert [t.id for t in second] == [ids[4], ids[5], newest]


async def test_concurrent_writers_on_separate_connections_all_commit(database_url: str) -> None:
    # Two databases (each with its own connections, as two workers have) writing at once, in single
    # statements and in transactions: every write commits once, ids stay unique.
    first, second = database_at(database_url), database_at(database_url)
    await first.open()
    await second.open()
    owner = await new_user(first, "writer")

    async def write(db: Database, n: int) -> int:
        if n % 3:
            return (await db.tasks.add(owner_id=owner, title=f"t{n}", description=None, priority=2, now=NOW)).id
        async with db.transaction() as tx:
            task = await tx.tasks.add(owner_id=owner, title=f"t{n}", description=None, priority=1, now=NOW)
            await tx.tasks.change(owner, task.id, {"priority": 2}, now=NOW)
            return task.id

    try:
        ids = await asyncio.gather(*(write(first if n % 2 else second, n) for n in range(60)))
        assert len(set(ids)) == 60
        rows = await first.tasks.page(owner, after_id=0, limit=100)
        assert len(rows) == 60
        assert {row.priority for row in rows} == {2}
    finally:
        await first.close()
        await second.close()


@sqlite_only
@pytest.mark.parametrize("kind", ["statement", "transaction"])
async def test_a_writer_waiting_for_another_process_leaves_the_event_loop_free(
    db: Database, owner: int, database_url: str, kind: str
) -> None:
    """Another process (a raw sqlite3 connection, here) holds the write lock: our write waits for it
    without blocking the event loop, so reads go on meanwhile, and it commits once the lock is free."""
    other = sqlite3.connect(DatabaseUrl.parse(database_url).sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        if kind == "statement":
            await db.tasks.add(owner_id=owner, title="waited", description=None, priority=1, now=NOW)
        else:
            async with db.transaction() as tx:
                await tx.tasks.add(owner_id=owner, title="waited", description=None, priority=1, now=NOW)

    try:
        writing = asyncio.create_task(write())
        await asyncio.sleep(0)  # the write's first attempt finds the lock taken
        assert not writing.done()
        assert await db.tasks.page(owner, after_id=0, limit=10) == []  # a read, served meanwhile
        assert not writing.done()
    finally:
        other.execute("COMMIT")
        other.close()
    await asyncio.wait_for(writing, timeout=10)
    assert [task.title for task in await db.tasks.page(owner, after_id=0, limit=10)] == ["waited"]


@sqlite_only
async def test_a_writer_gives_up_after_the_busy_timeout(database_url: str) -> None:
    db = database_at(database_url, sqlite_busy_timeout_ms=50)
    await db.open()
    other = sqlite3.connect(DatabaseUrl.parse(database_url).sqlite_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseUnavailable, match="locked"):  # a 503, not a 500
            await asyncio.wait_for(db.users.add(username="late", password_hash="h", now=NOW), timeout=10)
    finally:
        other.execute("ROLLBACK")
        other.close()
        await db.close()


@sqlite_only
async def test_sqlite_without_wal_is_refused(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem without the shared-memory locks WAL needs (some network filesystems) keeps SQLite in
    `delete` mode; simulated with SQLite's `nolock` option. The database refuses to open."""
    real_connect = sqlite3.connect

    def without_locks(path: str, **options: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = real_connect(f"file:{path}?nolock=1", uri=True, **options)
        return connection

    fresh = DatabaseUrl.parse(database_url).sqlite_path + ".fresh"
    monkeypatch.setattr("taskapi.storage.sqlite.sqlite3.connect", without_locks)
    db = database_at(f"sqlite:///{fresh}")
    with pytest.raises(RuntimeError, match="could not switch to WAL journaling"):
        await db.open()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite://", "mysql://x@y/z", "::"])
def test_urls_taskapi_cannot_serve_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"SQLite needs a database file|not a database"):
        DatabaseUrl.parse(url)


@pytest.mark.parametrize(
    ("url", "backend", "sqlalchemy"),
    [
        ("sqlite:///var/t.db", "sqlite", "sqlite+pysqlite:///var/t.db"),
        ("sqlite+aiosqlite:///var/t.db", "sqlite", "sqlite+pysqlite:///var/t.db"),
        ("sqlite:////abs/t.db", "sqlite", "sqlite+pysqlite:////abs/t.db"),
        ("postgresql://u:p@h:5432/d", "postgresql", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql", "postgresql+asyncpg://u@h/d"),
        ("postgres://u@h/d", "postgresql", "postgresql+asyncpg://u@h/d"),
    ],
)
def test_old_and_new_urls_name_the_same_database(url: str, backend: str, sqlalchemy: str) -> None:
    parsed = DatabaseUrl.parse(url)
    assert (parsed.backend, parsed.sqlalchemy) == (backend, sqlalchemy)
    if backend == "postgresql":
        assert parsed.postgres_dsn.startswith("postgresql://")


postgres_only = pytest.mark.skipif(backend_under_test() != "postgresql", reason="PostgreSQL's connection pool")


@postgres_only
async def test_connections_are_handed_out_first_come_first_served(database_url: str) -> None:
    db = database_at(database_url, pool_size=1)
    assert isinstance(db, PostgresDatabase)
    await db.open()
    served: list[str] = []

    async def wait(name: str) -> None:
        async with db.connection():
            served.append(name)

    try:
        async with db.connection():  # the only connection, taken
            waiting = [asyncio.create_task(wait(name)) for name in ("first", "second", "third")]
            await asyncio.sleep(0)  # each reaches the queue, in order
        # Released: a newcomer arriving now must not barge ahead of those already waiting.
        late = asyncio.create_task(wait("newcomer"))
        await asyncio.wait_for(asyncio.gather(*waiting, late), timeout=10)
    finally:
        await db.close()
    assert served == ["first", "second", "third", "newcomer"]


@postgres_only
async def test_a_request_waits_for_a_connection_at_most_the_pool_timeout(database_url: str, owner: int) -> None:
    db = database_at(database_url, pool_size=1, pool_timeout=0.2)
    assert isinstance(db, PostgresDatabase)
    await db.open()
    try:
        async with db.connection():
            with pytest.raises(PoolTimeout, match=r"no connection was free within 0\.2 s"):
                await asyncio.wait_for(db.tasks.get(owner, 1), timeout=10)
        assert await db.tasks.get(owner, 1) is None  # and the pool is fine afterwards
    finally:
        await db.close()
