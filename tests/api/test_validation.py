"""Requests that violate the spec: strict JSON bodies, text parameters parsed per the spec, and the
status of each kind of bad input (400, 415, 422). Schemathesis does not catch lax coercion reliably,
so these pin it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.problems import assert_problem, violations

pytestmark = pytest.mark.anyio


def violations_400(response: httpx.Response) -> list[tuple[str, str]]:
    """(location, parameter) of each entry of a 400's `errors` (a malformed header parameter)."""
    body = assert_problem(response, 400)
    return [(item["location"], item.get("parameter", "")) for item in body["errors"]]


async def count_tasks(client: httpx.AsyncClient) -> int:
    return len((await client.get("/tasks", params={"limit": 100})).json()["items"])


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"title": "t", "priority": "5"}, "/priority"),
        ({"title": "t", "priority": True}, "/priority"),
        ({"title": "t", "priority": 5.5}, "/priority"),
        ({"title": "t", "priority": 6}, "/priority"),
        ({"title": "t", "priority": 0}, "/priority"),
        ({"title": "t", "priority": None}, "/priority"),
        ({"title": "t", "unknown": 1}, "/unknown"),
        ({"title": ""}, "/title"),
        ({"title": "x" * 201}, "/title"),
        ({"title": None}, "/title"),
        ({"title": 5}, "/title"),
        ({"title": "nul \u0000 inside"}, "/title"),
        ({"title": "t", "description": "x" * 2001}, "/description"),
        ({"title": "t", "description": 7}, "/description"),
        ({}, "/title"),
        ([], ""),
        ("just a string", ""),
    ],
)
async def test_create_rejects_what_the_spec_rejects(client: httpx.AsyncClient, body: Any, where: str) -> None:
    response = await client.post("/tasks", json=body)
    assert ("body", where) in violations(response)
    assert await count_tasks(client) == 0


@pytest.mark.parametrize("priority", ["5.0", "5e0", "50e-1", "5.000"])
async def test_whole_floats_are_integers(client: httpx.AsyncClient, priority: str) -> None:
    raw = '{"title": "t", "priority": ' + priority + "}"
    response = await client.post("/tasks", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    assert response.json()["priority"] == 5


async def test_limits_are_inclusive(client: httpx.AsyncClient) -> None:
    response = await client.post("/tasks", json={"title": "x" * 200, "description": "d" * 2000, "priority": 5})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b"{", "application/json"),
        (b'{"title": "t",}', "application/json"),
        (b'{"title": "t", "priority": NaN}', "application/json"),
        (b'{"title": "t", "priority": Infinity}', "application/json"),
        (b'{"title": "\xff"}', "application/json"),
        (b"[" * 60_000, "application/json"),  # nested past the recursion limit, under the body limit
    ],
)
async def test_malformed_bodies_are_400(client: httpx.AsyncClient, raw: bytes, content_type: str) -> None:
    response = await client.post("/tasks", content=raw, headers={"content-type": content_type})
    assert_problem(response, 400)
    assert await count_tasks(client) == 0


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)
async def test_non_json_bodies_are_415(client: httpx.AsyncClient, content_type: str) -> None:
    response = await client.post("/tasks", content=b'{"title": "t"}', headers={"content-type": content_type})
    assert_problem(response, 415)


async def test_only_the_declared_media_type_is_accepted(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "Application/JSON"):
        response = await client.post("/tasks", content=b'{"title": "t"}', headers={"content-type": content_type})
        assert response.status_code == 201, response.text
    for content_type in ("application/merge-patch+json", "application/problem+json"):
        response = await client.post("/tasks", content=b'{"title": "t"}', headers={"content-type": content_type})
        assert_problem(response, 415)


@pytest.mark.parametrize("digits", [4001, 5000])
async def test_enormous_numbers_are_422_not_500(client: httpx.AsyncClient, digits: int) -> None:
    huge = "9" * digits
    assert violations(await client.get(f"/tasks/{huge}")) == [("path", "task_id")]
    assert violations(await client.get("/tasks", params={"limit": huge})) == [("query", "limit")]
    raw = '{"title": "t", "priority": ' + huge + "}"
    response = await client.post("/tasks", content=raw, headers={"content-type": "application/json"})
    assert ("body", "/priority") in violations(response)


async def test_a_missing_body_is_422(client: httpx.AsyncClient) -> None:
    assert violations(await client.post("/tasks")) == [("body", "")]


async def test_a_body_without_content_type_is_415(client: httpx.AsyncClient) -> None:
    request = client.build_request("POST", "/tasks", content=b'{"title": "t"}')
    assert "content-type" not in request.headers
    assert_problem(await client.send(request), 415)
    assert_problem(await client.post("/tasks", content=b'{"title": "t"}', headers={"content-type": ""}), 415)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({}, ""),
        ({"title": None}, "/title"),
        ({"priority": None}, "/priority"),
        ({"completed": None}, "/completed"),
        ({"completed": "true"}, "/completed"),
        ({"completed": 1}, "/completed"),
        ({"id": 5}, "/id"),
    ],
)
async def test_update_rejects_what_the_spec_rejects(client: httpx.AsyncClient, body: Any, where: str) -> None:
    task = (await client.post("/tasks", json={"title": "original"})).json()
    assert ("body", where) in violations(await client.patch(f"/tasks/{task['id']}", json=body))
    assert (await client.get(f"/tasks/{task['id']}")).json() == task


@pytest.mark.parametrize("task_id", ["abc", "0", "-1", "1.0", "5e2", "9223372036854775808", "%20"])
async def test_bad_task_ids_are_422_naming_the_parameter(client: httpx.AsyncClient, task_id: str) -> None:
    assert violations(await client.get(f"/tasks/{task_id}")) == [("path", "task_id")]


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "5.0"}, "limit"),
        ({"completed": "yes"}, "completed"),
        ({"completed": "1"}, "completed"),
        ({"completed": "True"}, "completed"),
        ({"priority": "9"}, "priority"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "1" * 20}, "cursor"),
    ],
)
async def test_bad_query_parameters_are_422(client: httpx.AsyncClient, params: dict[str, str], name: str) -> None:
    assert violations(await client.get("/tasks", params=params)) == [("query", name)]


async def test_every_violation_is_reported(client: httpx.AsyncClient) -> None:
    response = await client.post("/tasks", json={"title": "", "priority": "5", "extra": True})
    assert sorted(violations(response)) == [("body", "/extra"), ("body", "/priority"), ("body", "/title")]
    assert "and 2 more" in response.json()["detail"]


async def test_query_parameters_arrive_as_text_and_are_parsed(client: httpx.AsyncClient) -> None:
    response = await client.get("/tasks", params={"limit": "100", "completed": "false", "priority": "1"})
    assert response.status_code == 200


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.put("/tasks/1", json={"title": "t"})
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}
    response = await client.delete("/tasks")
    assert_problem(response, 405)
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}


async def test_unknown_path_is_404_problem(client: httpx.AsyncClient) -> None:
    for path in ("/nope", "/tasks/", "/tasks/1/complete/extra"):
        assert_problem(await client.get(path), 404)


@pytest.mark.parametrize(
    ("field", "value"),
    [("title", "nul \u0000 inside"), ("description", "\u0000"), ("description", "ends with nul\u0000")],
)
async def test_nul_characters_are_refused_in_creates_and_patches(
    client: httpx.AsyncClient, field: str, value: str
) -> None:
    task = (await client.post("/tasks", json={"title": "original"})).json()
    assert ("body", f"/{field}") in violations(await client.post("/tasks", json={"title": "t", field: value}))
    assert ("body", f"/{field}") in violations(await client.patch(f"/tasks/{task['id']}", json={field: value}))
    assert (await client.get(f"/tasks/{task['id']}")).json() == task
    assert await count_tasks(client) == 1


@pytest.mark.parametrize("field", ["username", "password"])
async def test_nul_characters_are_refused_in_form_fields(anonymous: httpx.AsyncClient, field: str) -> None:
    form = {"grant_type": "password", "username": "alice", "password": "correct horse battery staple"}
    form[field] = form[field][:3] + "\u0000" + form[field][3:]
    response = await anonymous.post("/auth/token", data=form)
    assert ("body", f"/{field}") in violations(response)


async def changed_twice(client: httpx.AsyncClient) -> int:
    """A task at version "3"; its id."""
    task = (await client.post("/tasks", json={"title": "t"})).json()
    for priority in (2, 3):
        assert (await client.patch(f"/tasks/{task['id']}", json={"priority": priority})).status_code == 200
    return int(task["id"])


@pytest.mark.parametrize("lines", [['"1"', '"3"'], ['"3"', '"1"'], ['"1", "2"', 'W/"3"', '"3"']])
async def test_if_match_on_several_lines_is_one_list(client: httpx.AsyncClient, lines: list[str]) -> None:
    task_id = await changed_twice(client)
    response = await client.patch(f"/tasks/{task_id}", json={"priority": 5}, headers=[("If-Match", v) for v in lines])
    assert response.status_code == 200, response.text  # one line names the current version
    assert response.headers["ETag"] == '"4"'


async def test_if_match_lines_that_name_no_current_version_are_412(client: httpx.AsyncClient) -> None:
    task_id = await changed_twice(client)
    lines = [("If-Match", '"1"'), ("If-Match", 'W/"3"'), ("If-Match", '"2"')]
    assert_problem(await client.patch(f"/tasks/{task_id}", json={"priority": 5}, headers=lines), 412)


async def test_if_match_lines_that_are_no_list_together_are_400(client: httpx.AsyncClient) -> None:
    task_id = await changed_twice(client)
    lines = [("If-Match", '"3"'), ("If-Match", "*")]  # each well-formed alone; `"3", *` is not a list
    assert violations_400(await client.delete(f"/tasks/{task_id}", headers=lines)) == [("header", "If-Match")]
    assert (await client.get(f"/tasks/{task_id}")).status_code == 200


@pytest.mark.parametrize("lines", [['"7"', '"1"'], ['"1"', 'W/"7"']])
async def test_if_none_match_on_several_lines_is_one_list(client: httpx.AsyncClient, lines: list[str]) -> None:
    task = (await client.post("/tasks", json={"title": "t"})).json()
    response = await client.get(f"/tasks/{task['id']}", headers=[("If-None-Match", v) for v in lines])
    assert response.status_code == 304


async def test_an_idempotency_key_on_two_lines_is_a_key_with_a_space_which_is_400(client: httpx.AsyncClient) -> None:
    lines = [("Idempotency-Key", "first-half"), ("Idempotency-Key", "second-half")]
    response = await client.post("/tasks", json={"title": "t"}, headers=lines)
    assert violations_400(response) == [("header", "Idempotency-Key")]
    assert await count_tasks(client) == 0


@pytest.mark.parametrize("number", ["1e99999999999999999999", "9" * 5000])
async def test_parameters_too_large_to_convert_are_422(client: httpx.AsyncClient, number: str) -> None:
    assert violations(await client.get(f"/tasks/{number}")) == [("path", "task_id")]
    for name in ("limit", "priority", "cursor"):
        assert violations(await client.get("/tasks", params={name: number})) == [("query", name)]
