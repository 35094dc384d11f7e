"""The published contract: openapi.yaml as shipped in the package, served as JSON and YAML, its
documentation pages (Swagger UI, ReDoc) with their assets, and the check that the app serves nothing else.

FastAPI's own OpenAPI generation is switched off (`openapi_url=None`): these routes serve the
hand-written document, and the pages read it. The pages work offline: their scripts, styles and favicon
come from a pinned package (fastapi-offline, hashed in requirements.lock), served under /docs/assets/,
and no external font is loaded.

The served document never sends a browser or a generated client to another host: `servers` is relative
(`/`, or the root path behind a prefix such as `taskapi serve --root-path /api`), and so are the OAuth2
token URLs that Swagger UI's *Authorize* posts to.
"""

from __future__ import annotations

import copy
import json
import re
from base64 import b64encode
from functools import cache
from hashlib import sha256
from importlib.resources import files
from typing import Any

import yaml
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

ASSETS = "/docs/assets"
# Routes that serve the contract itself and its documentation; every other route must be an operation.
DOCUMENTATION_ROUTES = frozenset(
    {"/openapi.json", "/openapi.yaml", "/docs", "/docs/oauth2-redirect", "/redoc", f"{ASSETS}/{{name}}"}
)
# The documentation pages' files in the fastapi-offline package, with their media types.
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
# The assets change only with the package version (requirements.lock): let browsers keep them a day.
_ASSET_CACHE = "public, max-age=86400"
_SWAGGER_UI_PARAMETERS = {
    "dom_id": "#swagger-ui",
    "layout": "BaseLayout",
    "deepLinking": True,
    "displayOperationId": True,
    # Swagger UI would send the spec to validator.swagger.io for a badge: never leave this host.
    "validatorUrl": None,
}

# The pages may load their own assets, the spec and nothing else: no CDN, font or image from another host
# (ReDoc's sidebar shows a logo from cdn.redoc.ly: the policy refuses it, and ReDoc hides the image).
# Inline scripts are allowed by hash; inline styles are how both UIs (React) style themselves; ReDoc's
# search runs in a blob: worker.
_PAGE_POLICY = (
    "default-src 'none'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a Content-Security-Policy that admits exactly its own inline scripts."""
    scripts = re.findall(rb"<script>(.*?)</script>", page.body, re.DOTALL)
    hashes = " ".join(f"'sha256-{b64encode(sha256(script).digest()).decode()}'" for script in scripts)
    page.headers["Content-Security-Policy"] = _PAGE_POLICY.format(scripts=hashes)
    return page


@cache
def spec_bytes() -> bytes:
    """openapi.yaml, byte for byte (codegen ships a copy in taskapi.generated)."""
    return (files("taskapi.generated") / "openapi.yaml").read_bytes()


@cache
def spec_document() -> dict[str, Any]:
    """openapi.yaml parsed."""
    document = yaml.safe_load(spec_bytes())
    if not isinstance(document, dict):
        raise TypeError("openapi.yaml is not a mapping")
    return document


def served_document(root_path: str = "") -> dict[str, Any]:
    """The document as served below `root_path`: the file's own when there is none; otherwise its server
    and its absolute-path OAuth2 token URLs moved under the prefix."""
    document = spec_document()
    if not root_path:
        return document
    document = copy.deepcopy(document)
    document["servers"] = [{"url": root_path, "description": "This server"}]
    for scheme in document.get("components", {}).get("securitySchemes", {}).values():
        for flow in scheme.get("flows", {}).values():
            if str(flow.get("tokenUrl", "")).startswith("/"):
                flow["tokenUrl"] = root_path + flow["tokenUrl"]
    return document


@cache
def _spec_json(root_path: str) -> bytes:
    return json.dumps(served_document(root_path), ensure_ascii=False, separators=(",", ":")).encode()


@cache
def _spec_yaml(root_path: str) -> bytes:
    if not root_path:
        return spec_bytes()
    return yaml.safe_dump(served_document(root_path), sort_keys=False, allow_unicode=True).encode()


@cache
def _asset(name: str) -> bytes:
    return (files("fastapi_offline") / "static" / name).read_bytes()


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def documentation_routes() -> list[BaseRoute]:
    """GET /openapi.json, /openapi.yaml, /docs (Swagger UI), /redoc and the pages' assets."""
    title = str(spec_document()["info"]["title"])

    async def openapi_json(request: Request) -> Response:
        return Response(_spec_json(_root(request)), media_type="application/json")

    async def openapi_yaml(request: Request) -> Response:
        return Response(_spec_yaml(_root(request)), media_type="application/yaml")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
            swagger_ui_parameters=_SWAGGER_UI_PARAMETERS,
        )
        return _with_policy(page)

    async def swagger_ui_redirect(_request: Request) -> HTMLResponse:
        return _with_policy(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root = _root(request)
        page = get_redoc_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        return _with_policy(page)

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in _ASSET_TYPES:
            raise HTTPException(status_code=404)  # rendered as problem+json, like the router's own 404
        return Response(_asset(name), media_type=_ASSET_TYPES[name], headers={"Cache-Control": _ASSET_CACHE})

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route("/docs", swagger_ui, methods=["GET"]),
        Route("/docs/oauth2-redirect", swagger_ui_redirect, methods=["GET"]),
        Route("/redoc", redoc, methods=["GET"]),
        Route(f"{ASSETS}/{{name}}", asset, methods=["GET"]),
    ]


def undeclared_routes(routes: list[BaseRoute]) -> list[str]:
    """Routes of the app's router other than the documentation, one line each. The spec's operations are
    dispatched in front of the router (`runtime.Dispatch`): a route for one of them would be a second,
    unchecked way in, and a route for anything else serves what the spec does not declare."""
    declared = set(spec_document()["paths"])
    problems: list[str] = []
    for route in routes:
        if isinstance(route, Route) and route.path in DOCUMENTATION_ROUTES:
            continue
        if not isinstance(route, Route):
            problems.append(f"{route!r} (not an HTTP route)")
            continue
        why = "a second route for a path of the spec" if route.path in declared else "not in openapi.yaml"
        problems += [f"{method} {route.path} ({why})" for method in sorted(set(route.methods or ()) - {"HEAD"})]
    return problems
