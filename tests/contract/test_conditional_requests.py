"""Conditional requests over HTTP (RFC 9110 §8.8.3, §13), on the run's backend: every response
carrying one task has a strong ETag, its stored version (`"1"` when created, one more for each change);
GET with a matching If-None-Match (weak comparison) answers 304; PATCH, complete and DELETE with a stale or
weak If-Match (strong comparison) answer 412 and change nothing; another user's task or a missing one is 404
whatever the precondition; a malformed precondition is 400; TASKAPI_REQUIRE_IF_MATCH=true makes writes
without If-Match 428; and of concurrent writes carrying the same current If-Match exactly one wins."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from taskapi.testing.contract import random_credentials, sign_in
from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import InProcessServer
from tests.api.problems import assert_problem
from tests.contract.signed_in import client, rounds, serving

pytestmark = [pytest.mark.contract, pytest.mark.postgresql, pytest.mark.xdist_group("conditional_requests")]

# Concurrent writes of one task per race.
CONTENDERS = 10
STRONG_TAG = re.compile(r'"[0-9]+"')
MISSING_ID = 2**63 - 1
WRITES = ("updateTask", "completeTask", "deleteTask")


@pytest.fixture(scope="module")
def server(databases: Databases) -> Iterator[InProcessServer]:
    with serving(databases) as running:
        yield running


@pytest.fixture(scope="module")
def alice_token(server: InProcessServer) -> str:
    return sign_in(server.base_url, *random_credentials())


@pytest.fixture(scope="module")
def alice(server: InProcessServer, alice_token: str) -> Iterator[httpx.Client]:
    with client(server, alice_token) as http:
        yield http


@pytest.fixture(scope="module")
def bob(server: InProcessServer) -> Iterator[httpx.Client]:
    with client(server, sign_in(server.base_url, *random_credentials())) as http:
        yield http


@pytest.fixture(scope="module")
def strict_server(databases: Databases) -> Iterator[InProcessServer]:
    with serving(databases, require_if_match=True) as running:
        yield running


@pytest.fixture(scope="module")
def carol(strict_server: InProcessServer) -> Iterator[httpx.Client]:
    with client(strict_server, sign_in(strict_server.base_url, *random_credentials())) as http:
        yield http


def etag(response: httpx.Response) -> str:
    """The response's ETag, checked to be a strong tag of a version: `"<n>"`."""
    value: str | None = response.headers.get("etag")
    assert value is not None, f"no ETag on {response.request.method} {response.request.url.path}"
    assert STRONG_TAG.fullmatch(value), value
    return value


def tag(version: int) -> str:
    return f'"{version}"'


def changed_task(http: httpx.Client) -> tuple[dict[str, Any], str]:
    """A new task changed once (version 2, so that `"1"` is stale): its body and ETag, as GET shows them."""
    created = http.post("/tasks", json={"title": "original", "priority": 2})
    assert created.status_code == 201, created.text
    # With If-Match, which a server run with TASKAPI_REQUIRE_IF_MATCH=true requires.
    changed = http.patch(
        f"/tasks/{created.json()['id']}", json={"description": "changed once"}, headers={"If-Match": etag(created)}
    )
    assert changed.status_code == 200, changed.text
    got = http.get(f"/tasks/{created.json()['id']}")
    assert got.status_code == 200, got.text
    assert etag(got) == tag(2)
    return got.json(), etag(got)


def write(http: httpx.Client, operation: str, task_id: int, headers: dict[str, str] | None = None) -> httpx.Response:
    """One of the writes a precondition applies to, by its operationId."""
    path = f"/tasks/{task_id}"
    if operation == "updateTask":
        return http.patch(path, json={"title": "overwritten"}, headers=headers)
    if operation == "completeTask":
        return http.patch(f"{path}/complete", headers=headers)
    return http.delete(path, headers=headers)


def assert_unchanged(http: httpx.Client, task: dict[str, Any], current: str) -> None:
    """GET shows the task exactly as it was, with the same ETag."""
    got = http.get(f"/tasks/{task['id']}")
    assert got.status_code == 200, got.text
    assert got.json() == task
    assert etag(got) == current


def assert_written(http: httpx.Client, operation: str, response: httpx.Response, task: dict[str, Any]) -> None:
    """The write went through: 200 with the next version as its ETag (GET agrees), or 204 and the task gone."""
    if operation == "deleteTask":
        assert response.status_code == 204, response.text
        assert http.get(f"/tasks/{task['id']}").status_code == 404
        return
    assert response.status_code == 200, response.text
    assert etag(response) == tag(3) == etag(http.get(f"/tasks/{task['id']}"))
    if operation == "updateTask":
        assert response.json()["title"] == "overwritten"
    else:
        assert response.json()["completed"] is True


def test_every_task_response_carries_its_version_as_a_strong_etag(alice: httpx.Client) -> None:
    created = alice.post("/tasks", json={"title": "versioned"})
    assert created.status_code == 201, created.text
    path = f"/tasks/{created.json()['id']}"
    assert etag(created) == tag(1)
    assert etag(alice.get(path)) == tag(1)

    first = alice.patch(path, json={"title": "renamed"})
    assert (first.status_code, etag(first)) == (200, tag(2))
    assert etag(alice.get(path)) == tag(2)
    second = alice.patch(path, json={"priority": 5, "description": "more"})
    assert (second.status_code, etag(second)) == (200, tag(3))
    assert etag(alice.get(path)) == tag(3)

    completed = alice.patch(f"{path}/complete")
    assert (completed.status_code, etag(completed)) == (200, tag(4))
    again = alice.patch(f"{path}/complete")
    assert (again.status_code, etag(again)) == (200, tag(4))
    assert again.json() == completed.json()  # completing a completed task changes nothing
    got = alice.get(path)
    assert (etag(got), got.json()) == (tag(4), completed.json())


@pytest.mark.parametrize("if_none_match", ["{tag}", "W/{tag}", '"999", W/"7", {tag}', "*"])
def test_get_with_a_matching_if_none_match_is_304_without_a_body(alice: httpx.Client, if_none_match: str) -> None:
    task, current = changed_task(alice)
    response = alice.get(f"/tasks/{task['id']}", headers={"If-None-Match": if_none_match.format(tag=current)})
    assert response.status_code == 304, response.text
    assert response.content == b""
    assert etag(response) == current
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("if_none_match", ['"999"', '"1"', 'W/"1", "3"'])
def test_get_with_an_if_none_match_that_does_not_match_is_200(alice: httpx.Client, if_none_match: str) -> None:
    task, current = changed_task(alice)
    response = alice.get(f"/tasks/{task['id']}", headers={"If-None-Match": if_none_match})
    assert response.status_code == 200, response.text
    assert response.json() == task
    assert etag(response) == current


@pytest.mark.parametrize("if_match", ["{tag}", '"1", {tag}, "999"', "*"])
@pytest.mark.parametrize("operation", WRITES)
def test_a_write_with_a_current_if_match_goes_through(alice: httpx.Client, operation: str, if_match: str) -> None:
    task, current = changed_task(alice)
    response = write(alice, operation, task["id"], {"If-Match": if_match.format(tag=current)})
    assert_written(alice, operation, response, task)


@pytest.mark.parametrize("if_match", ['"1"', '"1", "999"', 'W/"2"', 'W/"1", W/"2"'])
@pytest.mark.parametrize("operation", WRITES)
def test_a_write_with_a_stale_or_weak_if_match_is_412_and_changes_nothing(
    alice: httpx.Client, operation: str, if_match: str
) -> None:
    task, current = changed_task(alice)
    assert current == tag(2)  # so W/"2" is the current tag, weak: If-Match compares strongly
    assert_problem(write(alice, operation, task["id"], {"If-Match": if_match}), 412)
    assert_unchanged(alice, task, current)


@pytest.mark.parametrize("if_match", ["*", '"2"', '"1"'])
def test_another_users_task_or_a_missing_one_is_404_whatever_the_precondition(
    alice: httpx.Client, bob: httpx.Client, if_match: str
) -> None:
    task, current = changed_task(alice)
    assert current == tag(2)  # so "2" would match were the task the caller's, and "1" is stale
    for http, task_id in ((bob, task["id"]), (alice, MISSING_ID), (bob, MISSING_ID)):
        for operation in WRITES:
            response = write(http, operation, task_id, {"If-Match": if_match})
            assert_problem(response, 404)
            assert "original" not in response.text
        # If-None-Match would make a 304 of a task that was there: it is not the caller's, so it is not there.
        assert_problem(http.get(f"/tasks/{task_id}", headers={"If-None-Match": if_match}), 404)
    assert_unchanged(alice, task, current)


@pytest.mark.parametrize(
    ("operation", "header", "value"),
    [
        ("updateTask", "If-Match", "abc"),
        ("completeTask", "If-Match", "abc"),
        ("deleteTask", "If-Match", "abc"),
        ("updateTask", "If-Match", '"unterminated'),
        ("deleteTask", "If-Match", '"2'),
        ("getTask", "If-None-Match", '"unterminated'),
        ("getTask", "If-None-Match", "abc"),
    ],
)
def test_a_malformed_precondition_is_400(alice: httpx.Client, operation: str, header: str, value: str) -> None:
    task, current = changed_task(alice)
    if operation == "getTask":
        response = alice.get(f"/tasks/{task['id']}", headers={header: value})
    else:
        response = write(alice, operation, task["id"], {header: value})
    assert_problem(response, 400)
    assert_unchanged(alice, task, current)


@pytest.mark.parametrize("operation", WRITES)
def test_by_default_a_write_needs_no_if_match(alice: httpx.Client, operation: str) -> None:
    task, _ = changed_task(alice)
    assert_written(alice, operation, write(alice, operation, task["id"]), task)


@pytest.mark.parametrize("operation", WRITES)
def test_when_required_a_write_without_if_match_is_428_and_changes_nothing(carol: httpx.Client, operation: str) -> None:
    task, current = changed_task(carol)
    assert_problem(write(carol, operation, task["id"]), 428)
    assert_unchanged(carol, task, current)


@pytest.mark.parametrize("operation", WRITES)
def test_when_required_a_write_with_a_current_if_match_goes_through(carol: httpx.Client, operation: str) -> None:
    task, current = changed_task(carol)
    assert_written(carol, operation, write(carol, operation, task["id"], {"If-Match": current}), task)


def test_when_required_reads_and_creates_need_no_precondition(carol: httpx.Client) -> None:
    created = carol.post("/tasks", json={"title": "unconditional"})
    assert (created.status_code, etag(created)) == (201, tag(1))
    got = carol.get(f"/tasks/{created.json()['id']}")
    assert (got.status_code, got.json(), etag(got)) == (200, created.json(), tag(1))
    listed = carol.get("/tasks")
    assert listed.status_code == 200, listed.text
    assert created.json() in listed.json()["items"]


def race(server: InProcessServer, token: str, task_id: int, if_match: str, operation: str) -> list[httpx.Response]:
    """CONTENDERS concurrent writes of one task, each on a connection of its own, all with `if_match`:
    PATCHes with titles "contender <n>", completions, or deletions."""

    async def one(http: httpx.AsyncClient, n: int) -> httpx.Response:
        headers = {"If-Match": if_match}
        if operation == "updateTask":
            return await http.patch(f"/tasks/{task_id}", json={"title": f"contender {n}"}, headers=headers)
        if operation == "deleteTask":
            return await http.delete(f"/tasks/{task_id}", headers=headers)
        return await http.patch(f"/tasks/{task_id}/complete", headers=headers)

    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=CONTENDERS, max_keepalive_connections=CONTENDERS),
            timeout=30,
        ) as http:
            return list(await asyncio.gather(*(one(http, n) for n in range(CONTENDERS))))

    return asyncio.run(run())


def assert_one_winner(
    server: InProcessServer, token: str, alice: httpx.Client, operation: str
) -> tuple[httpx.Response, dict[str, Any]]:
    """Race CONTENDERS writes with the same current If-Match: exactly one 200, carrying the next version,
    and 412 for every other; the ETag advanced by exactly one. The winner and the task as GET shows it."""
    task, current = changed_task(alice)
    responses = race(server, token, task["id"], current, operation)
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [412] * (CONTENDERS - 1), statuses
    for response in responses:
        if response.status_code == 412:
            assert_problem(response, 412)
    [winner] = [response for response in responses if response.status_code == 200]
    assert etag(winner) == tag(3)
    got = alice.get(f"/tasks/{task['id']}")
    assert etag(got) == tag(3)
    assert got.json() == winner.json()
    return winner, got.json()


@pytest.mark.parametrize("round_", rounds())
def test_of_concurrent_patches_with_one_if_match_exactly_one_wins(
    server: InProcessServer, alice_token: str, alice: httpx.Client, round_: int
) -> None:
    winner, final = assert_one_winner(server, alice_token, alice, "updateTask")
    assert re.fullmatch(r"contender [0-9]+", final["title"]), final
    assert winner.json()["title"] == final["title"]


@pytest.mark.parametrize("round_", rounds())
def test_of_concurrent_completions_with_one_if_match_exactly_one_wins(
    server: InProcessServer, alice_token: str, alice: httpx.Client, round_: int
) -> None:
    _, final = assert_one_winner(server, alice_token, alice, "completeTask")
    assert final["completed"] is True


@pytest.mark.parametrize("round_", rounds())
def test_of_concurrent_deletions_with_one_if_match_exactly_one_wins(
    server: InProcessServer, alice_token: str, alice: httpx.Client, round_: int
) -> None:
    task, current = changed_task(alice)
    responses = race(server, alice_token, task["id"], current, "deleteTask")
    statuses = [response.status_code for response in responses]
    assert statuses.count(204) == 1, statuses
    # The others lost the race: to the version check (412), or to the deletion itself (404).
    assert set(statuses) <= {204, 404, 412}, statuses
    for response in responses:
        if response.status_code != 204:
            assert_problem(response, response.status_code)
    assert alice.get(f"/tasks/{task['id']}").status_code == 404


@pytest.mark.parametrize("operation", WRITES)
def test_when_required_another_users_or_a_missing_task_is_still_404(
    carol: httpx.Client, strict_server: InProcessServer, operation: str
) -> None:
    task, current = changed_task(carol)
    with client(strict_server, sign_in(strict_server.base_url, *random_credentials())) as dave:
        assert_problem(write(dave, operation, task["id"]), 404)
    assert_problem(write(carol, operation, MISSING_ID), 404)
    assert_unchanged(carol, task, current)
