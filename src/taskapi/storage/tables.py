"""Table definitions, for building statements; Alembic migrations under `migrations/` create and change
the tables, each migration with its own copy of what it needs.

Timestamps are `DateTime(timezone=True)`: PostgreSQL's `timestamptz` (asyncpg reads it as an aware
UTC datetime), SQLite's `DATETIME` text, always UTC (the one conversion for SQLite is in sqlite.py).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, Table, Text, text

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    sqlite_autoincrement=True,
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    # NULL only for tasks created before users existed (migration 0002): nobody sees those.
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("completed", Boolean(create_constraint=False), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Raised by one by every write that changes the task (its ETag); tasks older than migration 0003 are at 1.
    Column("version", Integer, nullable=False, server_default=text("1")),
    # AUTOINCREMENT: ids of deleted tasks are never handed out again.
    sqlite_autoincrement=True,
)
# Every task query is per owner and in id order (keyset pagination), with optional filters.
Index("ix_tasks_owner_id_id", tasks.c.owner_id, tasks.c.id)
Index("ix_tasks_owner_id_completed_id", tasks.c.owner_id, tasks.c.completed, tasks.c.id)
Index("ix_tasks_owner_id_priority_id", tasks.c.owner_id, tasks.c.priority, tasks.c.id)

# A response to a request sent with an Idempotency-Key, per owner and operation: a retry of the request
# gets the same response back. `status` is NULL while the first request is still running.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("operation", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("status", Integer, nullable=True),
    Column("headers", Text, nullable=True),
    Column("body", Text, nullable=True),
)
# Purging expired keys.
Index("ix_idempotency_keys_expires_at", idempotency_keys.c.expires_at)
