"""Behind a proxy that strips a path prefix (`taskapi serve --root-path /api`): every operation is served,
and what points back at the API (`Location`, the documentation pages, problem `instance`s) is under /api."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import yaml
from fastapi import FastAPI

from tests.api.conftest import User
from tests.api.problems import assert_problem
from tests.conftest import ROOT

pytestmark = pytest.mark.anyio


@pytest.fixture
async def prefixed(app: FastAPI, alice: User) -> AsyncIterator[httpx.AsyncClient]:
    # As uvicorn passes it with --root-path /api: the prefix is in both `path` and `root_path`.
    transport = httpx.ASGITransport(app=app, root_path="/api")
    headers = {"Authorization": f"Bearer {alice.token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as client:
        yield client


async def test_every_operation_is_served_below_the_prefix(prefixed: httpx.AsyncClient) -> None:
    created = await prefixed.post("/api/tasks", json={"title": "behind a proxy"})
    assert created.status_code == 201
    task = created.json()
    assert created.headers["location"] == f"/api/tasks/{task['id']}"
    assert (await prefixed.get(created.headers["location"])).json() == task
    assert (await prefixed.get("/api/tasks")).json()["items"] == [task]
    assert (await prefixed.patch(f"/api/tasks/{task['id']}", json={"priority": 4})).json()["priority"] == 4
    assert (await prefixed.patch(f"/api/tasks/{task['id']}/complete")).json()["completed"] is True
    assert (await prefixed.delete(f"/api/tasks/{task['id']}")).status_code == 204
    assert (await prefixed.get("/api/users/me")).status_code == 200
    assert (await prefixed.get("/api/healthz")).json() == {"status": "ok"}
    signed_up = await prefixed.post("/api/users", json={"username": "proxied", "password": "a long enough password"})
    assert signed_up.status_code == 201
    form = {"grant_type": "password", "username": "proxied", "password": "a long enough password"}
    assert (await prefixed.post("/api/auth/token", data=form)).status_code == 200


async def test_errors_name_the_path_the_client_used(prefixed: httpx.AsyncClient) -> None:
    missing = assert_problem(await prefixed.get("/api/tasks/999"), 404)
    assert missing["instance"] == "/api/tasks/999"
    wrong_method = await prefixed.put("/api/tasks")
    assert assert_problem(wrong_method, 405)["instance"] == "/api/tasks"
    assert wrong_method.headers["allow"] == "GET, HEAD, POST"
    nowhere = assert_problem(await prefixed.get("/api/nowhere"), 404)
    assert nowhere["detail"] == "Nothing is served at /api/nowhere."
    invalid = assert_problem(await prefixed.get("/api/tasks/abc"), 422)
    assert invalid["errors"] == [
        {"location": "path", "parameter": "task_id", "detail": "Input should be a valid integer"}
    ]


@pytest.mark.parametrize("page", ["/api/docs", "/api/redoc"])
async def test_the_documentation_reads_the_spec_under_the_prefix(prefixed: httpx.AsyncClient, page: str) -> None:
    html = (await prefixed.get(page)).text
    assert "'/api/openapi.json'" in html or '"/api/openapi.json"' in html
    assert (await prefixed.get("/api/openapi.json")).json()["openapi"] == "3.1.0"
    if page == "/api/docs":
        assert "/api/docs/oauth2-redirect" in html
    for asset in re.findall(r"""(?:src|href)=["']([^"']+)["']""", html):
        assert asset.startswith("/api/docs/assets/"), asset
        assert (await prefixed.get(asset)).status_code == 200


@pytest.mark.parametrize("path", ["/api/openapi.json", "/api/openapi.yaml"])
async def test_the_served_spec_points_below_the_prefix(prefixed: httpx.AsyncClient, path: str) -> None:
    response = await prefixed.get(path)
    document = response.json() if path.endswith(".json") else yaml.safe_load(response.content)
    assert document["servers"] == [{"url": "/api", "description": "This server"}]
    assert document["components"]["securitySchemes"]["passwordGrant"]["flows"]["password"]["tokenUrl"] == (
        "/api/auth/token"
    )
    # Only those two moved: the rest is the file's.
    original = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    original["servers"] = document["servers"]
    original["components"]["securitySchemes"]["passwordGrant"]["flows"]["password"]["tokenUrl"] = "/api/auth/token"
    assert document == original
