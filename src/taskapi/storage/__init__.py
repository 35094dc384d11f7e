"""The database: one interface (`Database`) with a SQLite and a PostgreSQL implementation, tables,
repositories and migrations. The only package that holds SQL."""

from taskapi.storage.database import (
    Database,
    DatabaseUnavailable,
    Repositories,
    database_at,
    database_from_settings,
)
from taskapi.storage.idempotency import IdempotencyRepository, InFlight, Kept, Mismatch, Outcome, Replay
from taskapi.storage.sql import Executor, ForeignKeyViolation, Query
from taskapi.storage.tasks import OwnerMissing, StaleVersion, TaskRecord, TaskRepository
from taskapi.storage.urls import DatabaseUrl
from taskapi.storage.users import UserRecord, UserRepository

__all__ = [
    "Database",
    "DatabaseUnavailable",
    "DatabaseUrl",
    "Executor",
    "ForeignKeyViolation",
    "IdempotencyRepository",
    "InFlight",
    "Kept",
    "Mismatch",
    "Outcome",
    "OwnerMissing",
    "Query",
    "Replay",
    "Repositories",
    "StaleVersion",
    "TaskRecord",
    "TaskRepository",
    "UserRecord",
    "UserRepository",
    "database_at",
    "database_from_settings",
]
