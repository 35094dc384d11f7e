"""Sign-in under attack, on a server with the spec's rate limits as they ship: 200 wrong passwords for
one account, 200 guesses from one address, 150 bad sign-ins at once from one address and from 150, while
a real user signs in; and the same answer after the same work for an unknown user and a wrong password.

Every request of a test run comes from 127.0.0.1, which would make the `login-client` policy (per
address) one counter for attackers and real users alike: a test of it would say nothing about production.
The floods' server trusts X-Forwarded-For from 127.0.0.1 (as it would a reverse proxy), so each client
here has an address of its own, and each policy counts what it counts in production."""

from __future__ import annotations

import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable

import httpx
import limits
import pytest

from taskapi.testing.liveserver import LiveServer
from taskapi.testing.wire import Answer, Wire, request
from tests.hostile.conftest import PASSWORD, PASSWORD_QUEUE_LIMIT, User, sign_up
from tests.hostile.documented import SPEC, assert_documented
from tests.hostile.state import DatabaseState

# Latency under a flood, and equal timings: the machine to themselves.
pytestmark = [pytest.mark.hostile, pytest.mark.serial]
POLICIES = {name: limits.parse(text) for name, text in SPEC.rate_limit_policies.items()}
PER_USERNAME = POLICIES["login-username"].amount
PER_ADDRESS = POLICIES["login-client"].amount
FLOOD = 200
CONCURRENT = 150
SPENT = re.compile(r'"(login-client|login-username)";r=0;t=(\d+)')
HASHING_SLOTS = 2  # Argon2 hashes a worker runs at once (taskapi.auth)


def sign_in(http: httpx.Client, username: str, password: str, address: str) -> httpx.Response:
    form = {"grant_type": "password", "username": username, "password": password}
    return http.post("/auth/token", data=form, headers={"X-Forwarded-For": address})


def assert_spent(response: httpx.Response | Answer, policy: str | None = None) -> None:
    """A 429 naming a sign-in policy (`policy`, when given) as spent, with a Retry-After no later than the
    end of that policy's window."""
    assert_documented(response, "createToken", 429)
    answer = response if isinstance(response, Answer) else Answer.of(response)
    spent = SPENT.search(answer.headers["ratelimit"])
    assert spent is not None and spent.group(1) == (policy or spent.group(1)), answer.headers
    item = POLICIES[spent.group(1)]
    assert 1 <= int(answer.headers["retry-after"]) <= item.get_expiry(), answer.headers
    assert f'"{spent.group(1)}";q={item.amount};w={item.get_expiry()}' in answer.headers["ratelimit-policy"]


@pytest.fixture(scope="module")
def victim(floods_server: LiveServer) -> User:
    return sign_up(floods_server, "victim", token=False)  # not signed in: every sign-in below is counted


def test_200_wrong_passwords_for_one_account_are_429_past_its_limit(
    floods_server: LiveServer, floods_db: DatabaseState, victim: User
) -> None:
    with floods_db.unchanged(), httpx.Client(base_url=floods_server.base_url, timeout=30) as http:
        answers = [sign_in(http, victim.username, f"guess number {n:04d}", "203.0.113.1") for n in range(FLOOD)]
        # The owner, from an address of its own, is held to the same window (the policy's trade-off: at
        # most a minute), while other accounts are not held at all.
        owner = sign_in(http, victim.username, PASSWORD, "198.51.100.1")
    statuses = [answer.status_code for answer in answers]
    assert statuses == [401] * PER_USERNAME + [429] * (FLOOD - PER_USERNAME), Counter(statuses)
    for answer in answers[:PER_USERNAME]:
        assert_documented(answer, "createToken", 401)
    for answer in answers[PER_USERNAME:]:
        assert_spent(answer)
    assert_spent(owner, "login-username")


def test_200_guesses_from_one_address_are_429_past_its_limit(
    floods_server: LiveServer, floods_db: DatabaseState
) -> None:
    other = sign_up(floods_server, "bystander")
    with floods_db.unchanged(), httpx.Client(base_url=floods_server.base_url, timeout=30) as http:
        answers = [sign_in(http, f"user{n:03d}", "a guessed password", "203.0.113.2") for n in range(FLOOD)]
    statuses = [answer.status_code for answer in answers]
    assert statuses == [401] * PER_ADDRESS + [429] * (FLOOD - PER_ADDRESS), Counter(statuses)
    for answer in answers[PER_ADDRESS:]:
        assert_spent(answer, "login-client")
    with httpx.Client(base_url=floods_server.base_url, timeout=30) as http:
        assert sign_in(http, other.username, PASSWORD, "198.51.100.2").status_code == 200


def solo_sign_in_seconds(server: LiveServer, user: User) -> float:
    """The median time of a sign-in with nothing else going on."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        durations = []
        for n in range(3):
            started = time.monotonic()
            assert sign_in(http, user.username, PASSWORD, f"192.0.2.{n}").status_code == 200
            durations.append(time.monotonic() - started)
    return statistics.median(durations)


def sign_in_burst(addresses: int, subnet: int, grant_type: str = "password") -> list[bytes]:
    """CONCURRENT raw sign-ins of unknown usernames from `addresses` addresses, 10.<addresses>.<subnet>.x
    (each burst its own: the rate-limit windows outlive a test)."""
    return [
        request(
            "POST",
            "/auth/token",
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Forwarded-For": f"10.{addresses}.{subnet}.{n % addresses + 1}",
            },
            f"grant_type={grant_type}&username=flood{n}&password=a+guessed+password".encode(),
        )
        for n in range(CONCURRENT)
    ]


def burst(
    server: LiveServer, requests: list[bytes], meanwhile: Callable[[], None] = lambda: None
) -> list[tuple[Answer, float]]:
    """Send each request on a connection of its own, all at once, and run `meanwhile` in a thread; each
    answer, with the seconds from the burst until it was read (no sooner than it came)."""
    wires = [Wire(server.base_url) for _ in requests]
    try:
        sent = time.monotonic()
        for wire, raw in zip(wires, requests, strict=True):
            wire.send(raw)
        thread = threading.Thread(target=meanwhile)
        thread.start()
        answers = []
        for wire in wires:
            answer = wire.answer(timeout=30)
            answers.append((answer, time.monotonic() - sent))
        thread.join(30)
    finally:
        for wire in wires:
            wire.close()
    return answers


@pytest.mark.parametrize("addresses", [1, CONCURRENT], ids=["from one address", f"from {CONCURRENT} addresses"])
def test_150_bad_sign_ins_at_once_never_queue_a_real_one(
    floods_server: LiveServer, floods_db: DatabaseState, addresses: int
) -> None:
    """150 bad sign-ins arrive at once, each for an unknown username (so the username policy holds none
    of them back), while a real user signs in. From one address the address's limit refuses all but
    its quota (429); from 150 the limits hold none back, and the Argon2 queue does: two hashes run, a
    few wait, the rest get 503 at once. Nobody waits behind the flood: every answer, the real user's
    included, comes within what the same burst costs without a hash plus what the bounded queue allows."""
    real = sign_up(floods_server, f"real{addresses}")
    solo = solo_sign_in_seconds(floods_server, real)
    # The same burst, refused before any hash (422: no such grant type), from addresses of its own.
    unhashed = max(seconds for _, seconds in burst(floods_server, sign_in_burst(addresses, 1, "nonsense")))
    # At worst a request waits for the queue ahead of it, hashed two at a time, then for its own hash; two
    # hashes at once take about twice as long as one alone (Argon2 is memory-bound, and the two cores are
    # shared with the event loop and this client); all tripled for a noisy machine. An unbounded queue
    # would make the last of 150 wait for 75 hashes (measured: 6 times this bound).
    bound = 3 * (unhashed + 2 * solo * (PASSWORD_QUEUE_LIMIT / HASHING_SLOTS + 1))
    real_answers: list[tuple[float, httpx.Response]] = []

    def real_sign_in() -> None:
        with httpx.Client(base_url=floods_server.base_url, timeout=30) as http:
            started = time.monotonic()
            answer = sign_in(http, real.username, PASSWORD, "198.51.100.9")
            real_answers.append((time.monotonic() - started, answer))

    with floods_db.unchanged():
        answers = burst(floods_server, sign_in_burst(addresses, 0), real_sign_in)
    statuses = Counter(answer.status for answer, _ in answers)
    slowest = max(seconds for _, seconds in answers)
    for answer, _ in answers:
        assert_documented(answer, "createToken", (401, 429, 503))
        if answer.status == 503:
            assert answer.headers["retry-after"] == "1"
    assert slowest < bound, f"the flood waited up to {slowest:.2f} s (bound {bound:.2f} s; {statuses})"
    [(waited, real_answer)] = real_answers
    assert waited < bound, f"the real sign-in took {waited:.2f} s (bound {bound:.2f} s): {real_answer.status_code}"
    if addresses == 1:
        assert statuses[429] == CONCURRENT - PER_ADDRESS, statuses
    else:
        assert statuses[429] == 0 and statuses[503] > 0, statuses
    assert real_answer.status_code in (200, 503), real_answer.text
    if real_answer.status_code == 503:  # the queue was full when it came: it is free again at once
        with httpx.Client(base_url=floods_server.base_url, timeout=30) as http:
            assert sign_in(http, real.username, PASSWORD, "198.51.100.9").status_code == 200


def test_an_unknown_user_and_a_wrong_password_take_the_same_time(server: LiveServer, alice: User) -> None:
    """Both are checked against an Argon2 hash (a dummy one for the unknown user), so the time of a 401
    does not tell whether the username exists. Measured alternately, on the main server (limits raised)."""
    durations: dict[str, list[float]] = {"wrong password": [], "unknown user": []}
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for n in range(15):
            for case, username in (("wrong password", alice.username), ("unknown user", f"nobody{n}")):
                started = time.monotonic()
                answer = sign_in(http, username, "not the password at all", "127.0.0.1")
                durations[case].append(time.monotonic() - started)
                assert_documented(answer, "createToken", 401)
                assert answer.json()["detail"] == "The username or password is wrong."
    wrong, unknown = (statistics.median(values) for values in durations.values())
    assert 2 / 3 < unknown / wrong < 3 / 2, (
        f"median 401: {wrong * 1000:.1f} ms wrong password, {unknown * 1000:.1f} ms unknown user"
    )
