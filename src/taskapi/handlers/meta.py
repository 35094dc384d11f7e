"""The `meta` operations: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol

from taskapi.errors import NotReady
from taskapi.generated import models, server
from taskapi.metrics import Metrics
from taskapi.storage import Database

logger = logging.getLogger("taskapi.readiness")


class RateLimitStore(Protocol):
    """What readiness asks of the rate limiter."""

    async def store_ready(self) -> bool | None:
        """Whether its shared store answers (None: it has none)."""
        ...

    @property
    def fails_open(self) -> bool:
        """Whether it serves without limits while the store is down."""
        ...


class MetaHandlers:
    """Implements `server.MetaOperations`."""

    def __init__(self, db: Database, limiter: RateLimitStore, metrics: Metrics, *, timeout: float) -> None:
        self._db = db
        self._limiter = limiter
        self._metrics = metrics
        self._timeout = timeout

    async def get_health(self) -> server.GetHealthResponse:
        """Answer while the process serves requests."""
        return server.GetHealth200Response(body=models.Health(status="ok"))

    async def get_readiness(self) -> server.GetReadinessResponse:
        """Ready when the database answers within the timeout, and the rate limiter's store does when
        the deployment fails closed without it; otherwise 503 naming what did not answer."""
        failed: list[str] = []
        try:
            async with asyncio.timeout(self._timeout):
                await self._db.ping()
        except Exception as exc:  # any failure of the database is "not ready", never a 500
            logger.warning("not ready: the database did not answer (%s: %s)", type(exc).__name__, exc)
            failed.append(f"the database did not answer within {self._timeout:g} s")
        store = await self._limiter.store_ready()
        if store is False and not self._limiter.fails_open:
            failed.append("the rate-limit store (Redis) did not answer")
        if failed:
            raise NotReady("; ".join(failed), retry_after=max(math.ceil(self._timeout), 1))
        if store is None:
            checks = models.Checks(database="ok")
        else:
            status = models.RateLimitStore.ok if store else models.RateLimitStore.unreachable
            checks = models.Checks(database="ok", rate_limit_store=status)
        return server.GetReadiness200Response(body=models.Readiness(status="ready", checks=checks))

    async def get_metrics(self) -> server.GetMetricsResponse:
        """Every metric in the Prometheus text format, summed over the workers."""
        return server.GetMetrics200Response(body=self._metrics.exposition())
