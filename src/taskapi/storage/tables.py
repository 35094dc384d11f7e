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

# What a request sent with an Idempotency-Key created, per owner and operation, and a hash of its body:
# a retry of the request gets the same answer back, rebuilt from them (idempotency.py).
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("owner_id", Id, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False),
    Column("operation", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    # A 64-bit hash of the request's body (BigInteger: 8 bytes a row, not 32 of text).
    Column("fingerprint", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # What the request created (createTask: the task's id); its response is rebuilt from it on a replay.
    Column("resource_id", Id, nullable=False),
    # SQLite: the rows live in the primary key's own B-tree (no rowid table beside it): one tree to
    # write per key, not two.
    sqlite_with_rowid=False,
)
# No index on expires_at: every create with a key would write one more B-tree page (a third of an
# idempotent create's cost on SQLite: bench/README.md). Purging walks the primary key in steps instead.
