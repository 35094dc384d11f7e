"""Task versions and conditional writes, over a real, migrated database of the run's backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from taskapi.storage import Database, StaleVersion, TaskRecord, database_at
from taskapi.storage.migrate import upgrade
from taskapi.testing.databases import execute
from tests.integration.conftest import new_user

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)


@pytest.fixture
async def task(db: Database, owner: int) -> TaskRecord:
    return await db.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)


async def test_a_new_task_is_at_version_1_in_every_read(db: Database, owner: int, task: TaskRecord) -> None:
    assert task.version == 1
    assert await db.tasks.get(owner, task.id) == task
    assert await db.tasks.page(owner, after_id=0, limit=10) == [task]


async def test_every_change_raises_the_version(db: Database, owner: int, task: TaskRecord) -> None:
    first = await db.tasks.change(owner, task.id, {"title": "t2"}, now=LATER)
    assert first is not None
    assert (first.title, first.version) == ("t2", 2)
    # A change that sets a column to the value it has is still a change.
    second = await db.tasks.change(owner, task.id, {"title": "t2"}, now=LATER)
    assert second is not None
    assert second.version == 3
    assert await db.tasks.get(owner, task.id) == second


async def test_completing_raises_the_version_once(db: Database, owner: int, task: TaskRecord) -> None:
    completed = await db.tasks.complete(owner, task.id, now=LATER)
    assert completed is not None
    assert (completed.completed, completed.version) == (True, 2)
    again = await db.tasks.complete(owner, task.id, now=LATER + timedelta(minutes=1))
    assert again == completed


async def test_a_write_at_a_version_given_happens(db: Database, owner: int, task: TaskRecord) -> None:
    changed = await db.tasks.change(owner, task.id, {"priority": 5}, now=LATER, versions=[1])
    assert changed is not None
    assert (changed.priority, changed.version, changed.updated_at) == (5, 2, LATER)
    completed = await db.tasks.complete(owner, task.id, now=LATER, versions=(2,))
    assert completed is not None
    assert (completed.completed, completed.version) == (True, 3)
    # Completing a completed task at its version: it is left exactly as it is.
    assert await db.tasks.complete(owner, task.id, now=LATER + timedelta(hours=1), versions={3}) == completed
    assert await db.tasks.remove(owner, task.id, versions=[3])
    assert await db.tasks.get(owner, task.id) is None


async def test_a_write_at_a_stale_version_is_refused_with_the_task_as_it_is(
    db: Database, owner: int, task: TaskRecord
) -> None:
    current = await db.tasks.change(owner, task.id, {"title": "new"}, now=LATER)
    assert current is not None
    with pytest.raises(StaleVersion) as change:
        await db.tasks.change(owner, task.id, {"title": "lost update"}, now=LATER, versions=[1])
    assert change.value.current == current
    with pytest.raises(StaleVersion) as complete:
        await db.tasks.complete(owner, task.id, now=LATER, versions=[1])
    assert complete.value.current == current
    with pytest.raises(StaleVersion) as remove:
        await db.tasks.remove(owner, task.id, versions=[1])
    assert remove.value.current == current
    assert await db.tasks.get(owner, task.id) == current


async def test_any_of_several_versions_will_do(db: Database, owner: int, task: TaskRecord) -> None:
    changed = await db.tasks.change(owner, task.id, {"title": "a"}, now=LATER, versions=[7, 1, 1, 4])
    assert changed is not None
    assert changed.version == 2
    with pytest.raises(StaleVersion):
        await db.tasks.change(owner, task.id, {"title": "b"}, now=LATER, versions=[1, 3, 4, 5])
    # One more version than before: a statement of its own, as correct as the others.
    changed = await db.tasks.change(owner, task.id, {"title": "c"}, now=LATER, versions=list(range(1, 200)))
    assert changed is not None
    assert (changed.title, changed.version) == ("c", 3)


async def test_no_versions_match_no_write(db: Database, owner: int, task: TaskRecord) -> None:
    with pytest.raises(StaleVersion) as refused:
        await db.tasks.change(owner, task.id, {"title": "x"}, now=LATER, versions=[])
    assert refused.value.current == task
    with pytest.raises(StaleVersion):
        await db.tasks.complete(owner, task.id, now=LATER, versions=())
    with pytest.raises(StaleVersion):
        await db.tasks.remove(owner, task.id, versions=set())
    assert await db.tasks.get(owner, task.id) == task
    assert await db.tasks.change(owner, 999, {"title": "x"}, now=LATER, versions=[]) is None
    assert await db.tasks.complete(owner, 999, now=LATER, versions=[]) is None
    assert not await db.tasks.remove(owner, 999, versions=[])


async def test_versions_no_task_can_be_at_are_stale_not_errors(db: Database, owner: int, task: TaskRecord) -> None:
    for versions in ([0], [-1], [2**31], [2**40], [2**70]):
        with pytest.raises(StaleVersion):
            await db.tasks.change(owner, task.id, {"title": "x"}, now=LATER, versions=versions)
    changed = await db.tasks.change(owner, task.id, {"title": "y"}, now=LATER, versions=[2**70, 1])
    assert changed is not None
    assert changed.version == 2


async def test_another_owners_task_is_missing_whatever_the_versions(db: Database, owner: int, task: TaskRecord) -> None:
    other = await new_user(db, "other")
    for versions in ([1], [2], [], [1, 2]):
        assert await db.tasks.change(other, task.id, {"title": "stolen"}, now=LATER, versions=versions) is None
        assert await db.tasks.complete(other, task.id, now=LATER, versions=versions) is None
        assert not await db.tasks.remove(other, task.id, versions=versions)
    assert await db.tasks.change(owner, 999, {"title": "x"}, now=LATER, versions=[1]) is None
    assert await db.tasks.get(owner, task.id) == task


async def test_a_conditional_write_in_a_transaction(db: Database, owner: int, task: TaskRecord) -> None:
    async with db.transaction() as tx:
        changed = await tx.tasks.change(owner, task.id, {"title": "in tx"}, now=LATER, versions=[1])
        assert changed is not None
        with pytest.raises(StaleVersion) as refused:
            await tx.tasks.change(owner, task.id, {"title": "again"}, now=LATER, versions=[1])
        assert refused.value.current == changed
    assert await db.tasks.get(owner, task.id) == changed


async def test_of_concurrent_writers_at_one_version_exactly_one_wins(database_url: str) -> None:
    # Ten connections on PostgreSQL: the writes really run at once.
    db = database_at(database_url, pool_size=10)
    await db.open()
    try:
        owner = await new_user(db, "racer")
        task = await db.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)

        async def write(n: int) -> TaskRecord | StaleVersion:
            try:
                changed = await db.tasks.change(owner, task.id, {"title": f"writer {n}"}, now=LATER, versions=[1])
            except StaleVersion as exc:
                return exc
            assert changed is not None
            return changed

        results = await asyncio.gather(*(write(n) for n in range(10)))
        winners = [result for result in results if isinstance(result, TaskRecord)]
        losers = [result for result in results if isinstance(result, StaleVersion)]
        assert len(winners) == 1
        assert len(losers) == 9
        assert winners[0].version == 2
        assert {loser.current for loser in losers} == {winners[0]}
        assert await db.tasks.get(owner, task.id) == winners[0]
    finally:
        await db.close()


def test_tasks_from_before_versions_start_at_version_1(empty_database_url: str) -> None:
    url = empty_database_url
    upgrade(url, "0002")
    asyncio.run(
        execute(url, "INSERT INTO users (username, password_hash, created_at) VALUES ('u', 'h', '2026-01-01 00:00:00')")
    )
    asyncio.run(
        execute(
            url,
            "INSERT INTO tasks (owner_id, title, description, priority, completed, created_at, updated_at) "
            "VALUES (1, 'old', NULL, 3, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        )
    )
    upgrade(url)
    assert asyncio.run(execute(url, "SELECT title, version FROM tasks")) == [("old", 1)]
