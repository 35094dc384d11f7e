"""Configuration from `TASKAPI_*` environment variables (and nothing at import time)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the server; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="TASKAPI_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite+aiosqlite:///./var/taskapi.db",
        description="SQLAlchemy URL of the database (async driver).",
    )
    host: str = Field(default="127.0.0.1", description="Address `taskapi serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `taskapi serve` binds.")
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes of `taskapi serve`.")
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the server."
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long a SQLite writer waits for the write lock before failing."
    )
