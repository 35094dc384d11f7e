"""The rate limiter the generated glue awaits (`runtime.RateLimiter`), on the `limits` library.

Counters live in each worker's memory by default, or in Redis (TASKAPI_REDIS_URL) so that a limit holds
across workers and hosts; keys carry a prefix per deployment (TASKAPI_RATE_LIMIT_KEY_PREFIX). The
strategy is the fixed window of `limits` (`FixedWindowRateLimiter.hit` is one `incr` of the storage,
compared with the quota). On Redis, a round trip costs more than the rest of a request, so a worker
takes them rarely:

- the concurrent requests of one key share one round trip (`_coalesced`: one `incr` by their number, each
  request its own count, in the order they arrived);
- for a quota of 100 or more a worker reserves a block ahead with the same `incr` (`reserve`: what the
  key used on this worker in the last BLOCK_SECONDS, at least 100 but never more than 2% of the quota) and admits
  the next requests of that key from it without asking Redis. Reserved counts are counted as used, so a
  client is never admitted past its quota; it may be refused up to one block per worker early, and the
  `r` it is told lags other workers' use by as much. Quotas under 100 reserve nothing and are exact.
- once a window is spent, the worker refuses that key locally until the window ends.

The count gives the `RateLimit` field's `r`; the window's end, fixed for the window's whole life, is
remembered per key, so `t` costs a second round trip only the first time a worker meets a window another
started. bench/README.md has the measurements behind the choice.

When the store fails (Redis down, or no answer within REDIS_TIMEOUT_SECONDS for a round trip, retries
of the Redis client included), the limiter fails open by default: the request is served unlimited and
without the RateLimit fields, one warning is logged (then at most one a minute while the store stays
down), and the store is not asked again for a second; an info line says when it answers again. With
TASKAPI_RATE_LIMIT_FAIL_OPEN=false it answers 503 with Retry-After instead. Either way, never a 500. Those
intervals are measured on the limiter's `Clock` (tests move it by hand).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from limits.aio.storage import MemoryStorage, Storage
from limits.storage import storage_from_string
from starlette.requests import Request

from taskapi import runtime
from taskapi.auth import Principal
from taskapi.clock import Clock, SystemClock
from taskapi.settings import Settings, rate_limit

logger = logging.getLogger("taskapi.ratelimit")

# How long a failed store is left alone (requests pass, or get 503) before it is tried again.
RETRY_STORE_SECONDS = 1.0
# While the store stays down, one warning per this many seconds.
WARN_EVERY_SECONDS = 60.0
# Redis must answer within this (seconds), or the request goes on as the store had failed: a bound on each
# round trip as a whole (the Redis client's own timeouts apply per attempt, and it retries).
REDIS_TIMEOUT_SECONDS = 0.5
# Window ends and reserved blocks remembered per worker (a few hundred bytes each); past this the
# expired ones are dropped.
_MAX_REMEMBERED_WINDOWS = 10_000
# A block reserved ahead on Redis: about what the key uses in this many seconds on this worker, at least
# _MIN_BLOCK counts, at most this fraction of the quota; none for quotas under _RESERVING_QUOTA.
BLOCK_SECONDS = 0.1
_MIN_BLOCK = 100
_RESERVE_FRACTION = 50
_RESERVING_QUOTA = 100


def reserve(quota: int, rate: float = 0.0) -> int:
    """How many counts a worker reserves ahead for a key of this quota that it sees `rate` times a second
    (0: every request asks the store)."""
    if quota < _RESERVING_QUOTA:
        return 0
    return min(quota // _RESERVE_FRACTION, max(_MIN_BLOCK, math.ceil(rate * BLOCK_SECONDS)))


@dataclass(frozen=True, slots=True)
class _Policy:
    """A policy as the limiter applies it: `quota` hits per `window` seconds; its storage keys start
    with `key_prefix`, which names the policy and its limit (a changed limit starts afresh)."""

    name: str
    quota: int
    window: int
    key_prefix: str

    @classmethod
    def parse(cls, name: str, text: str) -> _Policy:
        item = rate_limit(text, name)
        key_prefix = f"{name}/{item.amount}/{item.multiples}/{item.GRANULARITY.name}/"
        return cls(name, item.amount, item.get_expiry(), key_prefix)


@dataclass(slots=True)
class _Refill:
    """A round trip to the store for one key: done when the block it asked for is in `_blocks`; `waiting`
    hits joined it before it was sent."""

    done: asyncio.Future[None]
    waiting: int = 0


@dataclass(slots=True)
class _Block:
    """Counts a worker reserved for one key in the current window: it hands out `next` … `end` (the
    reserved counts the quota admits), then asks the store again, unless `end` reached the quota: then
    the window is spent. Valid until `window_end`. It began at count `first`, at `started` (monotonic
    seconds): how fast it is used sizes the next one."""

    next: int
    end: int
    window_end: float
    first: int
    started: float

    def rate(self, now: float) -> float:
        """Hits a second this block has seen so far."""
        return (self.next - self.first) / max(now - self.started, 1e-3)


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
        timeout: float = REDIS_TIMEOUT_SECONDS,
        clock: Clock | None = None,
    ) -> None:
        self.policies = dict(policies)
        """Each policy's limit as this limiter applies it, in the `limits` notation."""
        self._policies = {name: _Policy.parse(name, text) for name, text in policies.items()}
        self._redis_url = redis_url
        self._key_prefix = key_prefix
        self._fail_open = fail_open
        self._timeout = timeout
        self._clock = clock or SystemClock()
        self._storage: Storage | None = None
        self._window_ends: dict[str, float] = {}
        self._blocks: dict[str, _Block] = {}
        # Redis: concurrent hits of one key share round trips (`_coalesced`); memory answers at once.
        self._coalesce = redis_url is not None
        self._refills: dict[str, _Refill] = {}
        self._sending: set[asyncio.Task[None]] = set()
        # While the store is left alone after a failure: until this reading of the clock's monotonic().
        self._store_down_until: float | None = None
        self._warned_at = -math.inf
        self._failures = 0
        self.on_refusal: Callable[[str], None] = _ignore
        """Called with the policy's name on every 429 (the app counts them in its metrics)."""

    @classmethod
    def from_settings(
        cls, settings: Settings, policies: Mapping[str, str], *, clock: Clock | None = None
    ) -> RateLimiter:
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
            clock=clock,
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
            connect_timeout=self._timeout,
            stream_timeout=self._timeout,
        )
        assert isinstance(storage, Storage)  # noqa: S101 - an async+ URL gives an async storage
        self._storage = storage
        if not await self.store_ready():
            self._store_failed(ConnectionError(f"no answer from {_redacted(self._redis_url)}"))

    async def close(self) -> None:
        """Close the store's connections (`limits` storages have no close(): the Redis client's pool does)."""
        pool: Any = getattr(getattr(getattr(self._storage, "bridge", None), "storage", None), "connection_pool", None)
        if pool is not None:
            pool.disconnect()
        self._storage = None

    @property
    def fails_open(self) -> bool:
        """Whether requests are served without limits while the store is down (else 503)."""
        return self._fail_open

    async def store_ready(self) -> bool | None:
        """Whether Redis answers a PING within the store's timeout (None: counts are in memory)."""
        if self._redis_url is None or self._storage is None:
            return None
        try:
            async with asyncio.timeout(self._timeout):
                return bool(await self._storage.check())
        except Exception:
            return False

    def user_key(self, principal: Principal) -> str:
        """Users are counted by id: a renamed user keeps its count, a new user with an old name does not."""
        return str(principal.user_id)

    async def hit(self, request: Request, policy: str, key: str) -> None:
        """Count the request against `policy` for `key`; record the policy's state; 429 over the limit."""
        applied = self._policies[policy]
        storage = self._storage
        if storage is None:
            # Closed: the worker is shutting down (or its lifespan never opened it). Like a closed database,
            # this is "not now", never a 500.
            raise RateLimiterUnavailable()
        if self._store_down_until is not None and self._clock.monotonic() < self._store_down_until:
            self._unavailable()
            return
        now = time.time()
        storage_key = applied.key_prefix + key
        block = self._blocks.get(storage_key) if self._coalesce else None
        try:
            if block is not None and now < block.window_end and (block.next <= block.end or block.end >= applied.quota):
                # Admitted from the block this worker reserved; or refused, the window being spent.
                count = block.next
                block.next += 1
                window_end = block.window_end
            else:
                if self._coalesce:
                    count, window_end = await self._coalesced(storage, storage_key, applied)
                else:
                    count = await storage.incr(storage_key, applied.window)
                    window_end = await self._window_end(storage, storage_key, applied, count == 1, time.time())
                now = time.time()
        except Exception as exc:  # the store is another process: whatever it does, never a 500
            self._store_failed(exc)
            self._unavailable()
            return
        if self._failures:
            logger.info("rate-limit store reachable again after %d failed attempt(s)", self._failures)
            self._failures = 0
            self._store_down_until = None
        quota = applied.quota
        state = runtime.PolicyState(
            policy, quota, applied.window, max(quota - count, 0), max(math.ceil(window_end - now), 0)
        )
        runtime.record(request.scope, state)
        if count > quota:
            self.on_refusal(policy)
            raise runtime.TooManyRequests(state)

    async def _coalesced(self, storage: Storage, key: str, policy: _Policy) -> tuple[int, float]:
        """The count of one hit whose key has no usable block: it waits for the key's refill (starting one
        when none is on its way), then takes the next count of the block the refill made. The hits that
        arrive while a refill is being sent share it: it asks the store for all of them at once (one
        `incr` by their number, what `limits` calls a hit's cost) plus the block reserved behind them, and
        they take their counts in the order they arrived. A hit that finds the block used up by the time
        it wakes (it joined a refill already sent, and the quota reserves nothing) waits for the next."""
        while True:
            refill = self._refills.get(key)
            if refill is None:
                refill = self._refills[key] = _Refill(asyncio.get_running_loop().create_future())
                task = asyncio.create_task(self._refill(storage, key, policy, refill))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
            refill.waiting += 1
            # Shielded: a waiting request that is cancelled must not cancel the others' refill.
            await asyncio.shield(refill.done)
            block = self._blocks.get(key)
            if block is not None and (block.next <= block.end or block.end >= policy.quota):
                count = block.next
                block.next += 1
                return count, block.window_end

    async def _refill(self, storage: Storage, key: str, policy: _Policy, refill: _Refill) -> None:
        """One round trip for the hits waiting on `refill` (those that joined before it is sent): the
        counts they take, then the block reserved behind them, sized by how fast the last one went."""
        started = time.monotonic()
        previous = self._blocks.get(key)
        try:
            amount = refill.waiting + reserve(policy.quota, 0.0 if previous is None else previous.rate(started))
            async with asyncio.timeout(self._timeout):
                total = await storage.incr(key, policy.window, amount=amount)
                window_end = await self._window_end(storage, key, policy, total == amount, time.time())
        except Exception as exc:  # every waiting hit sees it, and fails open (or closed) on its own
            refill.done.set_exception(exc)
            return
        finally:
            del self._refills[key]  # hits from now on make the next refill
        if len(self._blocks) >= _MAX_REMEMBERED_WINDOWS:
            now = time.time()
            self._blocks = {k: b for k, b in self._blocks.items() if b.window_end > now}
        # The counts the quota admits, from the first waiting hit's on; past the quota they are refusals.
        first = total - amount + 1
        self._blocks[key] = _Block(first, min(total, policy.quota), window_end, first, started)
        refill.done.set_result(None)

    async def _window_end(self, storage: Storage, key: str, policy: _Policy, started: bool, now: float) -> float:
        """When the key's current window ends (the store's clock and this one agree to within a round trip);
        `started`: this hit began the window."""
        if started:
            # This hit started the window: it ends one window from now.
            end = now + policy.window
        else:
            remembered = self._window_ends.get(key)
            if remembered is not None and remembered > now:
                return remembered
            # Redis answers whole seconds, rounded: half a second more keeps Retry-After from being early
            # (and no window ends later than one window from now).
            end = min(await storage.get_expiry(key) + 0.5, now + policy.window)
        if len(self._window_ends) >= _MAX_REMEMBERED_WINDOWS:
            self._window_ends = {k: v for k, v in self._window_ends.items() if v > now}
            if len(self._window_ends) >= _MAX_REMEMBERED_WINDOWS:
                self._window_ends.clear()
        self._window_ends[key] = end
        return end

    def _store_failed(self, exc: Exception) -> None:
        """Leave the store alone for a moment, and say so (at most once a minute)."""
        self._failures += 1
        monotonic = self._clock.monotonic()
        self._store_down_until = monotonic + RETRY_STORE_SECONDS
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

    fails_open = True

    def __init__(self) -> None:
        self.on_refusal: Callable[[str], None] = _ignore
        """Never called: nothing is refused."""

    async def store_ready(self) -> None:
        """No store to ask."""

    def user_key(self, principal: Principal) -> str:
        return ""

    async def hit(self, request: Request, policy: str, key: str) -> None:
        """Let every request through."""


def rate_limiter(
    settings: Settings, policies: Mapping[str, str], *, clock: Clock | None = None
) -> RateLimiter | Unlimited:
    """The limiter the settings ask for, over the spec's `policies`, timing the store's failures on `clock`."""
    if not settings.rate_limiting:
        return Unlimited()
    return RateLimiter.from_settings(settings, policies, clock=clock)


def _ignore(_policy: str) -> None:
    """No one listens for refusals."""


def _redacted(url: str) -> str:
    """The URL without its password, for the log."""
    scheme, sep, rest = url.partition("://")
    _, at, location = rest.rpartition("@")
    return f"{scheme}{sep}***@{location}" if at else url
