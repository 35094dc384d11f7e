"""Statements built with SQLAlchemy Core and run on the bare driver: `Query`, and `Executor`, the one
interface repositories run them through (implemented per backend in database.py), which raises
`ForeignKeyViolation` for either driver's foreign-key error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Row = Sequence[Any]


class Query:
    """A statement built with SQLAlchemy Core, compiled once per dialect into the driver's own SQL."""

    __slots__ = ("_compiled", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
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
        sql, names, defaults = self.compiled(dialect)
        return sql, [params[name] if name in params else defaults[name] for name in names]


class ForeignKeyViolation(Exception):
    """A statement referred to a row that does not exist (whatever the driver calls it)."""


class Executor(Protocol):
    """What repositories need of an open transaction."""

    async def one(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        """The first row the statement returns, if any."""
        ...

    async def all(self, query: Query, params: Mapping[str, Any]) -> list[Row]:
        """Every row the statement returns."""
        ...

    async def run(self, query: Query, params: Mapping[str, Any]) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        ...
