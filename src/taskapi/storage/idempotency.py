"""Idempotency keys: the response to a request sent with an Idempotency-Key, kept so that a retry of the
same request gets it back instead of running again. Keys are per owner and operation.

A request first claims its key (`claim`), which says what to do: run (`Claimed`), answer with the kept
response (`Replay`), or refuse (`Mismatch`: the key came with another body; `InFlight`: the first request
with it is still running). Having run, it keeps its response with `record`, in the transaction that
makes its changes, so both commit or neither does; having failed, it gives the key up with `release`.

Every statement is atomic on its own and races between requests with one key are settled by the
primary key (one INSERT wins) or by an UPDATE conditional on what was read (one taker wins), so `claim`
needs no transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, text, update

from taskapi.storage.sql import Executor, ForeignKeyViolation, Query
from taskapi.storage.tables import idempotency_keys
from taskapi.storage.tasks import OwnerMissing


@dataclass(frozen=True, slots=True)
class Claimed:
    """The key is this request's now: run it, then `record` or `release`."""


@dataclass(frozen=True, slots=True)
class Replay:
    """The request with this key has run: answer with its response."""

    status: int
    headers: dict[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used for a request with another body."""


@dataclass(frozen=True, slots=True)
class InFlight:
    """The first request with this key has not finished."""


Claim = Claimed | Replay | Mismatch | InFlight

_keys = idempotency_keys.c
_KEY = (
    _keys.owner_id == bindparam("owner_id"),
    _keys.operation == bindparam("operation"),
    _keys.key == bindparam("key"),
)
# ON CONFLICT … DO NOTHING is the same SQL on SQLite and PostgreSQL (as in users.py): a key already
# claimed returns no row, decided by the primary key.
_INSERT = Query(
    text(
        "INSERT INTO idempotency_keys (owner_id, operation, key, fingerprint, created_at, expires_at) "
        "VALUES (:owner_id, :operation, :key, :fingerprint, :now, :expires_at) "
        "ON CONFLICT (owner_id, operation, key) DO NOTHING RETURNING owner_id"
    ).bindparams(
        bindparam("owner_id"),
        bindparam("operation"),
        bindparam("key"),
        bindparam("fingerprint"),
        bindparam("now"),
        bindparam("expires_at"),
    ),
    writes=True,
)
_GET = Query(
    select(_keys.fingerprint, _keys.created_at, _keys.expires_at, _keys.status, _keys.headers, _keys.body).where(*_KEY)
)
# Takes over an expired or abandoned key, if it still is what was read: of two takers, one wins.
_TAKE_OVER = Query(
    update(idempotency_keys)
    .where(
        *_KEY,
        _keys.created_at == bindparam("claimed_at"),
        (_keys.expires_at <= bindparam("now"))
        | (_keys.status.is_(None) & (_keys.created_at < bindparam("stale_before"))),
    )
    .values(
        fingerprint=bindparam("fingerprint"),
        created_at=bindparam("now"),
        expires_at=bindparam("expires_at"),
        status=None,
        headers=None,
        body=None,
    )
)
_RECORD = Query(
    update(idempotency_keys)
    .where(*_KEY, _keys.status.is_(None))
    .values(status=bindparam("status"), headers=bindparam("headers"), body=bindparam("body"))
)
_RELEASE = Query(delete(idempotency_keys).where(*_KEY, _keys.status.is_(None)))
_PURGE = Query(delete(idempotency_keys).where(_keys.expires_at <= bindparam("now")))
# A claim meets a key that vanishes (released, purged) or changes hands between its statements only when
# other requests with that key race it; after this many rounds it answers InFlight.
_ATTEMPTS = 3


class IdempotencyRepository:
    """Claims idempotency keys and keeps the responses; every method but `claim` is one statement."""

    def __init__(self, sql: Executor) -> None:
        self._sql = sql

    async def claim(
        self,
        owner_id: int,
        operation: str,
        key: str,
        fingerprint: str,
        *,
        now: datetime,
        expires_at: datetime,
        stale_before: datetime,
    ) -> Claim:
        """Claim the owner's `key` for `operation`, for a request whose body hashes to `fingerprint`.

        A new key, an expired one (`expires_at` passed) or one whose request was claimed before
        `stale_before` and never finished (its worker died) is claimed until `expires_at`: Claimed.
        Otherwise: Mismatch if the fingerprint differs, InFlight if that request is still running,
        else Replay of its response. OwnerMissing if the owner is not in `users`.
        """
        params = {
            "owner_id": owner_id,
            "operation": operation,
            "key": key,
            "fingerprint": fingerprint,
            "now": now,
            "expires_at": expires_at,
            "stale_before": stale_before,
        }
        for _ in range(_ATTEMPTS):
            try:
                inserted = await self._sql.one(_INSERT, params)
            except ForeignKeyViolation:
                raise OwnerMissing(f"user {owner_id} does not exist") from None
            if inserted is not None:
                return Claimed()
            row = await self._sql.one(_GET, params)
            if row is None:  # released or purged since the INSERT: try again
                continue
            kept_fingerprint, claimed_at, kept_until, status, headers, body = row
            if kept_until <= now or (status is None and claimed_at < stale_before):
                if await self._sql.run(_TAKE_OVER, {**params, "claimed_at": claimed_at}) > 0:
                    return Claimed()
                continue  # another request took it over, or the first one finished: read it again
            if kept_fingerprint != fingerprint:
                return Mismatch()
            if status is None:
                return InFlight()
            return Replay(status=status, headers=json.loads(headers), body=body)
        return InFlight()

    async def record(
        self, owner_id: int, operation: str, key: str, *, status: int, headers: Mapping[str, str], body: str
    ) -> None:
        """Keep the response to the request that claimed the key (run it in that request's transaction)."""
        params = {
            "owner_id": owner_id,
            "operation": operation,
            "key": key,
            "status": status,
            "headers": json.dumps(dict(headers)),
            "body": body,
        }
        await self._sql.run(_RECORD, params)

    async def release(self, owner_id: int, operation: str, key: str) -> None:
        """Give up a key whose request failed, so that a retry runs; a key with a response is kept."""
        await self._sql.run(_RELEASE, {"owner_id": owner_id, "operation": operation, "key": key})

    async def purge(self, now: datetime) -> int:
        """Delete the keys that expired by `now`; how many."""
        return await self._sql.run(_PURGE, {"now": now})
