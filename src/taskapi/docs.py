"""The published contract: openapi.yaml as shipped in the package, served as JSON and YAML, its
documentation pages (Swagger UI, ReDoc), and the check that the app serves nothing else.

FastAPI's own OpenAPI generation is switched off (`openapi_url=None`): these routes serve the
hand-written document, and the pages read it. Behind a path prefix (`taskapi serve --root-path /api`)
the pages load the document and send Swagger UI's OAuth2 redirect under that prefix.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

import yaml
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

# Routes that serve the contract itself and its documentation; every other route must be an operation.
DOCUMENTATION_ROUTES = frozenset({"/openapi.json", "/openapi.yaml", "/docs", "/docs/oauth2-redirect", "/redoc"})


@cache
def spec_bytes() -> bytes:
    """openapi.yaml, byte for byte (codegen ships a copy in taskapi.generated)."""
    return (files("taskapi.generated") / "openapi.yaml").read_bytes()


@cache
def spec_document() -> dict[str, Any]:
    """openapi.yaml parsed; what GET /openapi.json serves."""
    document = yaml.safe_load(spec_bytes())
    if not isinstance(document, dict):
        raise TypeError("openapi.yaml is not a mapping")
    return document


@cache
def _spec_json() -> bytes:
    return json.dumps(spec_document(), ensure_ascii=False, separators=(",", ":")).encode()


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def documentation_routes() -> list[BaseRoute]:
    """GET /openapi.json, /openapi.yaml, /docs (Swagger UI) and /redoc, all from openapi.yaml."""
    title = str(spec_document()["info"]["title"])

    async def openapi_json(_request: Request) -> Response:
        return Response(_spec_json(), media_type="application/json")

    async def openapi_yaml(_request: Request) -> Response:
        return Response(spec_bytes(), media_type="application/yaml")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root(request)
        return get_swagger_ui_html(
            openapi_url=f"{root}/openapi.json",
            title=f"{title} - Swagger UI",
            oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        )

    async def swagger_ui_redirect(_request: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url=f"{_root(request)}/openapi.json", title=f"{title} - ReDoc")

    return [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/openapi.yaml", openapi_yaml, methods=["GET"]),
        Route("/docs", swagger_ui, methods=["GET"]),
        Route("/docs/oauth2-redirect", swagger_ui_redirect, methods=["GET"]),
        Route("/redoc", redoc, methods=["GET"]),
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
