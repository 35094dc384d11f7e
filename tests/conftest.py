"""Fixtures shared by every kind of test."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskapi.storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest migration, made once; tests copy it instead of migrating again."""
    path = tmp_path_factory.mktemp("template") / "taskapi.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def database_url(tmp_path: Path, migrated_template: Path) -> str:
    """A fresh, migrated SQLite database for one test."""
    path = tmp_path / "taskapi.db"
    path.write_bytes(migrated_template.read_bytes())
    return f"sqlite+aiosqlite:///{path}"
