"""Assertions on RFC 9457 problem responses."""

from __future__ import annotations

from typing import Any

import httpx


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem+json document whose `status` is the HTTP status; return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.text
    return body


def violations(response: httpx.Response) -> list[tuple[str, str]]:
    """(location, pointer or parameter) of each entry of a 422's `errors`."""
    body = assert_problem(response, 422)
    return [(item["location"], item.get("pointer", item.get("parameter", ""))) for item in body["errors"]]
