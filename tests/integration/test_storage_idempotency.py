"""Idempotency keys (hold, keep, purge) over a real, migrated database of the run's backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from taskapi.storage import (
    Database,
    Executor,
    IdempotencyRepository,
    InFlight,
    Kept,
    Mismatch,
    Outcome,
    OwnerMissing,
    Query,
    Replay,
    database_at,
)
from taskapi.storage.idempotency import lock_key
from taskapi.storage.sql import Row
from taskapi.testing.databases import backend_under_test, execute
from tests.integration.conftest import new_user

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]
postgres_only = pytest.mark.skipif(backend_under_test() != "postgresql", reason="PostgreSQL's advisory locks")
# Microseconds, to see that they are kept.
NOW = datetime(2026, 11, 30, 9, 30, 0, 123456, tzinfo=UTC)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
OP = "createTask"
OPS = ("createTask", "updateTask")


async def keep(
    db: Database,
    owner: int,
    key: str,
    fingerprint: int,
    *,
    now: datetime = NOW,
    resource_id: int = 1,
    operation: str = OP,
) -> Outcome:
    """Keep `key` in a transaction of its own at `now`, for a day."""
    async with db.transaction() as tx:
        return await tx.idempotency.keep(
            owner, operation, key, fingerprint, now=now, expires_at=now + DAY, resource_id=resource_id
        )


async def kept_keys(database_url: str) -> list[tuple[Any, ...]]:
    """(owner, operation, key, fingerprint, resource_id) of every key in the table, as committed."""
    return await execute(
        database_url,
        "SELECT owner_id, operation, key, fingerprint, resource_id FROM idempotency_keys "
        "ORDER BY owner_id, operation, key",
    )


class Undo(Exception):
    """Rolls back a transaction whose key holds another request's response."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__("the key holds another response")
        self.outcome = outcome


async def test_a_new_key_is_kept_and_commits_with_its_transaction(db: Database, owner: int, database_url: str) -> None:
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    async with db.transaction() as tx:
        task = await tx.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
        kept = await tx.idempotency.keep(owner, OP, "k1", 1001, now=tokyo, expires_at=NOW + DAY, resource_id=task.id)
        assert kept == Kept()
        assert await kept_keys(database_url) == []  # not yet committed
    assert await kept_keys(database_url) == [(owner, OP, "k1", 1001, task.id)]

    async with db.transaction() as tx:
        replay = await tx.idempotency.keep(
            owner, OP, "k1", 1001, now=NOW + DAY / 2, expires_at=NOW + DAY + DAY / 2, resource_id=task.id + 1
        )
    # What the first request created, and when: the same instant, read back in UTC.
    assert replay == Replay(resource_id=task.id, created_at=NOW)
    assert isinstance(replay, Replay)
    assert replay.created_at.utcoffset() == timedelta(0)
    assert await kept_keys(database_url) == [(owner, OP, "k1", 1001, task.id)]  # a replay changes nothing


async def test_a_key_kept_for_another_body_is_a_mismatch(db: Database, owner: int, database_url: str) -> None:
    assert await keep(db, owner, "k1", 1001, resource_id=1) == Kept()
    assert await keep(db, owner, "k1", 1002, resource_id=2) == Mismatch()
    assert await keep(db, owner, "k1", 1001, resource_id=3) == Replay(resource_id=1, created_at=NOW)
    assert await kept_keys(database_url) == [(owner, OP, "k1", 1001, 1)]


async def test_keys_are_per_owner_and_operation(db: Database, owner: int, database_url: str) -> None:
    other = await new_user(db, "other")
    assert await keep(db, owner, "k1", 1001, resource_id=1) == Kept()
    assert await keep(db, other, "k1", 1001, resource_id=2) == Kept()
    assert await keep(db, owner, "k1", 1009, resource_id=3, operation="updateTask") == Kept()
    assert await keep(db, other, "k1", 1001) == Replay(resource_id=2, created_at=NOW)
    assert await keep(db, owner, "k1", 1009, operation="updateTask") == Replay(resource_id=3, created_at=NOW)
    assert await kept_keys(database_url) == [
        (owner, OP, "k1", 1001, 1),
        (owner, "updateTask", "k1", 1009, 3),
        (other, OP, "k1", 1001, 2),
    ]


async def test_a_transaction_that_fails_leaves_its_key_free(db: Database, owner: int, database_url: str) -> None:
    with pytest.raises(RuntimeError, match="the request failed"):
        async with db.transaction() as tx:
            task = await tx.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
            kept = await tx.idempotency.keep(owner, OP, "k1", 1001, now=NOW, expires_at=NOW + DAY, resource_id=task.id)
            assert kept == Kept()
            raise RuntimeError("the request failed")
    assert await kept_keys(database_url) == []
    assert await db.tasks.page(owner, after_id=0, limit=10) == []
    assert await keep(db, owner, "k1", 1002, resource_id=7) == Kept()  # a retry, with any body
    assert await keep(db, owner, "k1", 1002) == Replay(resource_id=7, created_at=NOW)


@pytest.mark.parametrize("fingerprint", [1001, 1002], ids=["same body", "other body"])
async def test_an_expired_key_is_kept_afresh(db: Database, owner: int, database_url: str, fingerprint: int) -> None:
    assert await keep(db, owner, "k1", 1001, resource_id=1) == Kept()
    expires = NOW + DAY
    # Until it expires, it is the first request's.
    assert await keep(db, owner, "k1", 1002, now=expires - TICK) == Mismatch()
    assert await keep(db, owner, "k1", 1001, now=expires - TICK) == Replay(resource_id=1, created_at=NOW)
    # At its expiry, whatever the body, it is replaced: the new request's, for a day from now.
    assert await keep(db, owner, "k1", fingerprint, now=expires, resource_id=2) == Kept()
    assert await kept_keys(database_url) == [(owner, OP, "k1", fingerprint, 2)]
    replay = Replay(resource_id=2, created_at=expires)
    assert await keep(db, owner, "k1", fingerprint, now=expires + DAY - TICK, resource_id=3) == replay
    if fingerprint != 1001:
        assert await keep(db, owner, "k1", 1001, now=expires + TICK) == Mismatch()
    assert await keep(db, owner, "k1", fingerprint, now=expires + DAY, resource_id=4) == Kept()


async def test_purge_deletes_the_expired_keys_only(db: Database, owner: int, database_url: str) -> None:
    other = await new_user(db, "other")
    expiring = {"gone": NOW - DAY, "at-now": NOW, "tick-after": NOW + TICK, "day-after": NOW + DAY}
    for key, expires_at in expiring.items():
        assert await keep(db, owner, key, 7, now=expires_at - DAY) == Kept()
    assert await keep(db, other, "theirs", 7, now=NOW - DAY) == Kept()  # every owner's
    assert await db.idempotency.purge(NOW) == 3
    assert await kept_keys(database_url) == [(owner, OP, "day-after", 7, 1), (owner, OP, "tick-after", 7, 1)]
    assert await db.idempotency.purge(NOW) == 0


@pytest.mark.parametrize("step", [1, 2, 3, 1000])
async def test_purge_walks_the_whole_table_in_steps(db: Database, owner: int, database_url: str, step: int) -> None:
    other = await new_user(db, "other")
    for n in range(7):  # expired and live keys interleaved, across owners and operations
        expires_at = NOW - DAY if n % 2 == 0 else NOW + DAY
        assert (
            await keep(db, owner if n < 4 else other, f"k{n}", 7, now=expires_at - DAY, operation=OPS[n % 2]) == Kept()
        )
    assert await db.idempotency.purge(NOW, step=step) == 4
    assert sorted(row[2] for row in await kept_keys(database_url)) == ["k1", "k3", "k5"]


async def test_deleting_a_user_deletes_their_keys(db: Database, owner: int, database_url: str) -> None:
    other = await new_user(db, "other")
    assert await keep(db, owner, "k1", 1001) == Kept()
    assert await keep(db, other, "k1", 1001) == Kept()
    await execute(database_url, "DELETE FROM users WHERE id = :id", {"id": owner})
    assert await kept_keys(database_url) == [(other, OP, "k1", 1001, 1)]


async def test_a_key_of_a_user_that_does_not_exist_is_refused(db: Database, database_url: str) -> None:
    with pytest.raises(OwnerMissing):
        await keep(db, 999, "k1", 1001)
    assert await kept_keys(database_url) == []


class AroundRead:
    """An executor that runs `before` just before the first read and `after` just after it: the moments
    around `keep` reading whose the key it found taken is."""

    def __init__(
        self, sql: Executor, before: Callable[[], Awaitable[None]], after: Callable[[], Awaitable[None]]
    ) -> None:
        self._sql = sql
        self._around: tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]] | None = (before, after)

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        if query.writes or self._around is None:
            return await self._sql.one(query, params)
        (before, after), self._around = self._around, None
        await before()
        row = await self._sql.one(query, params)
        await after()
        return row

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        return await self._sql.all(query, params)

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        return await self._sql.run(query, params)

    async def try_lock(self, key: int) -> bool:
        return await self._sql.try_lock(key)


@pytest.mark.parametrize(
    ("kept_again", "outcome"), [(False, Kept()), (True, InFlight())], ids=["purged", "purged and kept again"]
)
async def test_a_key_purged_while_it_is_kept(
    db: Database, owner: int, database_url: str, kept_again: bool, outcome: Outcome
) -> None:
    assert await keep(db, owner, "k1", 1001, resource_id=1) == Kept()
    later = NOW + DAY / 2

    async def purge() -> None:  # by a worker whose clock runs a day ahead
        assert await db.idempotency.purge(NOW + DAY) == 1

    async def another_request() -> None:
        if kept_again:
            assert await keep(db, owner, "k1", 1003, now=later, resource_id=3) == Kept()

    racing = IdempotencyRepository(AroundRead(db.idempotency._sql, purge, another_request))
    result = await racing.keep(owner, OP, "k1", 1002, now=later, expires_at=later + DAY, resource_id=2)
    # Gone when read: kept after all, unless another request kept it first (then: still running).
    assert result == outcome
    assert await kept_keys(database_url) == [(owner, OP, "k1", 1003, 3) if kept_again else (owner, OP, "k1", 1002, 2)]


async def test_a_key_is_held_only_in_a_transaction(db: Database, owner: int) -> None:
    with pytest.raises(RuntimeError, match="needs a transaction"):
        await db.idempotency.hold(owner, OP, "k1")
    async with db.transaction() as tx:
        assert await tx.idempotency.hold(owner, OP, "k1") is True


async def advisory_locks(database_url: str) -> list[tuple[Any, ...]]:
    """The 64-bit names of the advisory locks held on the test's database."""
    return await execute(
        database_url,
        "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks "
        "WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )


@postgres_only
@pytest.mark.parametrize("ends", ["commit", "rollback"])
async def test_a_held_key_cannot_be_held_again_until_its_transaction_ends(
    db: Database, owner: int, database_url: str, ends: str
) -> None:
    other = await new_user(db, "other")
    held, finish = asyncio.Event(), asyncio.Event()

    async def first_request() -> None:
        async with db.transaction() as tx:
            assert await tx.idempotency.hold(owner, OP, "k1") is True
            held.set()
            await finish.wait()
            if ends == "rollback":
                raise Undo(Mismatch())

    first = asyncio.create_task(first_request())
    try:
        async with asyncio.timeout(10):
            await held.wait()
        assert await advisory_locks(database_url) == [(lock_key(owner, OP, "k1"),)]
        async with db.transaction() as tx:
            assert await tx.idempotency.hold(owner, OP, "k1") is False
            assert await tx.idempotency.hold(owner, OP, "k2") is True
            assert await tx.idempotency.hold(other, OP, "k1") is True
            assert await tx.idempotency.hold(owner, "updateTask", "k1") is True
    finally:
        finish.set()
        if ends == "rollback":
            with pytest.raises(Undo):
                await first
        else:
            await first
    assert await advisory_locks(database_url) == []  # transaction-scoped: nothing outlives it
    async with db.transaction() as tx:
        assert await tx.idempotency.hold(owner, OP, "k1") is True


async def create_once(db: Database, owner: int, n: int) -> Outcome:
    """What POST /tasks with an Idempotency-Key does with the storage (handlers/tasks.py): hold the key,
    create the task, keep the key; roll back unless it was kept."""
    try:
        async with db.transaction() as tx:
            if not await tx.idempotency.hold(owner, OP, "k1"):
                return InFlight()
            task = await tx.tasks.add(owner_id=owner, title=f"t{n}", description=None, priority=1, now=NOW)
            await asyncio.sleep(0.01)  # the rest of the request: the others arrive meanwhile
            outcome = await tx.idempotency.keep(
                owner, OP, "k1", 1001, now=NOW, expires_at=NOW + DAY, resource_id=task.id
            )
            if outcome != Kept():
                raise Undo(outcome)
    except Undo as undo:
        return undo.outcome
    return outcome


@pytest.mark.parametrize("expired", [False, True], ids=["new key", "expired key"])
async def test_of_concurrent_requests_with_one_key_exactly_one_creates(database_url: str, expired: bool) -> None:
    # Ten connections on PostgreSQL: the transactions really run at once.
    db = database_at(database_url, pool_size=10)
    await db.open()
    try:
        owner = await new_user(db, "racer")
        if expired:
            assert await keep(db, owner, "k1", 999, now=NOW - 2 * DAY, resource_id=0) == Kept()
        outcomes = await asyncio.gather(*(create_once(db, owner, n) for n in range(10)))
        (task,) = await db.tasks.page(owner, after_id=0, limit=20)
    finally:
        await db.close()
    assert outcomes.count(Kept()) == 1
    replay = Replay(resource_id=task.id, created_at=NOW)
    if backend_under_test() == "sqlite":
        # One writer at a time: each of the others runs after the first has committed.
        assert outcomes.count(replay) == 9
    else:
        # Held by a running request (InFlight), or run after it committed (Replay).
        assert outcomes.count(InFlight()) + outcomes.count(replay) == 9
    assert await kept_keys(database_url) == [(owner, OP, "k1", 1001, task.id)]


def test_lock_keys_are_stable_signed_64_bit_numbers() -> None:
    # Workers of two releases must name a key's lock alike, or both would run a request meanwhile.
    assert lock_key(1, OP, "k1") == lock_key(1, OP, "k1") == 9088170231427977689
    keys = [lock_key(owner, OP, f"key-{n}") for owner in (1, 2**62) for n in range(64)]
    assert all(-(2**63) <= key < 2**63 for key in keys)
    assert min(keys) < 0 < max(keys)
    assert len(set(keys)) == len(keys)


def test_lock_keys_differ_by_owner_operation_and_key() -> None:
    variants = [
        (1, OP, "k1"),
        (2, OP, "k1"),
        (1, "updateTask", "k1"),
        (1, OP, "k2"),
        # The parts are kept apart: moving characters from one to the next names another lock.
        (11, OP, "k1"),
        (1, "1" + OP, "k1"),
        (1, OP + "k", "1"),
    ]
    assert len({lock_key(*variant) for variant in variants}) == len(variants)
