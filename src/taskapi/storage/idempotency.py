"""Idempotency keys: what a request sent with an Idempotency-Key created, kept so that a retry of the
same request gets the same answer instead of running again. Keys are per owner and operation. What is
kept is the created resource's id and the time (a request whose body matches the first one's answers
with a response rebuilt from its own body, that id and that time: the first response, byte for byte,
without storing it).

A request with a key makes its changes and keeps its response in ONE transaction:

    async with db.transaction() as tx:
        if not await tx.idempotency.hold(owner, operation, key):   # the key's request is running
            ...                                                    # -> InFlight
        ... make the changes ...
        outcome = await tx.idempotency.keep(owner, operation, key, fingerprint, ..., resource_id=...)
        if not isinstance(outcome, Kept):
            ... roll back (raise), answer Replay / Mismatch ...

so the changes and the key commit together or not at all, and a request that fails keeps
nothing (its key stays free for a retry). On PostgreSQL `hold` takes an advisory lock on the key for
the transaction, so a duplicate that arrives in another transaction while the first request runs is
told so at once (InFlight) instead of waiting for it. On SQLite the transaction holds the database's
one write lock: a duplicate waits for the first request to commit and then replays it (within one
worker, the handler itself answers a duplicate of a request it is running).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, text, tuple_, update

from taskapi.storage.sql import Executor, ForeignKeyViolation, Query
from taskapi.storage.tables import idempotency_keys
from taskapi.storage.tasks import OwnerMissing


@dataclass(frozen=True, slots=True)
class Kept:
    """The key is kept for this request (it was new, or had expired): commit."""


@dataclass(frozen=True, slots=True)
class Replay:
    """A request with this key and this body has run (roll back): it created `resource_id` at `created_at`."""

    resource_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used for a request with another body (roll back)."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """A request with this key is running in another transaction (`hold` did not get its lock)."""


Outcome = Kept | Replay | Mismatch | InFlight

_keys = idempotency_keys.c
_KEY = (
    _keys.owner_id == bindparam("owner_id"),
    _keys.operation == bindparam("operation"),
    _keys.key == bindparam("key"),
)
_COLUMNS = ("owner_id", "operation", "key", "fingerprint", "now", "expires_at", "resource_id")
# ON CONFLICT … DO NOTHING is the same SQL on SQLite and PostgreSQL (as in users.py): a key already
# kept changes no row, decided by the primary key.
_INSERT = Query(
    text(
        "INSERT INTO idempotency_keys (owner_id, operation, key, fingerprint, created_at, expires_at, resource_id) "
        "VALUES (:owner_id, :operation, :key, :fingerprint, :now, :expires_at, :resource_id) "
        "ON CONFLICT (owner_id, operation, key) DO NOTHING"
    ).bindparams(*(bindparam(name) for name in _COLUMNS)),
    writes=True,
)
_GET = Query(select(_keys.fingerprint, _keys.created_at, _keys.resource_id).where(*_KEY))
# An expired key is this request's: it replaces what was kept (the expiry is checked in the statement).
_REPLACE = Query(
    update(idempotency_keys)
    .where(*_KEY, _keys.expires_at <= bindparam("now"))
    .values(
        fingerprint=bindparam("fingerprint"),
        created_at=bindparam("now"),
        expires_at=bindparam("expires_at"),
        resource_id=bindparam("resource_id"),
    )
)
# Purging walks the primary key PURGE_STEP rows at a time (there is no index on expires_at): where the
# next step ends, then the expired keys up to there.
PURGE_STEP = 1000
_PK = tuple_(_keys.owner_id, _keys.operation, _keys.key)
_AFTER_CURSOR = tuple_(bindparam("owner_id"), bindparam("operation"), bindparam("key")) < _PK
_STEP_END = Query(
    select(_keys.owner_id, _keys.operation, _keys.key)
    .where(_AFTER_CURSOR)
    .order_by(_keys.owner_id, _keys.operation, _keys.key)
    .limit(1)
    .offset(bindparam("step"))
)
_EXPIRED = _keys.expires_at <= bindparam("now")
_PURGE_STEP = Query(
    delete(idempotency_keys).where(
        _AFTER_CURSOR,
        tuple_(bindparam("end_owner_id"), bindparam("end_operation"), bindparam("end_key")) >= _PK,
        _EXPIRED,
    )
)
_PURGE_REST = Query(delete(idempotency_keys).where(_AFTER_CURSOR, _EXPIRED))


def lock_key(owner_id: int, operation: str, key: str) -> int:
    """The advisory lock's name for one key: a signed 64-bit hash (two keys that share one only make a
    request with one of them answer InFlight, now and then, while the other's request runs)."""
    digest = hashlib.blake2b(f"{owner_id}\0{operation}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class IdempotencyRepository:
    """Holds idempotency keys and keeps what their requests created (see the module docstring)."""

    def __init__(self, sql: Executor) -> None:
        self._sql = sql

    async def hold(self, owner_id: int, operation: str, key: str) -> bool:
        """Lock the key until the transaction ends; False when another transaction holds it (a request
        with this key is running). Only inside `Database.transaction()`."""
        return await self._sql.try_lock(lock_key(owner_id, operation, key))

    async def keep(
        self,
        owner_id: int,
        operation: str,
        key: str,
        fingerprint: int,
        *,
        now: datetime,
        expires_at: datetime,
        resource_id: int,
    ) -> Outcome:
        """Keep the owner's `key` until `expires_at` for this request, which created `resource_id` at `now`,
        in the transaction that made it: Kept when the key was new or had expired. Otherwise the key is
        another request's: Mismatch if its body hashed to another `fingerprint`, else Replay of what it
        created (InFlight only if the key was purged and kept again in between, which `hold` prevents);
        the caller rolls back. OwnerMissing if the owner is not in `users`."""
        params = {
            "owner_id": owner_id,
            "operation": operation,
            "key": key,
            "fingerprint": fingerprint,
            "now": now,
            "expires_at": expires_at,
            "resource_id": resource_id,
        }
        try:
            if await self._sql.run(_INSERT, params) > 0:
                return Kept()
        except ForeignKeyViolation:
            raise OwnerMissing(f"user {owner_id} does not exist") from None
        if await self._sql.run(_REPLACE, params) > 0:  # it had expired
            return Kept()
        row = await self._sql.one(_GET, params)
        if row is None:  # purged since the INSERT (this transaction holds the key): keep it now
            return Kept() if await self._sql.run(_INSERT, params) > 0 else InFlight()
        kept_fingerprint, created_at, kept_resource = row
        if kept_fingerprint != fingerprint:
            return Mismatch()
        return Replay(resource_id=kept_resource, created_at=created_at)

    async def purge(self, now: datetime, *, step: int = PURGE_STEP) -> int:
        """Delete the keys that expired by `now`, `step` keys of the table at a time (each its own short
        statement, other requests served between them); how many."""
        cursor: dict[str, Any] = {"owner_id": 0, "operation": "", "key": ""}  # before every key
        purged = 0
        while True:
            end = await self._sql.one(_STEP_END, {**cursor, "step": step - 1})
            if end is None:
                return purged + await self._sql.run(_PURGE_REST, {**cursor, "now": now})
            bounds = {"end_owner_id": end[0], "end_operation": end[1], "end_key": end[2]}
            purged += await self._sql.run(_PURGE_STEP, {**cursor, **bounds, "now": now})
            cursor = {"owner_id": end[0], "operation": end[1], "key": end[2]}
            await asyncio.sleep(0)
