"""The spec lint (`make lint-spec`: Redocly with codegen/redocly.yaml): the real spec is clean, and each rule
we rely on fires on a spec that breaks it, at the place that breaks it."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from codegen.lint import CONFIG, IGNORE_FILE, Problem, lint, lint_many, main
from codegen.spec import parse_yaml

from tests.conftest import ROOT

# The module lints every mutated spec in one Redocly run (a module fixture): one xdist group, one worker.
pytestmark = pytest.mark.xdist_group("spec_lint")

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


def _unknown_property_in_open_example(doc: dict[str, Any]) -> None:
    # Problem lets unknown properties through; its examples may not carry any (allowAdditionalProperties).
    content = doc["components"]["responses"]["Unauthorized"]["content"]["application/problem+json"]
    content["examples"]["missing"]["value"]["colour"] = "red"


def _invalid_schema_example(doc: dict[str, Any]) -> None:
    location = doc["paths"]["/tasks"]["post"]["responses"]["201"]["headers"]["Location"]
    location["schema"]["examples"] = [42]


def _unknown_property_in_schema_example(doc: dict[str, Any]) -> None:
    problem = {"type": "about:blank", "title": "Not Found", "status": 404, "detail": "No task 7.", "colour": "red"}
    doc["components"]["schemas"]["Problem"]["examples"] = [problem]


def _invalid_parameter_example(doc: dict[str, Any]) -> None:
    doc["components"]["parameters"]["TaskId"]["examples"]["first"]["value"] = 0


def _no_summary(doc: dict[str, Any]) -> None:
    del _create_task(doc)["summary"]


def _no_tag_description(doc: dict[str, Any]) -> None:
    del doc["tags"][0]["description"]


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
        "an example with a property its open schema does not list",
        _unknown_property_in_open_example,
        "no-invalid-media-type-examples",
        "#/components/responses/Unauthorized/content/application~1problem+json/examples/missing/value/colour",
    ),
    (
        "a schema example the schema rejects",
        _invalid_schema_example,
        "no-invalid-schema-examples",
        "#/paths/~1tasks/post/responses/201/headers/Location/schema/examples/0",
    ),
    (
        "a schema example with a property its schema does not list",
        _unknown_property_in_schema_example,
        "no-invalid-schema-examples",
        "#/components/schemas/Problem/examples/0/colour",
    ),
    (
        "a parameter example the schema rejects",
        _invalid_parameter_example,
        "no-invalid-parameter-examples",
        "#/components/parameters/TaskId/examples/first/value",
    ),
    ("an operation without summary", _no_summary, "operation-summary", "#/paths/~1tasks/post/summary"),
    ("a tag without description", _no_tag_description, "tag-description", "#/tags/0/description"),
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


def _warning_only(doc: dict[str, Any]) -> None:
    # An operation without a 4xx response is a warning (operation-4xx-response), and nothing else is wrong.
    health = doc["paths"]["/healthz"]["get"]
    doc["paths"]["/livez"] = {
        "get": {**health, "operationId": "getLiveness", "responses": {"200": health["responses"]["200"]}}
    }


def _unchanged(doc: dict[str, Any]) -> None:
    pass


# Besides the cases: a copy of the spec written the same way, the baseline (only a case's mutation makes it
# fail), and a spec whose only problem is a warning.
SPECS: dict[str, Mutation] = {
    "unchanged": _unchanged,
    "warning only": _warning_only,
    **{case: mutate for case, mutate, _, _ in CASES},
}


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each spec of SPECS (openapi.yaml mutated), by name, written to a file."""
    directory = tmp_path_factory.mktemp("lint")
    document = parse_yaml((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    paths: dict[str, Path] = {}
    for index, (name, mutate) in enumerate(SPECS.items()):
        changed = copy.deepcopy(document)
        mutate(changed)
        paths[name] = directory / f"spec-{index}.yaml"
        paths[name].write_text(
            yaml.dump(changed, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
    return paths


@pytest.fixture(scope="module")
def linted(specs: dict[str, Path]) -> dict[str, list[Problem]]:
    """The problems the lint finds in each spec of SPECS, by name: all of them linted by one run of
    Redocly, with codegen/redocly.yaml, as the real spec is."""
    problems = lint_many(list(specs.values()))
    return {name: problems[path] for name, path in specs.items()}


def test_the_spec_has_no_errors_and_no_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(ROOT / "openapi.yaml")]) == 0
    assert "0 errors, 0 warnings" in capsys.readouterr().out


def test_a_copy_of_the_spec_is_clean_too(linted: dict[str, list[Problem]]) -> None:
    # The baseline of the cases below: only their mutation makes them fail.
    assert linted["unchanged"] == []


@pytest.mark.parametrize(("case", "rule", "pointer"), [(c, r, p) for c, _, r, p in CASES], ids=[c[0] for c in CASES])
def test_a_rule_fires_where_the_spec_breaks_it(
    linted: dict[str, list[Problem]], case: str, rule: str, pointer: str
) -> None:
    problems = linted[case]
    assert (rule, pointer) in {(p.rule, p.pointer) for p in problems}, f"{case}: {[str(p) for p in problems]}"


def test_a_warning_fails_the_lint(
    specs: dict[str, Path], linted: dict[str, list[Problem]], capsys: pytest.CaptureFixture[str]
) -> None:
    # The spec's only problem is a warning.
    assert [(p.severity, p.rule, p.pointer) for p in linted["warning only"]] == [
        ("warn", "operation-4xx-response", "#/paths/~1livez/get/responses")
    ]
    # Redocly itself exits 0 on warnings; the lint's command line (make lint-spec, make check) fails, and
    # names the warning.
    spec = specs["warning only"]
    assert main([str(spec)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(problem) for problem in linted["warning only"]]
    assert err == f"{spec}: 1 problem(s); codegen/redocly.yaml lists the rules\n"


def test_every_rule_we_configure_has_a_case() -> None:
    configured = parse_yaml(CONFIG.read_text(encoding="utf-8"))["rules"]
    assert set(configured) - {rule for _, _, rule, _ in CASES} == set()


def test_no_rule_is_switched_off() -> None:
    config = parse_yaml(CONFIG.read_text(encoding="utf-8"))
    # The recommended ruleset and our rules, nothing else: no per-API or per-version rule sets that could
    # relax them.
    assert set(config) == {"extends", "rules"}
    assert config["extends"] == ["recommended"]
    severities = {name: rule if isinstance(rule, str) else rule["severity"] for name, rule in config["rules"].items()}
    assert {name: severity for name, severity in severities.items() if severity not in ("error", "warn")} == {}


def test_no_problem_is_ignored(tmp_path: Path) -> None:
    # Redocly reads an ignore file beside the config (or, without one, in the working directory).
    assert not (CONFIG.parent / IGNORE_FILE).exists()
    assert not (ROOT / IGNORE_FILE).exists()
    # Should one appear, the problems it lists are still problems.
    shutil.copy(CONFIG, tmp_path / "redocly.yaml")
    (tmp_path / IGNORE_FILE).write_text(
        "spec.yaml:\n  operation-operationId:\n    - '#/paths/~1tasks/post/operationId'\n", encoding="utf-8"
    )
    document = parse_yaml((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    _no_operation_id(document)
    (tmp_path / "spec.yaml").write_text(yaml.dump(document, Dumper=yaml.CSafeDumper), encoding="utf-8")
    problems = lint(tmp_path / "spec.yaml", config=tmp_path / "redocly.yaml")
    assert [(p.rule, p.message) for p in problems] == [
        ("lint-ignore", f"1 problem(s) hidden by {tmp_path / IGNORE_FILE}: no problem may be ignored, fix them")
    ]
