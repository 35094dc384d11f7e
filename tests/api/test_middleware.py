"""Request ids, CORS and the access log, in-process."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable
from datetime import datetime

import httpx
import pytest
from codegen.spec import Resolver
from fastapi import FastAPI

from taskapi import docs
from taskapi.app import create_app
from taskapi.settings import Settings
from tests.api.conftest import User

pytestmark = pytest.mark.anyio
GENERATED = re.compile(r"[0-9a-f]{32}")


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient, anonymous: httpx.AsyncClient) -> None:
    responses = [
        await client.get("/tasks"),
        await client.post("/tasks", json={}),
        await client.get("/tasks/42"),
        await client.put("/tasks"),
        await anonymous.get("/tasks"),
        await anonymous.get("/nowhere"),
        await anonymous.get("/openapi.json"),
        await anonymous.get("/docs"),
    ]
    ids = [r.headers["x-request-id"] for r in responses]
    assert all(GENERATED.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [
        ("abc-123", True),
        ("trace:span.1_2", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("-lead", False),
    ],
)
async def test_well_formed_request_ids_are_echoed(anonymous: httpx.AsyncClient, sent: str, echoed: bool) -> None:
    response = await anonymous.get("/healthz", headers={"X-Request-ID": sent})
    assert (response.headers["x-request-id"] == sent) is echoed
    if not echoed:
        assert GENERATED.fullmatch(response.headers["x-request-id"])


async def test_an_unexpected_error_still_carries_an_id(broken_request: httpx.Response) -> None:
    assert broken_request.status_code == 500
    assert GENERATED.fullmatch(broken_request.headers["x-request-id"])


async def test_one_access_line_per_request(
    alice: User, anonymous: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    await alice.client.post("/tasks", json={"title": "t", "description": 'line\nbreak \u00e9 "quoted"'})
    await anonymous.get("/tasks/%C3%A9?x=1")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["logger"], r["operation_id"], r["status"], r["user_id"]) for r in lines] == [
        ("taskapi.access", "createTask", 201, alice.id),
        ("taskapi.access", "getTask", 401, None),
    ]
    assert lines[1]["path"] == "/tasks/\u00e9"
    assert lines[1]["route"] == "/tasks/{task_id}"
    assert datetime.fromisoformat(lines[0]["time"]).tzinfo is not None


@pytest.fixture
async def cors_app(settings: Settings) -> FastAPI:
    return create_app(settings.model_copy(update={"cors_origins": ["https://app.example"]}))


async def test_cors_preflight_from_an_allowed_origin(cors_app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cors_app), base_url="http://testserver") as http:
        preflight = await http.options(
            "/tasks",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in preflight.headers
        refused = await http.options(
            "/tasks", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        simple = await http.get("/healthz", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()


SAFELISTED = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def spec_request_headers() -> set[str]:
    """README (Production, CORS): what a page's script may send, read from openapi.yaml itself: every header
    parameter, Authorization (the operations are secured by bearer schemes), Content-Type and X-Request-ID."""
    document = docs.spec_document()
    names = {"Authorization", "Content-Type", "X-Request-ID"}
    for item in document["paths"].values():
        for operation in [item, *(item[m] for m in item if m in HTTP_METHODS)]:
            for parameter in operation.get("parameters", []):
                resolved = Resolver(document).resolve(parameter)
                if resolved["in"] == "header":
                    names.add(resolved["name"])
    return names


def spec_response_headers() -> set[str]:
    """What a page's script may read: every header a response of openapi.yaml declares."""
    document = docs.spec_document()
    return {
        name
        for item in document["paths"].values()
        for method in item
        if method in HTTP_METHODS
        for response in item[method]["responses"].values()
        for name in Resolver(document).resolve(response).get("headers", {})
    }


def spec_methods() -> set[str]:
    """The methods of the spec's operations, read from openapi.yaml itself."""
    paths = docs.spec_document()["paths"]
    return {method.upper() for item in paths.values() for method in item if method in HTTP_METHODS}


def listed(value: str) -> set[str]:
    """A comma-separated field's members, lower-cased (field names are case-insensitive)."""
    return {member.strip().lower() for member in value.split(",")}


def preflight(http: httpx.AsyncClient, method: str, headers: str = "") -> Awaitable[httpx.Response]:
    asked = {"Origin": "https://app.example", "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    return http.options("/tasks/1", headers=asked)


async def test_cors_preflights_allow_exactly_the_documented_headers_and_the_specs_methods(cors_app: FastAPI) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=cors_app), base_url="http://testserver") as http:
        allowed = await preflight(http, "PATCH", ", ".join(sorted(spec_request_headers())))
        assert allowed.status_code == 200, allowed.text
        assert listed(allowed.headers["access-control-allow-headers"]) == listed(
            ", ".join(spec_request_headers() | SAFELISTED)
        )
        assert set(allowed.headers["access-control-allow-methods"].split(", ")) == spec_methods()
        assert allowed.headers["access-control-max-age"] == "600"
        assert "access-control-allow-credentials" not in allowed.headers
        for method in spec_methods():
            for header in spec_request_headers():
                assert (await preflight(http, method, header.lower())).status_code == 200, (method, header)
        for header in ("Cookie", "X-Api-Key", "RateLimit", "Prefer"):
            assert (await preflight(http, "GET", header)).status_code == 400, header
        for method in {"PUT", "TRACE", "QUERY"} - spec_methods():
            assert (await preflight(http, method)).status_code == 400, method


async def test_cors_responses_expose_exactly_the_documented_headers(cors_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=cors_app)
    async with (
        cors_app.router.lifespan_context(cors_app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        origin = {"Origin": "https://app.example"}
        health = await http.get("/healthz", headers=origin)
        unauthorized = await http.get("/tasks", headers=origin)
        invalid = await http.post("/users", headers=origin, json={})
        assert (health.status_code, unauthorized.status_code, invalid.status_code) == (200, 401, 422)
        assert "www-authenticate" in unauthorized.headers  # what the page's script may now read
        assert "ratelimit" in invalid.headers
        for response in (health, unauthorized, invalid):
            assert response.headers["access-control-allow-origin"] == "https://app.example"
            assert listed(response.headers["access-control-expose-headers"]) == listed(
                ", ".join(spec_response_headers())
            )
            assert "access-control-allow-credentials" not in response.headers


async def test_no_cors_headers_unless_configured(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in response.headers


def test_origins_are_checked() -> None:
    assert Settings(cors_origins="https://a.example, http://localhost:3000").cors_origins == [
        "https://a.example",
        "http://localhost:3000",
    ]
    for bad in ("https://a.example/path", "*,https://a.example", "ftp://x"):
        with pytest.raises(ValueError, match="origin"):
            Settings(cors_origins=bad)
