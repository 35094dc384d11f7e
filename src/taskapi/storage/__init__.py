"""The database: engine and transactions, tables, repositories. The only package that holds SQL."""

from taskapi.storage.database import Database, Transaction
from taskapi.storage.sql import Executor, Query
from taskapi.storage.tasks import OwnerMissing, TaskRecord, TaskRepository
from taskapi.storage.users import UserRecord, UserRepository

__all__ = [
    "Database",
    "Executor",
    "OwnerMissing",
    "Query",
    "TaskRecord",
    "TaskRepository",
    "Transaction",
    "UserRecord",
    "UserRepository",
]
