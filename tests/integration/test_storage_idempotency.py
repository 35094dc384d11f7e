"""Idempotency keys over a real, migrated database of the run's backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskapi.storage import (
    Claim,
    Claimed,
    Database,
    Executor,
    IdempotencyRepository,
    InFlight,
    Mismatch,
    OwnerMissing,
    Query,
    Replay,
    database_at,
)
from taskapi.storage.sql import Row
from taskapi.testing.databases import execute

pytestmark = pytest.mark.anyio
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)
STALE = timedelta(minutes=5)
OP = "createTask"
HEADERS = {"Location": "/tasks/1", "ETag": '"1"', "Content-Type": "application/json"}
BODY = '{"id":1,"title":"caf\u00e9"}'


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = database_at(database_url)
    await database.open()
    yield database
    await database.close()


async def new_user(db: Database, username: str) -> int:
    user = await db.users.add(username=username, password_hash="$argon2id$fake", now=NOW)
    assert user is not None
    return user.id


@pytest.fixture
async def owner(db: Database) -> int:
    return await new_user(db, "owner")


async def claim(db: Database, owner: int, key: str, fingerprint: str, now: datetime = NOW) -> Claim:
    """A claim at `now` kept for a day, taking over claims left in flight for longer than STALE."""
    return await db.idempotency.claim(
        owner, OP, key, fingerprint, now=now, expires_at=now + DAY, stale_before=now - STALE
    )


async def test_a_new_key_is_claimed_then_in_flight_until_its_response_is_kept(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()
    assert await claim(db, owner, "k1", "f1", NOW + timedelta(seconds=1)) == InFlight()
    await db.idempotency.record(owner, OP, "k1", status=201, headers=HEADERS, body=BODY)
    replay = await claim(db, owner, "k1", "f1", NOW + timedelta(hours=1))
    assert replay == Replay(status=201, headers=HEADERS, body=BODY)
    assert isinstance(replay, Replay)
    assert list(replay.headers) == list(HEADERS)  # in the order given


async def test_a_key_used_with_another_body_is_a_mismatch(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()
    assert await claim(db, owner, "k1", "f2") == Mismatch()  # while the first runs
    await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="{}")
    assert await claim(db, owner, "k1", "f2") == Mismatch()  # and once it has run
    assert await claim(db, owner, "k1", "f1") == Replay(status=201, headers={}, body="{}")


async def test_keys_are_per_owner_and_operation(db: Database, owner: int) -> None:
    other = await new_user(db, "other")
    assert await claim(db, owner, "k1", "f1") == Claimed()
    assert await claim(db, other, "k1", "f1") == Claimed()
    assert await claim(db, other, "k1", "f2") == Mismatch()
    other_operation = await db.idempotency.claim(
        owner, "updateTask", "k1", "f9", now=NOW, expires_at=NOW + DAY, stale_before=NOW - STALE
    )
    assert other_operation == Claimed()
    await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="mine")
    assert await claim(db, other, "k1", "f1") == InFlight()  # the other owner's is untouched


async def test_an_expired_key_is_claimed_afresh(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()
    await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="old")
    assert await claim(db, owner, "k1", "f2", NOW + DAY - timedelta(microseconds=1)) == Mismatch()
    # At its expiry, with any body.
    taken = NOW + DAY
    assert await claim(db, owner, "k1", "f2", taken) == Claimed()
    # In flight again, kept for a day from the takeover, under the new fingerprint.
    assert await claim(db, owner, "k1", "f2", taken + timedelta(seconds=1)) == InFlight()
    assert await claim(db, owner, "k1", "f1", taken + timedelta(seconds=1)) == Mismatch()
    await db.idempotency.record(owner, OP, "k1", status=200, headers={"X": "y"}, body="new")
    assert await claim(db, owner, "k1", "f2", taken + DAY - timedelta(seconds=1)) == Replay(
        status=200, headers={"X": "y"}, body="new"
    )


async def test_a_claim_left_in_flight_too_long_is_taken_over(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()
    assert await claim(db, owner, "k1", "f1", NOW + STALE) == InFlight()  # not yet stale
    later = NOW + STALE + timedelta(seconds=1)
    assert await claim(db, owner, "k1", "f1", later) == Claimed()
    assert await claim(db, owner, "k1", "f1", later + timedelta(seconds=1)) == InFlight()
    # A finished request is never stale: it is replayed until it expires.
    await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="done")
    assert await claim(db, owner, "k1", "f1", later + timedelta(hours=2)) == Replay(status=201, headers={}, body="done")


async def test_a_released_key_can_be_claimed_again(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()
    await db.idempotency.release(owner, OP, "k1")
    assert await claim(db, owner, "k1", "f2") == Claimed()
    await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="kept")
    # A key with a response is not released.
    await db.idempotency.release(owner, OP, "k1")
    assert await claim(db, owner, "k1", "f2") == Replay(status=201, headers={}, body="kept")


async def test_the_response_commits_with_the_task_or_not_at_all(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await tx.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
            await tx.idempotency.record(owner, OP, "k1", status=201, headers={}, body="lost")
            raise RuntimeError("abort")
    assert await claim(db, owner, "k1", "f1") == InFlight()
    assert await db.tasks.page(owner, after_id=0, limit=10) == []
    async with db.transaction() as tx:
        task = await tx.tasks.add(owner_id=owner, title="t", description=None, priority=1, now=NOW)
        await tx.idempotency.record(owner, OP, "k1", status=201, headers={}, body=str(task.id))
    assert await claim(db, owner, "k1", "f1") == Replay(status=201, headers={}, body=str(task.id))
    assert await db.tasks.page(owner, after_id=0, limit=10) == [task]


async def test_purge_deletes_the_expired_keys_only(db: Database, owner: int, database_url: str) -> None:
    for n, claimed_at in enumerate([NOW - 2 * DAY, NOW - DAY, NOW - DAY + timedelta(seconds=1), NOW]):
        assert await claim(db, owner, f"k{n}", "f", claimed_at) == Claimed()
    await db.idempotency.record(owner, OP, "k0", status=201, headers={}, body="{}")
    assert await db.idempotency.purge(NOW) == 2  # expired before now, and at now
    rows = await execute(database_url, "SELECT key FROM idempotency_keys ORDER BY key")
    assert rows == [("k2",), ("k3",)]
    assert await db.idempotency.purge(NOW) == 0


async def test_a_claim_for_a_deleted_user_is_refused(db: Database) -> None:
    with pytest.raises(OwnerMissing):
        await claim(db, 999, "k1", "f1")


async def test_deleting_a_user_deletes_their_keys(db: Database, owner: int, database_url: str) -> None:
    other = await new_user(db, "other")
    assert await claim(db, owner, "k1", "f1") == Claimed()
    assert await claim(db, other, "k1", "f1") == Claimed()
    await execute(database_url, "DELETE FROM users WHERE id = :id", {"id": owner})
    assert await execute(database_url, "SELECT owner_id FROM idempotency_keys") == [(other,)]


@pytest.mark.parametrize("expired", [False, True], ids=["new key", "expired key"])
async def test_of_concurrent_claims_of_one_key_exactly_one_wins(database_url: str, expired: bool) -> None:
    # Ten connections on PostgreSQL: the claims really run at once.
    db = database_at(database_url, pool_size=10)
    await db.open()
    try:
        owner = await new_user(db, "racer")
        if expired:
            assert await claim(db, owner, "k1", "old", NOW - 2 * DAY) == Claimed()
            await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="old")
        results = await asyncio.gather(*(claim(db, owner, "k1", "f1") for _ in range(10)))
        assert results.count(Claimed()) == 1
        assert results.count(InFlight()) == 9
    finally:
        await db.close()


class ReadThenRace:
    """An executor that lets `rival` run right after the first read that finds a row: the moment
    between a claim reading a key and writing it, which one process on SQLite never leaves open."""

    def __init__(self, sql: Executor, rival: Callable[[], Awaitable[object]]) -> None:
        self._sql = sql
        self._rival: Callable[[], Awaitable[object]] | None = rival

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        row = await self._sql.one(query, params)
        if row is not None and not query.writes and self._rival is not None:
            rival, self._rival = self._rival, None
            await rival()
        return row

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        return await self._sql.all(query, params)

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        return await self._sql.run(query, params)


def racing(db: Database, rival: Callable[[], Awaitable[object]]) -> IdempotencyRepository:
    """`db.idempotency`, with `rival` let in between a claim's read and its write."""
    return IdempotencyRepository(ReadThenRace(db.idempotency._sql, rival))


@pytest.mark.parametrize(
    ("rival_fingerprint", "loser_sees"), [("f1", InFlight()), ("f2", Mismatch())], ids=["same body", "other body"]
)
async def test_of_two_takers_of_an_expired_key_one_wins(
    db: Database, owner: int, rival_fingerprint: str, loser_sees: Claim
) -> None:
    assert await claim(db, owner, "k1", "old", NOW - 2 * DAY) == Claimed()
    rival_saw: list[Claim] = []

    async def rival() -> None:
        rival_saw.append(await claim(db, owner, "k1", rival_fingerprint))

    loser = await racing(db, rival).claim(
        owner, OP, "k1", "f1", now=NOW, expires_at=NOW + DAY, stale_before=NOW - STALE
    )
    assert rival_saw == [Claimed()]
    assert loser == loser_sees


async def test_a_claim_that_finishes_as_it_is_taken_over_is_kept(db: Database, owner: int) -> None:
    assert await claim(db, owner, "k1", "f1") == Claimed()

    async def first_request_finishes() -> None:
        await db.idempotency.record(owner, OP, "k1", status=201, headers={}, body="done")

    later = NOW + STALE + timedelta(seconds=1)  # stale when read, finished when taken over
    taker = await racing(db, first_request_finishes).claim(
        owner, OP, "k1", "f1", now=later, expires_at=later + DAY, stale_before=later - STALE
    )
    assert taker == Replay(status=201, headers={}, body="done")
