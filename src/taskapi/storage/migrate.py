"""Apply and inspect Alembic migrations programmatically (used by `taskapi migrate` and the tests)."""

from __future__ import annotations

from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from taskapi.storage.urls import DatabaseUrl


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the packaged migrations, aimed at `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(files("taskapi.storage") / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database's schema to `revision` (the newest by default). Blocks; call outside an event loop."""
    DatabaseUrl.parse(database_url).ensure_directory()
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
