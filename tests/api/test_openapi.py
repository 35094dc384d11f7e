"""The served contract is the hand-written one."""

from __future__ import annotations

import json

import httpx
import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.anyio


async def test_openapi_json_is_exactly_the_data_of_openapi_yaml(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))


async def test_openapi_yaml_is_the_file(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.content == (ROOT / "openapi.yaml").read_bytes()


def test_the_spec_holds_only_json_values() -> None:
    # YAML 1.1 turns unquoted dates and versions into non-JSON types; the spec must survive a JSON round trip.
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    assert json.loads(json.dumps(document)) == document


@pytest.mark.parametrize(("path", "marker"), [("/docs", "swagger-ui"), ("/redoc", "redoc")])
async def test_documentation_pages_read_the_served_spec(client: httpx.AsyncClient, path: str, marker: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200
    assert marker in response.text
    assert "/openapi.json" in response.text
