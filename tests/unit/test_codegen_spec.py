"""codegen refuses specs whose rules the generated server would silently drop."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml
from codegen.spec import SpecError, load, snake_case

from tests.conftest import ROOT


def _spec(tmp_path: Path, mutate: Any) -> Path:
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    mutate(document)
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_the_real_spec_loads() -> None:
    contract = load(ROOT / "openapi.yaml")
    assert [op.operation_id for op in contract.operations] == [
        "listTasks", "createTask", "getTask", "deleteTask", "updateTask", "completeTask",
        "createUser", "getCurrentUser", "createToken", "getHealth",
    ]  # fmt: skip
    create = next(op for op in contract.operations if op.operation_id == "createTask")
    assert create.body_model == "TaskCreate"
    assert [h.name for h in create.responses[0].headers] == ["Location"]
    assert create.security == ("bearerAuth", "passwordGrant")
    token = next(op for op in contract.operations if op.operation_id == "createToken")
    assert token.security == ()
    assert token.body_media_type == "application/x-www-form-urlencoded"


def test_an_unenforceable_keyword_is_refused(tmp_path: Path) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Title"]["not"] = {"const": "x"}

    with pytest.raises(SpecError, match=r"components\.schemas\.Title: .*not"):
        load(_spec(tmp_path, mutate))


def test_min_properties_is_refused_where_the_glue_cannot_check_it(tmp_path: Path) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["TaskPage"]["properties"]["update"] = {"$ref": "#/components/schemas/TaskUpdate"}

    with pytest.raises(SpecError, match=r"TaskUpdate: .*minProperties"):
        load(_spec(tmp_path, mutate))


def test_cookie_parameters_are_refused(tmp_path: Path) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["paths"]["/healthz"]["get"]["parameters"] = [{"name": "s", "in": "cookie", "schema": {"type": "string"}}]

    with pytest.raises(SpecError, match="getHealth: parameter s is in cookie"):
        load(_spec(tmp_path, mutate))


def test_names() -> None:
    assert snake_case("createTask") == "create_task"
    assert snake_case("X-Request-ID") == "x_request_id"
    assert snake_case("Location") == "location"


def test_response_shapes_follow_the_schemas() -> None:
    shapes = {shape.name: shape for shape in load(ROOT / "openapi.yaml").response_shapes()}
    assert list(shapes) == ["Task", "TaskPage", "User", "Token", "Health"]  # referenced shapes first
    task = {f.name: (f.annotation, f.required) for f in shapes["Task"].fields}
    assert task["description"] == ("str | None", True)  # a $ref to a nullable scalar schema
    assert task["created_at"] == ("datetime", True)
    assert task["priority"] == ("int", True)
    page = {f.name: f.annotation for f in shapes["TaskPage"].fields}
    assert page == {"items": "list[TaskDict]", "next_cursor": "str | None"}
    assert {f.name: f.annotation for f in shapes["Token"].fields}["token_type"] == "Literal['bearer']"


def test_optional_response_properties_are_not_required(tmp_path: Path) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Task"]["required"].remove("description")

    shapes = {shape.name: shape for shape in load(_spec(tmp_path, mutate)).response_shapes()}
    assert ("description", False) in {(f.name, f.required) for f in shapes["Task"].fields}


def test_generated_code_imports_only_the_standard_library_starlette_pydantic_and_the_runtime() -> None:
    allowed = {"__future__", "dataclasses", "datetime", "enum", "typing", "starlette", "pydantic", "taskapi.runtime"}
    for path in sorted((ROOT / "src" / "taskapi" / "generated").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = (
                    [f"taskapi.{alias.name}" for alias in node.names] if node.module == "taskapi" else [node.module]
                )
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                assert any(module == ok or module.startswith(f"{ok}.") for ok in allowed), f"{path.name}: {module}"


def test_the_limits_come_from_the_spec() -> None:
    assert load(ROOT / "openapi.yaml").limits == {
        "max_body_bytes": 65536,
        "max_header_bytes": 16384,
        "max_url_bytes": 8192,
    }


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda doc: doc["x-taskapi-limits"].update({"max-cookies": 3}), "max-cookies: unknown limit"),
        (lambda doc: doc["x-taskapi-limits"].update({"max-url-bytes": 0}), "max-url-bytes: must be a positive"),
        (lambda doc: doc["x-taskapi-limits"].update({"max-url-bytes": True}), "max-url-bytes: must be a positive"),
        (
            lambda doc: doc["paths"]["/healthz"]["get"]["responses"].pop("431"),
            "getHealth: x-taskapi-limits.max-header-bytes is refused with 431: declare it",
        ),
        (
            lambda doc: doc["paths"]["/users"]["post"]["responses"].pop("413"),
            "createUser: x-taskapi-limits.max-body-bytes is refused with 413: declare it",
        ),
    ],
)
def test_limits_are_checked(tmp_path: Path, mutation: Any, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load(_spec(tmp_path, mutation))
