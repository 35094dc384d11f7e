"""Translating validation errors into the spec's `Violation`s."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request

from taskapi.errors import render_error, title_for, violations_of
from taskapi.storage import DatabaseUnavailable
from taskapi.storage.postgres import PoolTimeout


def test_body_locations_become_json_pointers() -> None:
    [violation] = violations_of([{"loc": ("body", "a/b", "~x", 0), "msg": "bad"}])
    assert violation == {"location": "body", "pointer": "/a~1b/~0x/0", "detail": "bad"}


def test_the_whole_body_is_the_empty_pointer() -> None:
    [violation] = violations_of([{"loc": ("body",), "msg": "required"}])
    assert violation["pointer"] == ""


def test_parameters_are_named() -> None:
    [violation] = violations_of([{"loc": ("query", "limit"), "msg": "too big"}])
    assert violation == {"location": "query", "parameter": "limit", "detail": "too big"}
    [cookie] = violations_of([{"loc": ("cookie", "session"), "msg": "too short"}])
    assert cookie == {"location": "cookie", "parameter": "session", "detail": "too short"}


def test_titles_follow_rfc_9110() -> None:
    assert title_for(422) == "Unprocessable Content"
    assert title_for(404) == "Not Found"


def test_an_unavailable_database_is_503_with_retry_after() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/tasks", "headers": [], "query_string": b""})
    for exc in (DatabaseUnavailable("closing"), PoolTimeout("no connection was free within 10 s")):
        response = asyncio.run(render_error(request, exc))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert json.loads(bytes(response.body))["status"] == 503
