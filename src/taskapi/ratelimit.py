"""The rate limiter the generated glue awaits (`runtime.RateLimiter`), on the `limits` library.

Counters live in each worker's memory by default, or in Redis (TASKAPI_REDIS_URL) so that a limit holds
across workers and hosts; keys carry a prefix per deployment (TASKAPI_RATE_LIMIT_KEY_PREFIX). The
strategy is the fixed window of `limits` (`FixedWindowRateLimiter.hit` is one `incr` of the storage,
compared with the quota). On Redis, a round trip costs more than the rest of a request, so a worker
takes them rarely:

- the concurrent requests of one key share one round trip (`_coalesced`: one `incr` by their number, each
  request its own count, in the order they arrived);
- for a large quota a worker reserves a block ahead with the same `incr` (`reserve`: 2% of the quota, at
  most 100) and admits the next requests of that key from it without asking Redis. Reserved counts are
  counted as used, so a client is never admitted past its quota; it may be refused up to one block per
  worker early, and the `r` it is told lags other workers' use by as much. Quotas under 100 reserve
  nothing and are exact.
- once a window is spent, the worker refuses that key locally until the window ends.

The count gives the `RateLimit` field's `r`; the window's end, fixed for the window's whole life, is
remembered per key, so `t` costs a second round trip only the first time a worker meets a window another
started. bench/README.md has the measurements behind the choice.

When the store fails (Redis down, a timeout), the limiter fails open by default: the request is served
unlimited and without the RateLimit fields, one warning is logged (then at most one a minute while the
store stays down), and the store is not asked again for a second. With TASKAPI_RATE_LIMIT_FAIL_OPEN=false
it answers 503 with Retry-After instead. Either way, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string
from starlette.requests import Request

from taskapi import runtime
from taskapi.auth import Principal
from taskapi.settings import Settings, rate_limit

logger = logging.getLogger("taskapi.ratelimit")

# How long a failed store is left alone (requests pass, or get 503) before it is tried again.
RETRY_STORE_SECONDS = 1.0
# While the store stays down, one warning per this many seconds.
WARN_EVERY_SECONDS = 60.0
# Redis must answer within this (seconds), or the request goes on as the store had failed.
REDIS_TIMEOUT_SECONDS = 0.5
# Window ends and reserved blocks remembered per worker (a few hundred bytes each); past this the
# expired ones are dropped.
_MAX_REMEMBERED_WINDOWS = 10_000
# A block reserved ahead on Redis: this fraction of the quota, at most so many requests.
_RESERVE_FRACTION = 50
_MAX_RESERVE = 100


def reserve(quota: int) -> int:
    """How many counts a worker reserves ahead for a key of this quota (0: every request asks the store)."""
    return min(quota // _RESERVE_FRACTION, _MAX_RESERVE)


@dataclass(slots=True)
class _Batch:
    """The hits of one key waiting for the same round trip: how many, and the count after it (with the
    block reserved behind them) and when the window ends."""

    counted: asyncio.Future[tuple[int, float]]
    size: int = 0


@dataclass(slots=True)
class _Block:
    """Counts a worker reserved for one key in the current window: it hands out `next` … `end` (the
    reserved counts the quota admits), then asks the store again, unless `end` reached the quota: then
    the window is spent. Valid until `window_end`."""

    next: int
    end: int
    window_end: float


class RateLimiterUnavailable(runtime.HttpError):
    """503 with Retry-After: the rate-limit store cannot be reached and the deployment fails closed."""

    status = 503

    def __init__(self) -> None:
        retry_after = str(math.ceil(RETRY_STORE_SECONDS))
        super().__init__(
            "The rate limiter is not available right now; retry in a moment.", headers={"Retry-After": retry_after}
        )


class RateLimiter:
    """Implements `runtime.RateLimiter[Principal]` with the `limits` library: see the module docstring."""

    def __init__(
        self,
        policies: Mapping[str, str],
        *,
        redis_url: str | None = None,
        key_prefix: str = "taskapi",
        fail_open: bool = True,
    ) -> None:
        self.policies = dict(policies)
        """Each policy's limit as this limiter applies it, in the `limits` notation."""
        self._items: dict[str, RateLimitItem] = {name: rate_limit(text, name) for name, text in policies.items()}
        # A key names the policy and its limit (a changed limit starts afresh), then what is counted.
        self._key_prefixes = {
            name: f"{name}/{item.amount}/{item.multiples}/{item.GRANULARITY.name}/"
            for name, item in self._items.items()
        }
        self._redis_url = redis_url
        self._key_prefix = key_prefix
        self._fail_open = fail_open
        self._storage: Storage | None = None
        self._window_ends: dict[str, float] = {}
        self._blocks: dict[str, _Block] = {}
        self._reserves = {name: reserve(item.amount) for name, item in self._items.items()}
        # Redis: concurrent hits of one key share round trips (`_coalesced`); memory answers at once.
        self._coalesce = redis_url is not None
        self._batches: dict[str, _Batch] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._store_down_until = 0.0
        self._warned_at = -math.inf
        self._failures = 0

    @classmethod
    def from_settings(cls, settings: Settings, policies: Mapping[str, str]) -> RateLimiter:
        """The limiter a deployment configures: the spec's `policies`, each replaced by TASKAPI_RATE_LIMITS
        when it names it (naming a policy the spec lacks is refused, at start-up)."""
        unknown = sorted(set(settings.rate_limits) - set(policies))
        if unknown:
            raise ValueError(
                f"TASKAPI_RATE_LIMITS names {', '.join(unknown)}: not a policy of the spec "
                f"(its policies: {', '.join(policies)})"
            )
        return cls(
            {**policies, **settings.rate_limits},
            redis_url=settings.redis_url,
            key_prefix=settings.rate_limit_key_prefix,
            fail_open=settings.rate_limit_fail_open,
        )

    async def open(self) -> None:
        """Make the store (in the event loop that will use it); warn now if Redis does not answer."""
        store = "memory (per worker)" if self._redis_url is None else _redacted(self._redis_url)
        logger.info("rate limits %s, counted in %s", self.policies, store)
        if self._redis_url is None:
            self._storage = MemoryStorage()
            return
        storage = storage_from_string(
            self._redis_url,
            key_prefix=self._key_prefix,
            wrap_exceptions=True,
            connect_timeout=REDIS_TIMEOUT_SECONDS,
            stream_timeout=REDIS_TIMEOUT_SECONDS,
        )
        assert isinstance(storage, Storage)  # noqa: S101 - an async+ URL gives an async storage
        self._storage = storage
        if not await storage.check():
            self._store_failed(ConnectionError(f"no answer from {_redacted(self._redis_url)}"))

    async def close(self) -> None:
        """Close the store's connections (`limits` storages have no close(): the Redis client's pool does)."""
        pool: Any = getattr(getattr(getattr(self._storage, "bridge", None), "storage", None), "connection_pool", None)
        if pool is not None:
            pool.disconnect()
        self._storage = None

    def user_key(self, principal: Principal) -> str:
        """Users are counted by id: a renamed user keeps its count, a new user with an old name does not."""
        return str(principal.user_id)

    async def hit(self, request: Request, policy: str, key: str) -> None:
        """Count the request against `policy` for `key`; record the policy's state; 429 over the limit."""
        item = self._items[policy]
        storage = self._storage
        if storage is None:
            raise RuntimeError("the rate limiter is not open (the app's lifespan opens it)")
        now = time.time()
        if now < self._store_down_until:
            self._unavailable()
            return
        storage_key = self._key_prefixes[policy] + key
        block = self._blocks.get(storage_key) if self._coalesce else None
        try:
            if block is not None and now < block.window_end and (block.next <= block.end or block.end >= item.amount):
                # Admitted from the block this worker reserved; or refused, the window being spent.
                count = block.next
                block.next += 1
                window_end = block.window_end
            elif self._coalesce:
                count, window_end = await self._coalesced(storage, storage_key, policy, item)
            else:
                count = await storage.incr(storage_key, item.get_expiry())
                window_end = await self._window_end(storage, storage_key, item, count == 1, time.time())
        except Exception as exc:  # the store is another process: whatever it does, never a 500
            self._store_failed(exc)
            self._unavailable()
            return
        if self._failures:
            logger.info("rate-limit store reachable again after %d failed attempt(s)", self._failures)
            self._failures = 0
        state = runtime.PolicyState(
            policy=policy,
            quota=item.amount,
            window=item.get_expiry(),
            remaining=max(item.amount - count, 0),
            reset=max(math.ceil(window_end - time.time()), 0),
        )
        runtime.record(request.scope, state)
        if count > item.amount:
            raise runtime.TooManyRequests(state)

    async def _coalesced(self, storage: Storage, key: str, policy: str, item: RateLimitItem) -> tuple[int, float]:
        """`storage.incr(key)` for one hit, sharing round trips: the hits of a key that arrive while one
        is on its way wait for it, then go together as one `incr` by their number (what `limits` calls a
        hit's cost) plus the block reserved behind them. Each hit gets the count it would have had alone,
        in the order they arrived, and the window's end."""
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = _Batch(asyncio.get_running_loop().create_future())
            task = asyncio.create_task(self._send(storage, key, policy, item, batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        batch.size += 1
        position = batch.size
        total, window_end = await batch.counted
        return total - self._reserves[policy] - batch.size + position, window_end

    async def _send(self, storage: Storage, key: str, policy: str, item: RateLimitItem, batch: _Batch) -> None:
        del self._batches[key]  # later hits make the next batch
        ahead = self._reserves[policy]
        try:
            amount = batch.size + ahead
            total = await storage.incr(key, item.get_expiry(), amount=amount)
            window_end = await self._window_end(storage, key, item, total == amount, time.time())
        except Exception as exc:  # every hit of the batch sees it, and fails open (or closed) on its own
            batch.counted.set_exception(exc)
            return
        # The block: the reserved counts (after the batch's own) that the quota still admits.
        if len(self._blocks) >= _MAX_REMEMBERED_WINDOWS:
            now = time.time()
            self._blocks = {k: b for k, b in self._blocks.items() if b.window_end > now}
        self._blocks[key] = _Block(total - ahead + 1, min(total, item.amount), window_end)
        batch.counted.set_result((total, window_end))

    async def _window_end(self, storage: Storage, key: str, item: RateLimitItem, started: bool, now: float) -> float:
        """When the key's current window ends (the store's clock and this one agree to within a round trip);
        `started`: this hit began the window."""
        if started:
            # This hit started the window: it ends one window from now.
            end = now + item.get_expiry()
        else:
            remembered = self._window_ends.get(key)
            if remembered is not None and remembered > now:
                return remembered
            # Redis answers whole seconds, rounded: half a second more keeps Retry-After from being early
            # (and no window ends later than one window from now).
            end = min(await storage.get_expiry(key) + 0.5, now + item.get_expiry())
        if len(self._window_ends) >= _MAX_REMEMBERED_WINDOWS:
            self._window_ends = {k: v for k, v in self._window_ends.items() if v > now}
            if len(self._window_ends) >= _MAX_REMEMBERED_WINDOWS:
                self._window_ends.clear()
        self._window_ends[key] = end
        return end

    def _store_failed(self, exc: Exception) -> None:
        """Leave the store alone for a moment, and say so (at most once a minute)."""
        self._failures += 1
        monotonic = time.monotonic()
        self._store_down_until = time.time() + RETRY_STORE_SECONDS
        if monotonic - self._warned_at >= WARN_EVERY_SECONDS:
            self._warned_at = monotonic
            what = "serving without rate limits" if self._fail_open else "answering 503"
            logger.warning("rate-limit store unreachable (%s: %s): %s until it answers", type(exc).__name__, exc, what)

    def _unavailable(self) -> None:
        if not self._fail_open:
            raise RateLimiterUnavailable()


class Unlimited:
    """Implements `runtime.RateLimiter[Principal]` when rate limiting is off (TASKAPI_RATE_LIMITING=false):
    counts nothing, records nothing."""

    async def open(self) -> None:
        """Nothing to open."""

    async def close(self) -> None:
        """Nothing to close."""

    def user_key(self, principal: Principal) -> str:
        return ""

    async def hit(self, request: Request, policy: str, key: str) -> None:
        """Let every request through."""


def rate_limiter(settings: Settings, policies: Mapping[str, str]) -> RateLimiter | Unlimited:
    """The limiter the settings ask for, over the spec's `policies`."""
    if not settings.rate_limiting:
        return Unlimited()
    return RateLimiter.from_settings(settings, policies)


def _redacted(url: str) -> str:
    """The URL without its password, for the log."""
    scheme, sep, rest = url.partition("://")
    _, at, location = rest.rpartition("@")
    return f"{scheme}{sep}***@{location}" if at else url
