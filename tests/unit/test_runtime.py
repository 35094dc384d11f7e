"""The generated request parsing: text parameters per the spec, strict bodies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import MISSING
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, NoMatchFound

from taskapi import runtime
from taskapi.generated import models, server


def _locs(exc: pytest.ExceptionInfo[runtime.InvalidRequest]) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors]


def test_parameters_are_parsed_from_text() -> None:
    params = runtime.parse_parameters(
        models.ListTasksParams,
        [
            ("limit", "query", "integer", "7"),
            ("cursor", "query", "string", "12"),
            ("completed", "query", "boolean", "false"),
            ("priority", "query", "integer", None),
        ],
    )
    assert params.limit == 7
    assert params.cursor == "12"
    assert params.completed is False
    assert params.priority is MISSING


def test_absent_parameters_take_the_spec_default() -> None:
    params = runtime.parse_parameters(models.ListTasksParams, [("limit", "query", "integer", None)])
    assert params.limit == 20


@pytest.mark.parametrize(
    ("json_type", "text"), [("integer", "1.0"), ("integer", " 1"), ("integer", "0x1"), ("boolean", "TRUE")]
)
def test_text_that_is_not_the_declared_type_is_rejected(json_type: str, text: str) -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(
            models.ListTasksParams, [("limit" if json_type == "integer" else "completed", "query", json_type, text)]
        )
    assert len(_locs(exc)) == 1


def test_missing_required_parameters_are_named() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(models.GetTaskParams, [("task_id", "path", "integer", None)])
    assert _locs(exc) == [("path", "task_id")]


def test_bodies_are_strict() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, {"title": "t", "priority": "5"})
    assert _locs(exc) == [("body", "priority")]


def test_min_properties_is_enforced() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskUpdate, {}, min_properties=1)
    assert _locs(exc) == [("body",)]
    assert runtime.validate_body(models.TaskUpdate, {"completed": True}, min_properties=1).completed is True


def test_a_shape_renders_exactly_as_its_model() -> None:
    created = datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=UTC)
    task: server.TaskDict = {
        "id": 7,
        "title": 'Renew "the" TLS certificate \u00e9',
        "description": None,
        "priority": 4,
        "completed": False,
        "created_at": created,
        "updated_at": created,
    }
    page: server.TaskPageDict = {"items": [task, {**task, "id": 8, "description": "d"}], "next_cursor": "8"}
    model = models.TaskPage.model_validate(page)
    rendered = bytes(runtime.json_response(page, 200).body)
    assert rendered == bytes(runtime.json_response(model, 200).body)
    assert json.loads(rendered)["items"][0]["created_at"] == "2026-11-26T09:30:00.123456Z"


async def _ok(request: Request) -> Response:
    return Response(f"{request.scope[runtime.OPERATION_ID]} {dict(request.path_params)}")


OPS = [
    runtime.OperationInfo("listThings", "GET", "/things", "things", "list_things"),
    runtime.OperationInfo("addThing", "POST", "/things", "things", "add_thing"),
    runtime.OperationInfo("getThing", "GET", "/things/{thing_id}", "things", "get_thing"),
    runtime.OperationInfo("getMine", "GET", "/things/mine", "things", "get_mine"),
]


def _scope(method: str, path: str, root_path: str = "") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "root_path": root_path}


def test_operations_match_by_path_and_method() -> None:
    operations = runtime.Operations((info, _ok) for info in OPS)
    match, child = operations.matches(_scope("GET", "/things/7"))
    assert match is Match.FULL
    assert child["path_params"] == {"thing_id": "7"}
    assert (child[runtime.OPERATION_ID], child[runtime.ROUTE_TEMPLATE]) == ("getThing", "/things/{thing_id}")
    # A literal path wins over a template that also matches it.
    assert operations.matches(_scope("GET", "/things/mine"))[1][runtime.OPERATION_ID] == "getMine"
    assert operations.matches(_scope("HEAD", "/things"))[1][runtime.OPERATION_ID] == "listThings"
    for path in ("/", "/things/", "/things/7/extra", "/thing", ""):
        assert operations.matches(_scope("GET", path))[0] is Match.NONE
    assert operations.matches({"type": "websocket", "path": "/things"})[0] is Match.NONE


def test_another_method_on_a_path_of_the_spec_is_a_partial_match_answered_405() -> None:
    operations = runtime.Operations((info, _ok) for info in OPS)
    match, child = operations.matches(_scope("DELETE", "/things"))
    assert match is Match.PARTIAL
    scope = {**_scope("DELETE", "/things"), **child}
    with pytest.raises(runtime.MethodNotAllowed) as exc:
        asyncio.run(operations.handle(scope, _no_receive, _no_send))
    assert exc.value.headers == {"Allow": "GET, HEAD, POST"}
    assert exc.value.status == 405


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/api/things/7", "/api", "/things/7"),
        ("/api", "/api", ""),
        ("/apis/things", "/api", "/apis/things"),  # not below the prefix
        ("/things/7", "", "/things/7"),
    ],
)
def test_paths_are_matched_below_the_root_path(path: str, root_path: str, expected: str) -> None:
    assert runtime.route_path(_scope("GET", path, root_path)) == expected
    operations = runtime.Operations((info, _ok) for info in OPS)
    match, _ = operations.matches(_scope("GET", path, root_path))
    assert (match is Match.FULL) == (expected == "/things/7")


def test_an_operation_runs_its_endpoint() -> None:
    operations = runtime.Operations((info, _ok) for info in OPS)
    scope = _scope("GET", "/things/7")
    scope.update(operations.matches(scope)[1])
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    asyncio.run(operations.handle(scope, _no_receive, send))
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"getThing {'thing_id': '7'}"


def test_url_paths_by_operation_id() -> None:
    operations = runtime.Operations((info, _ok) for info in OPS)
    assert operations.url_path_for("getThing", thing_id=7) == "/things/7"
    assert operations.url_path_for("listThings") == "/things"
    with pytest.raises(NoMatchFound):
        operations.url_path_for("getThing")
    with pytest.raises(NoMatchFound):
        operations.url_path_for("nothing")


def test_an_operation_bound_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="GET /things is bound twice"):
        runtime.Operations([(OPS[0], _ok), (OPS[0], _ok)])


@pytest.mark.parametrize(
    ("root_path", "reference", "sent"),
    [
        ("", "/tasks/1", "/tasks/1"),
        ("/api", "/tasks/1", "/api/tasks/1"),
        ("/api/", "/tasks/1", "/api/tasks/1"),
        ("/api", "https://example.com/x", "https://example.com/x"),
        ("/api", "//cdn.example/x", "//cdn.example/x"),
        ("/api", "tasks/1", "tasks/1"),
    ],
)
def test_absolute_paths_go_under_the_root_path(root_path: str, reference: str, sent: str) -> None:
    assert runtime.under_root(root_path, reference) == sent


async def _no_receive() -> Any:
    raise AssertionError("nothing to receive")


async def _no_send(message: Any) -> None:
    raise AssertionError(f"nothing to send: {message}")
