"""Statements built with SQLAlchemy Core and run on the bare driver: `Query`, and `Executor`, the one
interface repositories run them through (implemented per backend in sqlite.py and postgres.py), which
raises `ForeignKeyViolation` for either driver's foreign-key error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, cast

from sqlalchemy import Boolean, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Row = Sequence[Any]
ResultKind = Literal["datetime", "boolean"] | None


class Query:
    """A statement built with SQLAlchemy Core, compiled once per dialect into the driver's own SQL.

    `writes` says whether it changes rows (INSERT, UPDATE, DELETE; say so for a textual one), and
    `result_kinds` which of its result columns are timestamps or booleans, for backends whose driver
    returns them as text or integers.
    """

    __slots__ = ("_compiled", "result_kinds", "statement", "writes")

    def __init__(self, statement: ClauseElement, *, writes: bool | None = None) -> None:
        self.statement = statement
        self.writes = bool(getattr(statement, "is_dml", False)) if writes is None else writes
        self.result_kinds: tuple[ResultKind, ...] = tuple(
            _kind(column.type) for column in getattr(statement, "exported_columns", ())
        )
        self._compiled: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {}

    def compiled(self, dialect: Dialect) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """(SQL, positional parameter names, default values) for this dialect."""
        hit = self._compiled.get(dialect.name)
        if hit is None:
            compiled = cast(SQLCompiler, self.statement.compile(dialect=dialect))
            hit = (str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))
            self._compiled[dialect.name] = hit
        return hit

    def arguments(self, dialect: Dialect, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
        """The SQL for this dialect and its positional arguments, taken from `params` by name."""
        sql, names, defaults = self.compiled(dialect)
        return sql, [params[name] if name in params else defaults[name] for name in names]


def _kind(column_type: Any) -> ResultKind:
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, Boolean):
        return "boolean"
    return None


class ForeignKeyViolation(Exception):
    """A statement referred to a row that does not exist (whatever the driver calls it)."""


class Executor(Protocol):
    """What repositories need to run statements: on their own (each one atomic and committed as it
    runs) or inside a transaction, depending on where the executor came from."""

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        """The first row the statement returns, if any."""
        ...

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Every row the statement returns."""
        ...

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        ...

    async def try_lock(self, key: int) -> bool:
        """Take the lock named `key` (a signed 64-bit number) until the transaction ends, if no other
        transaction holds it: whether it was taken. Only inside `Database.transaction()`: PostgreSQL's
        transaction-scoped advisory lock; on SQLite always taken (the transaction holds the database's
        one write lock, so no other writer runs meanwhile)."""
        ...
