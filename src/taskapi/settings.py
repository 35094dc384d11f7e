"""Configuration from `TASKAPI_*` environment variables (and nothing at import time)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from limits import RateLimitItem, parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from taskapi.generated.server import LIMITS
from taskapi.storage.urls import DatabaseUrl

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_ROOT_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*")


def root_path(text: str) -> str:
    """A path prefix (`/api`, `/v1/tasks`; `""` for none), without a trailing slash; ValueError otherwise."""
    prefix = text.strip().rstrip("/")
    if not _ROOT_PATH.fullmatch(prefix):
        raise ValueError(f"{text!r} is not a path prefix such as /api")
    return prefix


def rate_limit(text: str, policy: str) -> RateLimitItem:
    """One limit in the `limits` notation (`20/minute`, `3 per 2 seconds`); ValueError otherwise."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    if len(items) != 1:
        raise ValueError(f"{policy}: {text!r} is not one limit such as 20/minute or 3 per 2 seconds")
    return items[0]


def redis_storage_url(text: str) -> str:
    """A Redis URL as `limits` reads it (`redis://h:6379/0` -> `async+redis://h:6379/0`); ValueError otherwise."""
    url = text.strip()
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.removeprefix("async+") not in ("redis", "rediss", "redis+unix"):
        raise ValueError(f"{text!r} is not a Redis URL (redis://host:port/db, rediss://…, redis+unix:///path)")
    return url if scheme.startswith("async+") else f"async+{url}"


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
    log_queue_lines: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Log lines a worker holds, per stream, for a log that has stalled (about 4 MB of access-log "
        "lines at the default); more are dropped and counted, never waited for.",
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
    metrics: bool = Field(
        default=True,
        description="Measure requests for `/metrics`; false: nothing is measured and `/metrics` is empty.",
    )
    readiness_timeout_seconds: float = Field(
        default=1.0,
        gt=0,
        le=30,
        description="`/readyz`: how long the database may take to answer its trivial query before 503.",
    )
    db_connect_timeout_seconds: float = Field(
        default=3.0,
        gt=0,
        le=60,
        description="PostgreSQL: how long a (re)connect may take before the request gets 503.",
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
    # Limits (README.md, "Limits"); the first three default to the spec's `x-taskapi-limits`.
    max_body_bytes: int = Field(
        default=LIMITS.max_body_bytes, ge=1, description="Longest request body; longer: 413, the rest unread."
    )
    max_header_bytes: int = Field(
        default=LIMITS.max_header_bytes, ge=1024, description="Largest header section (names and values); larger: 431."
    )
    max_url_bytes: int = Field(
        default=LIMITS.max_url_bytes, ge=256, description="Longest request target (path and query); longer: 414."
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="A connection that has not sent a request's headers in this is dropped."
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300, description="A request whose body is not in this long after its headers is dropped."
    )
    keep_alive_timeout_seconds: int = Field(
        default=5, ge=1, le=3600, description="An idle keep-alive connection is closed after this."
    )
    max_connections: int = Field(
        default=1000, ge=1, description="Connections one worker holds; more get 503 with Retry-After, then closed."
    )
    password_queue_limit: int = Field(
        default=32,
        ge=0,
        description="Password checks (Argon2) a worker lets wait behind the two it runs; more: 503 + Retry-After.",
    )
    require_if_match: bool = Field(
        default=False,
        description="Refuse a task write (PATCH, complete, DELETE) without `If-Match` (428): no lost updates.",
    )
    idempotency_retention_seconds: int = Field(
        default=86_400,
        ge=1,
        le=30 * 86_400,
        description="How long an `Idempotency-Key` is remembered (its answer replayed); expired keys are purged.",
    )
    rate_limiting: bool = Field(
        default=True, description="Whether the spec's rate limits apply (off: no limits, no RateLimit fields)."
    )
    rate_limits: dict[str, str] = Field(
        default_factory=dict,
        description="A JSON object of limits that replace the spec's defaults by policy, e.g. "
        '`{"user": "600/minute"}` (`limits` notation; the policies are `x-taskapi-rate-limit-policies`).',
    )
    redis_url: str | None = Field(
        default=None,
        description="Where rate-limit counters are kept: Redis (`redis://host:6379/0`, `rediss://…`, "
        "`async+redis://…`), shared by every worker and host; unset: each worker's memory.",
    )
    rate_limit_key_prefix: str = Field(
        default="taskapi",
        min_length=1,
        max_length=100,
        description="Prefix of the rate-limit keys in Redis: deployments (and test runs) sharing a Redis stay apart.",
    )
    rate_limit_fail_open: bool = Field(
        default=True,
        description="When Redis cannot be reached: serve without limits and log a warning (true), or answer "
        "503 with Retry-After (false).",
    )
    contract_record_dir: Path | None = Field(
        default=None,
        description="Where to write what the server answered, per operation, status and declared header, for the "
        "contract coverage report (taskapi.recorder); unset: nothing is recorded, at no cost.",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        DatabaseUrl.parse(value)
        return value

    @field_validator("root_path")
    @classmethod
    def _check_root_path(cls, value: str) -> str:
        return root_path(value)

    @field_validator("rate_limits")
    @classmethod
    def _check_rate_limits(cls, limits: dict[str, str]) -> dict[str, str]:
        for policy, limit in limits.items():
            rate_limit(limit, policy)
        return limits

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else redis_storage_url(value)

    @field_validator("contract_record_dir", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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
