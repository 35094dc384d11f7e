"""Prometheus metrics with prometheus-client, served by `GET /metrics` (the `getMetrics` operation).

What is measured (every name starts `taskapi_`):

- `http_request_duration_seconds{operation, method, status}`: a histogram of every request's time in the
  app, from the first middleware to the last byte handed to the server; its `_count` is the number of
  requests (no separate counter: it would count the same thing at a second write per request).
  `operation` is the spec's operationId, empty for what is no operation (404s, the docs pages); `method`
  is one of the methods HTTP defines, or `other`; so the label values are bounded whatever clients send.
- `http_requests_in_flight`: requests being served now. The middleware counts them in a plain integer
  (`in_flight`); the gauge takes its value once a second (`publish_every`), from the worker that
  answers the scrape at that moment, and when the count returns to 0 after the gauge was told another:
  exact at rest, at most a second old under load, at the cost of no write per request (not even for a
  worker that serves requests one after the other, going 0, 1, 0 each time).
- `db_pool_wait_seconds`: how long statements waited for a connection (PostgreSQL's pool) or for the
  write lock (SQLite).
- `rate_limit_rejections_total{policy}`: requests refused 429, by the policy that refused them.
- `log_lines_dropped_total`: log lines dropped because the log's sink did not keep up (taskapi.logs).

With `--workers N`, `taskapi serve` gives the workers a directory for prometheus-client's multiprocess
mode (PROMETHEUS_MULTIPROC_DIR, set before any worker imports prometheus-client): each worker writes its
values to files there, and whichever worker answers `/metrics` sums them all. One worker keeps its values
in memory. Each app has a registry of its own, so tests may build many apps in one process.
TASKAPI_METRICS=false measures nothing (the benchmark's baseline): `/metrics` is then empty.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

from taskapi.logs import dropped_lines

# The environment variable of prometheus-client's multiprocess mode (read when it is first imported).
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
# Request latencies (seconds): from a cached read (~1 ms) to the longest a request is allowed to take.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Waits for a database connection or lock: mostly none, then up to the pool timeout.
_WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})
# Label sets remembered per worker; operation x method x status stays far below this, whatever clients send.
_MAX_CHILDREN = 4096


class Metrics:
    """One app's metrics (see the module docstring)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self.multiprocess_dir = os.environ.get(MULTIPROCESS_DIR) or None
        self.registry = CollectorRegistry()
        self._requests = Histogram(
            "taskapi_http_request_duration_seconds",
            "Requests by operationId, method and status, and how long they took (seconds).",
            ["operation", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._in_flight = Gauge(
            "taskapi_http_requests_in_flight",
            "Requests being served.",
            multiprocess_mode="livesum",
            registry=self.registry,
        )
        self._pool_wait = Histogram(
            "taskapi_db_pool_wait_seconds",
            "How long statements waited for a database connection (PostgreSQL) or the write lock (SQLite).",
            buckets=_WAIT_BUCKETS,
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "taskapi_rate_limit_rejections",
            "Requests refused with 429, by rate-limit policy.",
            ["policy"],
            registry=self.registry,
        )
        self._log_dropped = Counter(
            "taskapi_log_lines_dropped",
            "Log lines dropped because the log's sink did not keep up.",
            registry=self.registry,
        )
        self._log_dropped_seen = 0
        self._children: dict[tuple[str, str, int], Callable[[float], None]] = {}
        self.wait_observer: Callable[[float], None] = self._pool_wait.observe
        """Takes one wait (seconds) of a statement for its connection or lock."""
        self.in_flight = 0
        """Requests being served by this worker (the middleware adds and takes away; `publish()` tells)."""
        self._published = -1
        if not enabled:
            self.wait_observer = _ignore

    def publish(self) -> None:
        """Give the in-flight gauge this worker's count (when it changed)."""
        if self.in_flight != self._published and self.enabled:
            self._published = self.in_flight
            self._in_flight.set(self.in_flight)

    async def publish_every(self, seconds: float) -> None:
        """`publish()` every `seconds`, until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(seconds)
            self.publish()
            self.sync()

    def observe_request(self, operation: str | None, method: str, status: int, seconds: float) -> None:
        """Count one request that took `seconds`."""
        if not self.enabled:
            return
        key = (operation or "", method, status)
        observe = self._children.get(key)
        if observe is None:
            observe = self._child(key)
        observe(seconds)

    def _child(self, key: tuple[str, str, int]) -> Callable[[float], None]:
        operation, method, status = key
        if len(self._children) >= _MAX_CHILDREN:
            self._children.clear()
        label = method if method in _METHODS else "other"
        observe: Callable[[float], None] = self._requests.labels(operation, label, str(status)).observe
        self._children[key] = observe
        return observe

    def rate_limited(self, policy: str) -> None:
        """Count a request refused 429 by `policy`."""
        if self.enabled:
            self._rate_limited.labels(policy).inc()

    def sync(self) -> None:
        """Bring the counts kept elsewhere (dropped log lines) into the metrics."""
        if not self.enabled:
            return
        dropped = dropped_lines()
        if dropped > self._log_dropped_seen:
            self._log_dropped.inc(dropped - self._log_dropped_seen)
            self._log_dropped_seen = dropped

    def exposition(self) -> str:
        """Every metric in the Prometheus text format (0.0.4), summed over the workers."""
        if not self.enabled:
            return ""
        self.sync()
        self.publish()
        if self.multiprocess_dir is None:
            return generate_latest(self.registry).decode("utf-8")
        _forget_dead_workers(self.multiprocess_dir)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(registry).decode("utf-8")

    def close(self) -> None:
        """This worker is done: its in-flight gauge leaves the sum (its counts stay, as counts do)."""
        self.sync()
        if self.multiprocess_dir is not None and self.enabled:
            multiprocess.mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]


def _ignore(_seconds: float) -> None:
    """Measures nothing (metrics off)."""


def _forget_dead_workers(directory: str) -> None:
    """Take the live gauges (in flight) of workers that are gone out of the sum: a worker that crashed or
    was killed never said so itself (uvicorn starts another in its place). Their counts stay."""
    for path in Path(directory).glob("gauge_live*_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]
        except PermissionError:  # alive, another user's
            continue
