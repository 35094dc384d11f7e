"""The served contract is the hand-written one."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser

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


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_documentation_pages_load_nothing_from_another_host(client: httpx.AsyncClient, page: str) -> None:
    html = (await client.get(page)).text
    assert "http://" not in html
    assert "https://" not in html
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
    assert assets, html
    for asset in assets:
        assert asset.startswith("/docs/assets/"), asset


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("redoc.standalone.js", "text/javascript"),
        ("favicon.png", "image/png"),
    ],
)
async def test_documentation_assets_are_served_from_the_package(
    client: httpx.AsyncClient, name: str, media_type: str
) -> None:
    response = await client.get(f"/docs/assets/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["cache-control"] == "public, max-age=86400"
    assert len(response.content) > 1000


@pytest.mark.parametrize("name", ["index.html", "..%2F..%2Fcore.py", "consts.py", "swagger-ui-bundle.js.map"])
async def test_only_the_documentation_assets_are_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/docs/assets/{name}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_served_spec_sends_clients_to_the_host_that_serves_it(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["servers"] == [{"url": "/", "description": "This server"}]
    assert document["components"]["securitySchemes"]["passwordGrant"]["flows"]["password"]["tokenUrl"] == (
        "/auth/token"
    )


class _Scripts(HTMLParser):
    """The text of every <script> without a src (an HTML parser, not the regex the app uses)."""

    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self._current: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and "src" not in dict(attrs):
            self._current = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._current.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._current is not None:
            self.inline.append("".join(self._current))
            self._current = None


def _inline_scripts(html: str) -> list[str]:
    parser = _Scripts()
    parser.feed(html)
    return parser.inline


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
async def test_documentation_pages_admit_only_their_own_scripts(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    policy = dict(
        directive.strip().split(" ", 1) for directive in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["connect-src"] == policy["font-src"].removesuffix(" data:") == "'self'"
    inline = _inline_scripts(response.text)
    hashes = [f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline]
    assert policy["script-src"].split() == ["'self'", *hashes]
    assert ("/docs" in page) == bool(inline)  # Swagger UI starts from an inline script; ReDoc does not
