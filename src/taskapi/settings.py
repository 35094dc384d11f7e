"""Configuration from `TASKAPI_*` environment variables (and nothing at import time)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from taskapi.storage.urls import DatabaseUrl

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_ROOT_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


def root_path(text: str) -> str:
    """A path prefix (`/api`, `/v1/tasks`; `""` for none), without a trailing slash; ValueError otherwise."""
    prefix = text.strip().rstrip("/")
    if not _ROOT_PATH.fullmatch(prefix):
        raise ValueError(f"{text!r} is not a path prefix such as /api")
    return prefix


class Settings(BaseSettings):
    """Every setting of the server; see the configuration table in README.md."""

    model_config = SettingsConfigDict(env_prefix="TASKAPI_", extra="ignore", frozen=True)

    database_url: str = Field(
        default="sqlite:///./var/taskapi.db",
        description="The database: `sqlite:///path/to/file.db` or `postgresql://user:password@host:port/database`.",
    )
    host: str = Field(default="127.0.0.1", description="Address `taskapi serve` binds.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `taskapi serve` binds.")
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes of `taskapi serve`.")
    root_path: str = Field(
        default="",
        description="The path prefix a reverse proxy serves the API under (`/api`); the proxy strips it "
        "before forwarding. `Location` headers and the documentation pages point under it.",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="Log level of the server."
    )
    event_loop: Literal["asyncio", "uvloop"] = Field(
        default="asyncio",
        description="Event loop of `taskapi serve`. asyncio's serves connections in turn; uvloop's is faster per "
        "request but lets some responses wait many times the median when a worker is saturated (bench/README.md).",
    )
    http_protocol: Literal["single-write", "uvicorn"] = Field(
        default="single-write",
        description="HTTP/1.1 of `taskapi serve`: uvicorn's httptools protocol sending each response in one write "
        "(taskapi.serving), or stock uvicorn.",
    )
    db_pool_size: int = Field(
        default=4,
        ge=1,
        le=200,
        description="PostgreSQL connections each worker keeps open (about two per core serves best).",
    )
    db_max_overflow: int = Field(
        default=0, ge=0, le=200, description="PostgreSQL: extra connections a worker may open under bursts."
    )
    db_pool_timeout_seconds: float = Field(
        default=10.0, gt=0, description="How long a request waits for a free connection before failing."
    )
    shutdown_timeout_seconds: int = Field(
        default=10, ge=1, le=300, description="On SIGTERM, how long in-flight requests may take to finish."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated origins browsers may call from (`https://app.example`), or `*`.",
    )
    sqlite_busy_timeout_ms: int = Field(
        default=5000, ge=0, description="How long a SQLite writer waits for the write lock before failing."
    )
    env: Literal["production", "development"] = Field(
        default="production",
        description="`production` refuses to start without TASKAPI_JWT_SECRET; `development` keeps a random one.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None, description="HMAC key signing bearer tokens (HS256); at least 32 bytes."
    )
    jwt_secret_file: Path = Field(
        default=Path("var/jwt-secret"),
        description="Where `development` keeps its generated key when TASKAPI_JWT_SECRET is unset.",
    )
    jwt_issuer: str = Field(default="taskapi", description="The `iss` claim tokens carry and must carry.")
    jwt_audience: str = Field(default="taskapi", description="The `aud` claim tokens carry and must carry.")
    account_recheck_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a worker trusts that a token's account still exists before looking again "
        "(0: on every request).",
    )
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400 * 30, description="Lifetime of a bearer token.")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        DatabaseUrl.parse(value)
        return value

    @field_validator("root_path")
    @classmethod
    def _check_root_path(cls, value: str) -> str:
        return root_path(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, origins: list[str]) -> list[str]:
        if "*" in origins and len(origins) > 1:
            raise ValueError("`*` allows every origin; list origins or use `*` alone")
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin (scheme://host[:port], no path)")
        return origins
