"""`create_app(settings)`: wiring only. Nothing happens at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from taskapi import docs, runtime
from taskapi.auth import Passwords, Tokens, signing_key
from taskapi.clock import Clock, SystemClock
from taskapi.errors import add_exception_handlers, render_error
from taskapi.generated import server
from taskapi.handlers.auth import AuthHandlers
from taskapi.handlers.meta import MetaHandlers
from taskapi.handlers.security import SecurityHandlers
from taskapi.handlers.tasks import TasksHandlers
from taskapi.handlers.users import UsersHandlers
from taskapi.logs import AccessLog
from taskapi.metrics import Metrics
from taskapi.middleware import REQUEST_ID, RequestContext, RequestLimits
from taskapi.ratelimit import rate_limiter
from taskapi.recorder import ContractRecorder, Recorder
from taskapi.settings import Settings
from taskapi.storage import Database, DatabaseUnavailable, database_from_settings
from taskapi.storage.migrate import head_revision

# How often each worker deletes expired idempotency keys (more often when keys expire sooner).
PURGE_EVERY_SECONDS = 600.0

logger = logging.getLogger("taskapi.app")


class SchemaNotMigrated(RuntimeError):
    """The database is not at the newest migration."""


async def purge_idempotency_keys(db: Database, clock: Clock, *, every: float) -> None:
    """Delete expired idempotency keys every `every` seconds, until cancelled. A failed purge is tried
    again next time (expired keys are never replayed meanwhile: `keep` replaces an expired key)."""
    while True:
        await asyncio.sleep(every)
        try:
            purged = await db.idempotency.purge(clock.now())
        except DatabaseUnavailable as exc:
            logger.warning("purging expired idempotency keys failed: %s", exc)
            continue
        except Exception:  # a statement timeout, say: this worker must go on purging, and say why not now
            logger.exception("purging expired idempotency keys failed")
            continue
        if purged:
            logger.info("purged %d expired idempotency key(s)", purged, extra={"fields": {"purged": purged}})


def cors_request_headers(operations: Iterable[runtime.OperationInfo]) -> list[str]:
    """The request headers a browser may send, from the spec: every header parameter, `Authorization` of the
    secured operations, `Content-Type` of the bodies, and the request id a client may set."""
    return sorted({name for op in operations for name in op.request_headers} | {"Content-Type", REQUEST_ID})


def cors_response_headers(operations: Iterable[runtime.OperationInfo]) -> list[str]:
    """The response headers a browser may read, from the spec: every one a response declares."""
    return sorted({name for op in operations for headers in op.responses.values() for name in headers})


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the application: the spec's operations bound to handlers over one database. `clock` is the
    time everything stamps and checks (tests pass one they move by hand)."""
    settings = settings or Settings()
    clock = clock or SystemClock()
    tokens = Tokens(
        signing_key(settings),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        ttl_seconds=settings.token_ttl_seconds,
        clock=clock,
    )
    db = database_from_settings(settings)
    passwords = Passwords(queue_limit=settings.password_queue_limit)
    limiter = rate_limiter(settings, server.RATE_LIMIT_POLICIES, clock=clock)
    metrics = Metrics(enabled=settings.metrics)
    db.wait_observer = metrics.wait_observer
    limiter.on_refusal = metrics.rate_limited
    document = docs.spec_document()
    recorder = Recorder(settings.contract_record_dir) if settings.contract_record_dir is not None else None
    purge_every = min(float(settings.idempotency_retention_seconds), PURGE_EVERY_SECONDS)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await db.open()
        try:
            current, head = await db.schema_revision(), head_revision()
            if current != head:
                raise SchemaNotMigrated(f"the database is at migration {current}, not {head}: run `taskapi migrate`")
            await passwords.prepare()
            await limiter.open()
            background = [
                asyncio.create_task(metrics.publish_every(1.0)),
                asyncio.create_task(purge_idempotency_keys(db, clock, every=purge_every)),
            ]
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)
                await limiter.close()
        finally:
            if recorder is not None:
                recorder.save()
            await db.close()
            metrics.close()

    app = FastAPI(
        title=document["info"]["title"],
        version=document["info"]["version"],
        lifespan=lifespan,
        # The spec and its documentation come from openapi.yaml (taskapi.docs), not from FastAPI.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
        # FastAPI's native OpenTelemetry: off. taskapi ships no OpenTelemetry SDK, so it would only look
        # for providers on every request (a measurable share of a request: bench/README.md).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    operations = server.build_operations(
        tasks=TasksHandlers(
            db,
            clock,
            require_if_match=settings.require_if_match,
            idempotency_retention=timedelta(seconds=settings.idempotency_retention_seconds),
        ),
        users=UsersHandlers(db, passwords, clock),
        auth=AuthHandlers(db, passwords, tokens),
        meta=MetaHandlers(db, limiter, metrics, timeout=settings.readiness_timeout_seconds),
        security=SecurityHandlers(db, tokens, recheck_seconds=settings.account_recheck_seconds, clock=clock),
        limiter=limiter,
    )
    # Innermost middleware: the spec's operations (and 405 on their paths) are dispatched here, once;
    # the router behind it holds only the documentation, and answers 404 for anything else.
    app.add_middleware(runtime.Dispatch, operations=operations, on_error=render_error)
    # The spec's request limits, before anything reads the request (inside CORS: refusals carry its headers).
    app.add_middleware(
        RequestLimits,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        max_url_bytes=settings.max_url_bytes,
    )
    app.router.routes.extend(docs.documentation_routes())
    add_exception_handlers(app)
    if settings.cors_origins:
        # Bearer tokens, not cookies: browsers never send credentials, so `*` is safe when configured.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=False,
            allow_methods=sorted({op.method for op in server.OPERATIONS}),
            allow_headers=cors_request_headers(server.OPERATIONS),
            expose_headers=cors_response_headers(server.OPERATIONS),
            max_age=600,
        )
    # Added last, so outermost: ids and the access log cover CORS preflights and error pages too.
    app.add_middleware(
        RequestContext,
        request_id_pattern=server.MIDDLEWARE_HEADERS[REQUEST_ID],
        access_log=AccessLog(enabled=settings.log_level in ("debug", "info")),
        metrics=metrics,
        constant_headers=server.CONSTANT_HEADERS,
    )
    if recorder is not None:
        # Outermost of all: the status and every header the client gets (the request id's included).
        app.add_middleware(ContractRecorder, recorder=recorder)
    return app
