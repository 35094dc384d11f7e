"""The generated request parsing: text parameters per the spec, strict bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from pydantic import MISSING

from taskapi.generated import models, runtime, server


def _locs(exc: pytest.ExceptionInfo[RequestValidationError]) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors()]


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
    with pytest.raises(RequestValidationError) as exc:
        runtime.parse_parameters(
            models.ListTasksParams, [("limit" if json_type == "integer" else "completed", "query", json_type, text)]
        )
    assert len(_locs(exc)) == 1


def test_missing_required_parameters_are_named() -> None:
    with pytest.raises(RequestValidationError) as exc:
        runtime.parse_parameters(models.GetTaskParams, [("task_id", "path", "integer", None)])
    assert _locs(exc) == [("path", "task_id")]


def test_bodies_are_strict() -> None:
    with pytest.raises(RequestValidationError) as exc:
        runtime.validate_body(models.TaskCreate, {"title": "t", "priority": "5"})
    assert _locs(exc) == [("body", "priority")]


def test_min_properties_is_enforced() -> None:
    with pytest.raises(RequestValidationError) as exc:
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
