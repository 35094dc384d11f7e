"""The rate limiter on a real Redis (TASKAPI_TEST_REDIS_URL, default 127.0.0.1:6379; the tests fail when
it is not there): concurrent requests of one key share round trips yet each gets its own count, and a
worker that meets a window another one started learns when it ends."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import coredis
import pytest
from starlette.requests import Request

from taskapi import runtime
from taskapi.ratelimit import REDIS_TIMEOUT_SECONDS, RETRY_STORE_SECONDS, RateLimiter, RateLimiterUnavailable, reserve
from taskapi.testing.clock import ManualClock
from taskapi.testing.faults import FaultyProxy
from taskapi.testing.redis import key_prefix, redis_reachable, redis_url

pytestmark = pytest.mark.anyio
# Bounds a request that should have been answered long before: a limiter that does not give up on a
# silent Redis fails its test instead of hanging it.
HANG_SECONDS = 5.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def limiters() -> AsyncIterator[list[RateLimiter]]:
    """Two limiters (two workers, as it were) counting in the same Redis under a prefix of their own."""
    url = redis_url()
    if (why := redis_reachable(url)) is not None:
        pytest.fail(f"the rate-limit tests need Redis at {url}: {why}", pytrace=False)
    prefix = key_prefix("limiter")
    made = [RateLimiter({"user": "40/minute"}, redis_url=f"async+{url}", key_prefix=prefix) for _ in range(2)]
    for limiter in made:
        await limiter.open()
    yield made
    for limiter in made:
        await limiter.close()


async def hit(limiter: RateLimiter, key: str) -> tuple[int, runtime.PolicyState]:
    """One request: its status (200 or 429) and the state the limiter recorded."""
    scope: dict[str, Any] = {"type": "http"}
    try:
        await limiter.hit(Request(scope), "user", key)
        status = 200
    except runtime.TooManyRequests:
        status = 429
    [state] = scope[runtime.RATE_LIMITS]
    return status, state


async def test_concurrent_requests_of_one_key_each_get_their_own_count(limiters: list[RateLimiter]) -> None:
    first, second = limiters
    results = await asyncio.gather(*(hit(first if n % 2 else second, "7") for n in range(50)))
    statuses = [status for status, _ in results]
    assert statuses.count(200) == 40
    assert statuses.count(429) == 10
    remaining = sorted(state.remaining for status, state in results if status == 200)
    assert remaining == list(range(40))  # every count from 1 to 40 once: none lost, none shared
    assert all(state.remaining == 0 for status, state in results if status == 429)
    assert all(0 < state.reset <= 60 for _, state in results)


async def test_a_worker_learns_when_another_workers_window_ends(limiters: list[RateLimiter]) -> None:
    first, second = limiters
    _, started = await hit(first, "8")
    await asyncio.sleep(1.1)
    _, met = await hit(second, "8")  # its first hit of this window, not the window's first
    assert started.remaining == 39 and met.remaining == 38
    assert started.reset == 60
    assert 57 <= met.reset <= 60


async def counting_limiters(
    monkeypatch: pytest.MonkeyPatch, limit: str, workers: int, prefix: str
) -> tuple[list[RateLimiter], list[int]]:
    """`workers` limiters on one Redis under a prefix of their own, opened; the list counts their `incr`
    round trips (its one element)."""
    round_trips = [0]
    made = [RateLimiter({"user": limit}, redis_url=f"async+{redis_url()}", key_prefix=prefix) for _ in range(workers)]
    for limiter in made:
        await limiter.open()
        storage: Any = limiter._storage
        incr = storage.incr

        async def counted(*args: Any, incr: Any = incr, **kwargs: Any) -> int:
            round_trips[0] += 1
            return int(await incr(*args, **kwargs))

        monkeypatch.setattr(storage, "incr", counted)
    return made, round_trips


async def test_a_large_quota_is_counted_in_blocks_and_never_exceeded(monkeypatch: pytest.MonkeyPatch) -> None:
    workers, round_trips = await counting_limiters(monkeypatch, "1000/minute", 2, key_prefix("blocks"))
    try:
        statuses: list[int] = []
        for n in range(1200):  # one at a time (no round trips to share), alternating between the workers
            status, _ = await hit(workers[n % 2], "9")
            statuses.append(status)
    finally:
        for limiter in workers:
            await limiter.close()
    admitted = statuses.count(200)
    # Reserved counts are spent counts: never past the quota, at most a block per worker short of it.
    assert 1000 - 2 * reserve(1000) <= admitted <= 1000
    assert 429 not in statuses[: 1000 - 2 * reserve(1000)]  # nobody refused while the quota surely lasts
    assert round_trips[0] <= 1000 / reserve(1000) + 2, round_trips  # a round trip per block, not per request


async def test_a_busy_keys_blocks_grow_with_its_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    [worker], round_trips = await counting_limiters(monkeypatch, "1000000/minute", 1, key_prefix("busy"))
    try:
        results: list[tuple[int, runtime.PolicyState]] = []
        for _ in range(80):  # 64 concurrent requests at a time, as fast as the limiter goes
            results += await asyncio.gather(*(hit(worker, "10") for _ in range(64)))
    finally:
        await worker.close()
    remaining = [state.remaining for _, state in results]
    assert [status for status, _ in results] == [200] * len(results)
    assert len(set(remaining)) == len(results)  # every request its own count
    # Blocks of the least size (100) would take at least 5,120 / (100 + 64) = 32 round trips; blocks sized
    # by the key's rate (what it uses in BLOCK_SECONDS) take far fewer.
    assert round_trips[0] <= 16, round_trips


async def keys_under(prefix: str) -> dict[str, int]:
    """Every key in the tests' Redis that starts with `prefix`, and its count."""
    client = coredis.Redis.from_url(redis_url(), decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        return {key: int(await client.get(key) or 0) for key in keys}
    finally:
        client.connection_pool.disconnect()


async def test_keys_in_redis_start_with_the_deployments_prefix(limiters: list[RateLimiter]) -> None:
    first, _ = limiters
    for _ in range(3):
        await hit(first, "11")
    prefix = first._key_prefix
    assert await keys_under(prefix) == {f"{prefix}:user/40/1/minute/11": 3}


async def test_deployments_with_other_prefixes_count_apart() -> None:
    url = f"async+{redis_url()}"
    one, other = key_prefix("deployment-one"), key_prefix("deployment-two")
    made = [RateLimiter({"user": "3/minute"}, redis_url=url, key_prefix=prefix) for prefix in (one, one, other)]
    for limiter in made:
        await limiter.open()
    try:
        first, second_worker, elsewhere = made
        assert [(await hit(first, "12"))[0] for _ in range(3)] == [200, 200, 200]
        assert (await hit(second_worker, "12"))[0] == 429  # the same deployment: the quota is spent
        status, state = await hit(elsewhere, "12")  # another deployment sharing the Redis: its own count
        assert (status, state.remaining) == (200, 2)
    finally:
        for limiter in made:
            await limiter.close()


@pytest.fixture
def redis_proxy() -> Iterator[FaultyProxy]:
    """A proxy to the tests' Redis, forwarding until a test breaks it."""
    url = redis_url()
    if (why := redis_reachable(url)) is not None:
        pytest.fail(f"the rate-limit tests need Redis at {url}: {why}", pytrace=False)
    parts = urlsplit(url)
    with FaultyProxy((parts.hostname or "127.0.0.1", parts.port or 6379)) as proxy:
        yield proxy


def through(
    proxy: FaultyProxy,
    *,
    fail_open: bool = True,
    timeout: float = REDIS_TIMEOUT_SECONDS,
    clock: ManualClock | None = None,
) -> RateLimiter:
    return RateLimiter(
        {"user": "40/minute"},
        redis_url=f"async+redis://127.0.0.1:{proxy.port}/0",
        key_prefix=key_prefix("faults"),
        fail_open=fail_open,
        timeout=timeout,
        clock=clock or ManualClock(),
    )


async def timed_hit(limiter: RateLimiter, key: str) -> tuple[int | None, float]:
    """One request against a store that may not answer: its status (None when it went through without
    being counted, the limiter having failed open; 503 when it failed closed) and how long it took."""
    scope: dict[str, Any] = {"type": "http"}
    started = time.monotonic()
    try:
        await asyncio.wait_for(limiter.hit(Request(scope), "user", key), HANG_SECONDS)
        status = 200 if scope.get(runtime.RATE_LIMITS) else None
    except RateLimiterUnavailable:
        status = 503
    return status, time.monotonic() - started


@pytest.mark.serial
@pytest.mark.parametrize("fail_open", [True, False], ids=["fails open", "fails closed"])
async def test_a_redis_that_never_answers_is_given_up_on_within_the_timeout(
    redis_proxy: FaultyProxy, fail_open: bool
) -> None:
    timeout = 0.2
    clock = ManualClock()
    limiter = through(redis_proxy, fail_open=fail_open, timeout=timeout, clock=clock)
    await limiter.open()
    try:
        assert (await timed_hit(limiter, "13"))[0] == 200
        redis_proxy.stall()  # connected, and from now on nothing comes back
        status, took = await timed_hit(limiter, "13")
        assert status == (None if fail_open else 503)
        # The timeout bounds the round trip as a whole: the Redis client's own timeouts are per attempt,
        # and it makes three.
        assert timeout <= took < 2 * timeout, took
        clock.advance(RETRY_STORE_SECONDS)
        redis_proxy.forward()
        assert (await timed_hit(limiter, "13"))[0] == 200
    finally:
        redis_proxy.forward()
        await limiter.close()


@pytest.mark.serial
async def test_opening_on_a_redis_that_never_answers_takes_the_timeout(
    redis_proxy: FaultyProxy, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = through(redis_proxy, timeout=0.2)
    redis_proxy.stall()
    started = time.monotonic()
    try:
        await asyncio.wait_for(limiter.open(), HANG_SECONDS)
        took = time.monotonic() - started
        assert 0.2 <= took < 0.4, took
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1
        assert warnings[0].startswith("rate-limit store unreachable")
    finally:
        redis_proxy.forward()
        await limiter.close()


async def test_an_unreachable_redis_is_left_alone_for_a_second_and_warned_about_once_a_minute(
    redis_proxy: FaultyProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskapi.ratelimit")
    clock = ManualClock()
    limiter = through(redis_proxy, clock=clock)
    redis_proxy.refuse()  # down, from the start

    def warnings() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if r.name == "taskapi.ratelimit" and r.levelno >= logging.WARNING
        ]

    def infos() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "taskapi.ratelimit" and r.levelno == logging.INFO]

    await limiter.open()
    try:
        assert len(warnings()) == 1
        assert warnings()[0].startswith("rate-limit store unreachable (")
        assert warnings()[0].endswith("): serving without rate limits until it answers")
        tried = redis_proxy.connections
        # Within a second of the failure, requests go through uncounted, and Redis is not asked.
        for _ in range(3):
            assert (await timed_hit(limiter, "14"))[0] is None
        clock.advance(RETRY_STORE_SECONDS - 0.001)
        assert (await timed_hit(limiter, "14"))[0] is None
        assert redis_proxy.connections == tried
        # Then it is tried again (and fails again: no second warning within the minute).
        clock.advance(0.001)
        assert (await timed_hit(limiter, "14"))[0] is None
        assert redis_proxy.connections > tried
        for _ in range(58):
            clock.advance(RETRY_STORE_SECONDS)
            assert (await timed_hit(limiter, "14"))[0] is None
        assert len(warnings()) == 1  # 59 s after the first one
        clock.advance(RETRY_STORE_SECONDS)
        assert (await timed_hit(limiter, "14"))[0] is None
        assert len(warnings()) == 2  # a minute after it
        assert infos()[-1].startswith("rate limits")  # nothing said about Redis answering yet
        # Redis answers again: after the pause, the next request is counted, and an info line says so.
        redis_proxy.forward()
        clock.advance(RETRY_STORE_SECONDS)
        assert (await timed_hit(limiter, "14"))[0] == 200
        assert infos()[-1] == "rate-limit store reachable again after 61 failed attempt(s)"  # open, then 60 tries
        assert (await timed_hit(limiter, "14"))[0] == 200
        assert len([m for m in infos() if "reachable again" in m]) == 1
        assert len(warnings()) == 2
    finally:
        redis_proxy.forward()
        await limiter.close()
