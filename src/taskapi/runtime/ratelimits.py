"""Rate limits as the generated glue sees them: a `RateLimiter` it awaits, the 429 it raises, and the
IETF `RateLimit-Policy` / `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers) that `Dispatch`
adds to every response of a limited operation.

The spec declares the policies (`x-taskapi-rate-limit-policies`) and which ones each operation applies
(`x-taskapi-rate-limits`); the glue calls `hit()` once per policy, at the moment its key is known. The
limiter records the state of every policy it counted in the ASGI scope (`record()`), so the fields
describe exactly the policies that applied to this request, whatever the response turns out to be.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, TypeVar

from starlette.requests import Request
from starlette.types import Scope

from taskapi.runtime.errors import HttpError

# What the limiter records in the ASGI scope: the states of the policies counted for this request.
RATE_LIMITS = "taskapi.rate_limits"

PrincipalT_contra = TypeVar("PrincipalT_contra", contravariant=True)


class PolicyState(NamedTuple):
    """One policy as it stands after this request was counted: `quota` requests per `window` seconds,
    `remaining` of them left, the window ending in `reset` seconds."""

    policy: str
    quota: int
    window: int
    remaining: int
    reset: int


class RateLimiter(Protocol[PrincipalT_contra]):
    """Counts requests against the spec's policies; what the generated glue calls."""

    async def hit(self, request: Request, policy: str, key: str) -> None:
        """Count one request against `policy` for `key`, record the policy's state in the scope, and
        raise `TooManyRequests` when the request is over the limit."""
        ...

    def user_key(self, principal: PrincipalT_contra) -> str:
        """The key of an authenticated caller, for policies keyed by `user`."""
        ...


class TooManyRequests(HttpError):
    """429: a policy's quota is spent; `Retry-After` says when its window ends (the `RateLimit` fields,
    added by `Dispatch`, say which policy)."""

    status = 429

    def __init__(self, state: PolicyState) -> None:
        self.state = state
        retry_after = max(state.reset, 1)
        super().__init__(
            f"Too many requests: the {state.policy} limit allows {state.quota} per {state.window} s; "
            f"retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )


def client_address(request: Request) -> str:
    """The client's address as the server saw it (a trusted proxy's `X-Forwarded-For` under uvicorn's
    `--forwarded-allow-ips`), the key of policies keyed by `client`."""
    client = request.scope.get("client")
    return str(client[0]) if client else "unknown"


def record(scope: Scope, state: PolicyState) -> None:
    """Remember a policy's state for this request's `RateLimit-Policy` and `RateLimit` fields."""
    states: list[PolicyState] | None = scope.get(RATE_LIMITS)
    if states is None:
        scope[RATE_LIMITS] = [state]
    else:
        states.append(state)


def policy_field(states: list[PolicyState]) -> str:
    """`RateLimit-Policy`: each policy's quota and window, e.g. `"login-client";q=20;w=60`."""
    return ", ".join(f'"{s.policy}";q={s.quota};w={s.window}' for s in states)


def ratelimit_field(states: list[PolicyState]) -> str:
    """`RateLimit`: what each policy has left and when it resets, e.g. `"login-client";r=19;t=42`."""
    return ", ".join(f'"{s.policy}";r={s.remaining};t={s.reset}' for s in states)


# `RateLimit-Policy` values by the policies they describe (name, quota, window): they do not change while
# a server runs, so each is built once.
_policy_fields: dict[tuple[tuple[str, int, int], ...], bytes] = {}


def ratelimit_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The two fields for the policies recorded in the scope (none when none was counted)."""
    states: list[PolicyState] | None = scope.get(RATE_LIMITS)
    if not states:
        return []
    policies = tuple((s.policy, s.quota, s.window) for s in states)
    policy = _policy_fields.get(policies)
    if policy is None:
        if len(_policy_fields) >= 1024:  # only a misbehaving limiter makes this many
            _policy_fields.clear()
        policy = _policy_fields[policies] = policy_field(states).encode("latin-1")
    return [(b"ratelimit-policy", policy), (b"ratelimit", ratelimit_field(states).encode("latin-1"))]
