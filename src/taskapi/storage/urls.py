"""Database URLs: which backend a URL names, and how each tool reaches it.

taskapi runs SQLite on the standard `sqlite3` driver and PostgreSQL on asyncpg, so the honest URLs are
`sqlite:///path/to/file.db` and `postgresql://user@host/db`. The driver-qualified forms that earlier
releases documented (`sqlite+aiosqlite:///…`, `postgresql+asyncpg://…`) keep working, as do
`sqlite+pysqlite:///…` and `postgres://…`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_BACKENDS: dict[str, Literal["sqlite", "postgresql"]] = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "sqlite+aiosqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+asyncpg": "postgresql",
    "postgres": "postgresql",
}


@dataclass(frozen=True)
class DatabaseUrl:
    """A database URL that taskapi can serve from."""

    backend: Literal["sqlite", "postgresql"]
    url: URL

    @classmethod
    def parse(cls, text: str) -> DatabaseUrl:
        """The URL, or ValueError saying what is accepted."""
        try:
            url = make_url(text)
        except ArgumentError:
            raise ValueError(f"{text!r} is not a database URL") from None
        backend = _BACKENDS.get(url.drivername)
        if backend is None:
            accepted = "sqlite:///path/to/file.db or postgresql://user@host/database"
            raise ValueError(f"{url.drivername}:// is not a database taskapi runs on; use {accepted}")
        if backend == "sqlite" and url.database in (None, "", ":memory:"):
            # Reads and writes use two connections: two private in-memory databases would never meet.
            raise ValueError(f"{text!r}: SQLite needs a database file (sqlite:///path/to/file.db), not memory")
        return cls(backend, url)

    @property
    def sqlite_path(self) -> str:
        """The SQLite database file."""
        if self.backend != "sqlite" or self.url.database is None:
            raise ValueError(f"{self} is not a SQLite URL")
        return self.url.database

    @property
    def postgres_dsn(self) -> str:
        """The libpq-style DSN asyncpg connects with."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    @property
    def sqlalchemy(self) -> str:
        """The URL for SQLAlchemy engines (Alembic, tools): sqlite+pysqlite or postgresql+asyncpg."""
        driver = "sqlite+pysqlite" if self.backend == "sqlite" else "postgresql+asyncpg"
        return self.url.set(drivername=driver).render_as_string(hide_password=False)

    def ensure_directory(self) -> None:
        """Create a SQLite file's directory, so a fresh checkout starts without set-up."""
        if self.backend == "sqlite":
            Path(self.sqlite_path).parent.mkdir(parents=True, exist_ok=True)

    def __str__(self) -> str:
        return self.url.render_as_string(hide_password=True)
