"""Table definitions; Alembic migrations under `migrations/` create and change them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, Table, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every backend (SQLite stores them without an offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the DateTime impl returns datetimes
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def from_db_datetime(value: datetime | str) -> datetime:
    """An aware UTC datetime from what the driver returns (asyncpg: aware; sqlite3: text without offset)."""
    if isinstance(value, str):
        try:
            # SQLite's text is UTC without an offset (SQLAlchemy's DateTime format): name it in the one parse.
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:  # it had an offset after all
            value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; elsewhere ids are 64-bit.
Id = BigInteger().with_variant(Integer(), "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
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
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # AUTOINCREMENT: ids of deleted tasks are never handed out again.
    sqlite_autoincrement=True,
)
# Every task query is per owner and in id order (keyset pagination), with optional filters.
Index("ix_tasks_owner_id_id", tasks.c.owner_id, tasks.c.id)
Index("ix_tasks_owner_id_completed_id", tasks.c.owner_id, tasks.c.completed, tasks.c.id)
Index("ix_tasks_owner_id_priority_id", tasks.c.owner_id, tasks.c.priority, tasks.c.id)
