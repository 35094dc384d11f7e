"""Every operation of the spec has a handler, and the app serves nothing the spec does not declare."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from taskapi import runtime
from taskapi.app import create_app
from taskapi.docs import undeclared_routes
from taskapi.generated import server
from taskapi.settings import Settings

# Built, never served: the database is never opened.
SETTINGS = Settings(database_url="sqlite:///never-opened.db", jwt_secret=SecretStr("unit-" + "k" * 40))


class HalfDone:
    async def get_task(self, params: Any) -> Any:
        raise AssertionError("never called")


def test_a_missing_handler_is_refused_naming_the_operation() -> None:
    with pytest.raises(NotImplementedError) as exc:
        # The cast hides from mypy exactly what mypy would otherwise prove: this checks the runtime guard.
        server.build_operations(
            tasks=cast(server.TasksOperations[Any], HalfDone()),
            users=cast(server.UsersOperations[Any], HalfDone()),
            auth=cast(server.AuthOperations, HalfDone()),
            meta=cast(server.MetaOperations, HalfDone()),
            security=cast(server.Security[Any], HalfDone()),
            limiter=cast(runtime.RateLimiter[Any], HalfDone()),
        )
    message = str(exc.value)
    implemented = {"getTask"}  # HalfDone's
    for op in server.OPERATIONS:
        assert (f"{op.operation_id} (" in message) is (op.operation_id not in implemented), op.operation_id


def test_the_app_serves_only_declared_routes() -> None:
    assert undeclared_routes(create_app(SETTINGS).routes) == []


def test_an_undeclared_route_is_reported() -> None:
    async def extra(_request: Request) -> Response:
        return Response()

    app = create_app(SETTINGS)
    app.router.routes.append(Route("/admin", extra, methods=["POST"]))
    app.router.routes.append(Route("/tasks", extra, methods=["GET"]))
    assert undeclared_routes(app.routes) == [
        "POST /admin (not in openapi.yaml)",
        "GET /tasks (a second route for a path of the spec)",
    ]


def test_operations_follow_the_naming_rule() -> None:
    for op in server.OPERATIONS:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in op.operation_id)
        assert op.handler == snake
