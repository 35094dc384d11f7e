"""The RateLimit fields as draft-ietf-httpapi-ratelimit-headers writes them, the 429, and the settings of
the rate limiter."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from taskapi import runtime
from taskapi.generated import server
from taskapi.ratelimit import RateLimiter, _redacted, reserve
from taskapi.settings import Settings, rate_limit, redis_storage_url

LOGIN = runtime.PolicyState(policy="login-client", quota=20, window=60, remaining=19, reset=42)
USERNAME = runtime.PolicyState(policy="login-username", quota=10, window=60, remaining=0, reset=7)


def test_the_fields_of_one_policy() -> None:
    assert runtime.ratelimits.policy_field([LOGIN]) == '"login-client";q=20;w=60'
    assert runtime.ratelimits.ratelimit_field([LOGIN]) == '"login-client";r=19;t=42'


def test_the_fields_of_several_policies_are_lists_in_the_order_counted() -> None:
    assert runtime.ratelimits.policy_field([LOGIN, USERNAME]) == '"login-client";q=20;w=60, "login-username";q=10;w=60'
    assert runtime.ratelimits.ratelimit_field([LOGIN, USERNAME]) == '"login-client";r=19;t=42, "login-username";r=0;t=7'


def test_the_fields_match_the_patterns_the_spec_declares() -> None:
    scope = {"type": "http"}
    runtime.record(scope, LOGIN)
    runtime.record(scope, USERNAME)
    headers = dict(runtime.ratelimits.ratelimit_headers(scope))
    assert re.fullmatch(server.MIDDLEWARE_HEADERS["RateLimit-Policy"], headers[b"ratelimit-policy"].decode())
    assert re.fullmatch(server.MIDDLEWARE_HEADERS["RateLimit"], headers[b"ratelimit"].decode())


def test_no_policy_counted_no_fields() -> None:
    assert runtime.ratelimits.ratelimit_headers({"type": "http"}) == []


def test_429_says_when_to_retry_never_sooner_than_a_second() -> None:
    refused = runtime.TooManyRequests(USERNAME)
    assert refused.status == 429
    assert refused.headers == {"Retry-After": "7"}
    assert "login-username" in refused.detail
    assert runtime.TooManyRequests(runtime.PolicyState("user", 5, 1, 0, 0)).headers == {"Retry-After": "1"}


def test_the_client_address_is_the_scopes() -> None:
    assert runtime.client_address(Request({"type": "http", "client": ("203.0.113.9", 5000)})) == "203.0.113.9"
    assert runtime.client_address(Request({"type": "http", "client": None})) == "unknown"


@pytest.mark.parametrize(
    ("text", "amount", "seconds"), [("20/minute", 20, 60), ("3 per 2 seconds", 3, 2), ("1200/minute", 1200, 60)]
)
def test_limits_in_the_limits_notation(text: str, amount: int, seconds: int) -> None:
    item = rate_limit(text, "user")
    assert (item.amount, item.get_expiry()) == (amount, seconds)


@pytest.mark.parametrize("text", ["", "lots", "20/fortnight", "10/minute;100/hour"])
def test_other_limits_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not one limit"):
        rate_limit(text, "user")


def test_settings_read_limits_as_json_and_check_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKAPI_RATE_LIMITS", '{"user": "600/minute"}')
    assert Settings().rate_limits == {"user": "600/minute"}
    monkeypatch.setenv("TASKAPI_RATE_LIMITS", '{"user": "often"}')
    with pytest.raises(ValidationError, match="user: 'often' is not one limit"):
        Settings()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1:6379/0", "async+redis://127.0.0.1:6379/0"),
        ("rediss://:secret@cache:6380", "async+rediss://:secret@cache:6380"),
        ("async+redis://127.0.0.1:6379", "async+redis://127.0.0.1:6379"),
    ],
)
def test_redis_urls(url: str, expected: str) -> None:
    assert redis_storage_url(url) == expected


@pytest.mark.parametrize("url", ["127.0.0.1:6379", "memcached://cache:11211", "http://redis"])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="not a Redis URL"):
        redis_storage_url(url)


def test_the_log_never_shows_the_redis_password() -> None:
    assert _redacted("async+redis://:secret@cache:6379/0") == "async+redis://***@cache:6379/0"
    assert _redacted("async+redis://cache:6379") == "async+redis://cache:6379"


def test_the_deployments_limits_replace_the_specs_by_policy() -> None:
    settings = Settings(rate_limits={"user": "5/second"})
    limiter = RateLimiter.from_settings(settings, server.RATE_LIMIT_POLICIES)
    assert limiter.policies == {**server.RATE_LIMIT_POLICIES, "user": "5/second"}


@pytest.mark.parametrize(
    ("quota", "rate", "expected"),
    [
        (20, 0.0, 0),  # under a quota of 100, every hit is counted in the store
        (99, 10_000.0, 0),
        (100, 0.0, 2),  # 2% of the quota at most
        (1200, 0.0, 24),
        (10_000, 0.0, 100),  # at least 100 where the quota allows
        (1_000_000, 50.0, 100),
        (1_000_000, 5_000.0, 500),  # what the key uses in BLOCK_SECONDS
        (1_000_000, 1_000_000.0, 20_000),
    ],
)
def test_the_block_a_worker_reserves(quota: int, rate: float, expected: int) -> None:
    assert reserve(quota, rate) == expected
