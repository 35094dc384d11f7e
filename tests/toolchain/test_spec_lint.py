"""The spec lint (`make lint-spec`: Redocly with codegen/redocly.yaml): the real spec is clean, and each rule
we rely on fires on a spec that breaks it, at the place that breaks it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from codegen.lint import lint, main

from tests.conftest import ROOT

Mutation = Callable[[dict[str, Any]], None]


def _create_task(doc: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = doc["paths"]["/tasks"]["post"]
    return operation


def _json_error(doc: dict[str, Any]) -> None:
    content = doc["components"]["responses"]["Unauthorized"]["content"]
    content["application/json"] = content.pop("application/problem+json")


def _no_body_example(doc: dict[str, Any]) -> None:
    del _create_task(doc)["requestBody"]["content"]["application/json"]["examples"]


def _invalid_example(doc: dict[str, Any]) -> None:
    examples = _create_task(doc)["requestBody"]["content"]["application/json"]["examples"]
    examples["minimal"]["value"]["priority"] = 99


def _unknown_property_in_example(doc: dict[str, Any]) -> None:
    examples = _create_task(doc)["requestBody"]["content"]["application/json"]["examples"]
    examples["minimal"]["value"]["colour"] = "red"


def _no_operation_id(doc: dict[str, Any]) -> None:
    del _create_task(doc)["operationId"]


def _no_description(doc: dict[str, Any]) -> None:
    del _create_task(doc)["description"]


def _unused_schema(doc: dict[str, Any]) -> None:
    doc["components"]["schemas"]["Orphan"] = {"type": "string", "examples": ["x"]}


def _no_parameter_example(doc: dict[str, Any]) -> None:
    del doc["components"]["parameters"]["TaskId"]["examples"]


def _error_without_body(doc: dict[str, Any]) -> None:
    del doc["components"]["responses"]["Unauthorized"]["content"]


CASES: list[tuple[str, Mutation, str, str]] = [
    (
        "an error served as JSON",
        _json_error,
        "rule/errors-are-problems",
        "#/components/responses/Unauthorized/content/application~1json",
    ),
    (
        "a body without an example",
        _no_body_example,
        "rule/bodies-have-examples",
        "#/paths/~1tasks/post/requestBody/content/application~1json",
    ),
    (
        "an example the schema rejects",
        _invalid_example,
        "no-invalid-media-type-examples",
        "#/paths/~1tasks/post/requestBody/content/application~1json/examples/minimal/value/priority",
    ),
    (
        "an example with a property the schema forbids",
        _unknown_property_in_example,
        "no-invalid-media-type-examples",
        "#/paths/~1tasks/post/requestBody/content/application~1json/examples/minimal/value/colour",
    ),
    (
        "an operation without operationId",
        _no_operation_id,
        "operation-operationId",
        "#/paths/~1tasks/post/operationId",
    ),
    (
        "an operation without description",
        _no_description,
        "operation-description",
        "#/paths/~1tasks/post/description",
    ),
    ("an unused component", _unused_schema, "no-unused-components", "#/components/schemas/Orphan"),
    (
        "a parameter without an example",
        _no_parameter_example,
        "rule/parameters-have-examples",
        "#/components/parameters/TaskId",
    ),
    (
        "an error response without a body",
        _error_without_body,
        "rule/errors-have-bodies",
        "#/components/responses/Unauthorized",
    ),
]


def _copy(tmp_path: Path, mutate: Mutation | None = None) -> Path:
    """openapi.yaml (mutated) in a tree shaped like the repository's, linted with the config as the real
    spec is."""
    (tmp_path / "codegen").mkdir()
    shutil.copy(ROOT / "codegen" / "redocly.yaml", tmp_path / "codegen" / "redocly.yaml")
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    if mutate is not None:
        mutate(document)
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return spec


def test_the_spec_has_no_errors_and_no_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(ROOT / "openapi.yaml") == []
    assert main([str(ROOT / "openapi.yaml")]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def test_a_copy_of_the_spec_is_clean_too(tmp_path: Path) -> None:
    # The baseline of the cases below: only their mutation makes them fail.
    assert lint(_copy(tmp_path), config=tmp_path / "codegen" / "redocly.yaml") == []


@pytest.mark.parametrize(("case", "mutate", "rule", "pointer"), CASES, ids=[case[0] for case in CASES])
def test_a_rule_fires_where_the_spec_breaks_it(
    tmp_path: Path, case: str, mutate: Mutation, rule: str, pointer: str
) -> None:
    problems = lint(_copy(tmp_path, mutate), config=tmp_path / "codegen" / "redocly.yaml")
    assert (rule, pointer) in {(p.rule, p.pointer) for p in problems}, f"{case}: {[str(p) for p in problems]}"


def test_a_warning_fails_the_lint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Redocly itself exits 0 on warnings; the lint does not. An operation without a 4xx response is a
    # warning (operation-4xx-response).
    def warning(doc: dict[str, Any]) -> None:
        health = doc["paths"]["/healthz"]["get"]
        doc["paths"]["/livez"] = {
            "get": {**health, "operationId": "getLiveness", "responses": {"200": health["responses"]["200"]}}
        }

    spec = _copy(tmp_path, warning)
    problems = lint(spec, config=tmp_path / "codegen" / "redocly.yaml")
    assert [(p.severity, p.rule, p.pointer) for p in problems] == [
        ("warn", "operation-4xx-response", "#/paths/~1livez/get/responses")
    ]
