"""The contract run's Schemathesis hooks, called as Schemathesis calls them (the fuzzer's process is not
measured by make test's coverage: taskapi.testing.contract.fuzzer_environment)."""

from __future__ import annotations

import atexit
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from taskapi.docs import spec_document
from taskapi.testing import schemathesis_hooks as hooks
from taskapi.testing.contract import fuzzer_environment

SPEC = spec_document()
# The operations of the spec with each header parameter (the hook reads their patterns from the spec).
OPERATION_WITH = {
    "Idempotency-Key": ("POST", "/tasks"),
    "If-Match": ("PATCH", "/tasks/{task_id}"),
    "If-None-Match": ("GET", "/tasks/{task_id}"),
}


def case(
    headers: dict[str, str] | None, *, phase: str = "coverage", positive: bool = True, operation: str = "If-Match"
) -> SimpleNamespace:
    """A generated case as the hook sees it: its operation, its headers and where it was generated."""
    meta = SimpleNamespace(
        phase=SimpleNamespace(name=phase), generation=SimpleNamespace(mode=SimpleNamespace(is_positive=positive))
    )
    method, path = OPERATION_WITH[operation]
    schema = SimpleNamespace(raw_schema=SPEC)
    return SimpleNamespace(
        headers=headers, meta=meta, operation=SimpleNamespace(method=method, path=path, schema=schema)
    )


@pytest.fixture
def left_out(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], None]]:
    """A run of its own: nothing left out yet; the exit handlers the hook registers, collected."""
    monkeypatch.setattr(hooks, "_left_out", [])
    registered: list[Callable[[], None]] = []
    monkeypatch.setattr(atexit, "register", registered.append)
    return registered


def test_a_well_formed_idempotency_key_is_replaced_by_a_fresh_uuid(left_out: list[Any]) -> None:
    keys = set()
    for _ in range(2):
        generated = case({"Idempotency-Key": "0"}, phase="fuzzing", operation="Idempotency-Key")
        hooks.before_call(None, generated)
        keys.add(generated.headers["Idempotency-Key"])
    assert len(keys) == 2
    assert all(str(uuid.UUID(key)) == key for key in keys)


def test_a_malformed_idempotency_key_goes_out_as_generated(left_out: list[Any]) -> None:
    generated = case({"Idempotency-Key": "not a key\x01"}, phase="fuzzing", operation="Idempotency-Key")
    hooks.before_call(None, generated)
    assert generated.headers == {"Idempotency-Key": "not a key\x01"}


@pytest.mark.parametrize("name", ["If-Match", "If-None-Match"])
def test_a_valid_coverage_case_loses_a_precondition_its_pattern_refuses(
    name: str, left_out: list[Callable[[], None]], capsys: pytest.CaptureFixture[str]
) -> None:
    generated = case({name: "0", "Other": "kept"}, operation=name)
    hooks.before_call(None, generated)
    assert generated.headers == {"Other": "kept"}
    assert len(left_out) == 1  # the report, once, at exit
    hooks.before_call(None, case({name.lower(): "1"}, operation=name))
    assert len(left_out) == 1
    left_out[0]()
    assert "left out 2 precondition header(s)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("phase", "positive"),
    [("coverage", False), ("fuzzing", True), ("stateful", True)],
    ids=["invalid", "fuzzing", "stateful"],
)
def test_other_cases_keep_their_preconditions(phase: str, positive: bool, left_out: list[Any]) -> None:
    generated = case({"If-Match": "0"}, phase=phase, positive=positive)
    hooks.before_call(None, generated)
    assert generated.headers == {"If-Match": "0"}
    assert left_out == []


@pytest.mark.parametrize("name", ["If-Match", "If-None-Match"])
def test_a_precondition_the_pattern_admits_is_kept(name: str, left_out: list[Any]) -> None:
    generated = case({name: '"3"'}, operation=name)
    hooks.before_call(None, generated)
    assert generated.headers == {name: '"3"'}
    assert left_out == []


def test_a_header_the_operation_does_not_declare_is_left_alone(left_out: list[Any]) -> None:
    generated = case({"If-None-Match": "0"}, operation="If-Match")  # updateTask has If-Match only
    hooks.before_call(None, generated)
    assert generated.headers == {"If-None-Match": "0"}


@pytest.mark.parametrize("headers", [None, {}])
def test_a_case_without_headers_is_left_alone(headers: dict[str, str] | None, left_out: list[Any]) -> None:
    generated = case(headers)
    hooks.before_call(None, generated)
    assert generated.headers == headers


def test_a_case_without_meta_keeps_its_preconditions(left_out: list[Any]) -> None:
    generated = case({"If-Match": "0"})
    generated.meta = None
    hooks.before_call(None, generated)
    assert generated.headers == {"If-Match": "0"}


def test_nothing_left_out_reports_nothing(left_out: list[Any], capsys: pytest.CaptureFixture[str]) -> None:
    hooks._report()
    assert capsys.readouterr().err == ""


def test_the_fuzzer_runs_unmeasured_with_the_rest_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVERAGE_PROCESS_CONFIG", "{}")
    monkeypatch.setenv("COVERAGE_PROCESS_START", "pyproject.toml")
    monkeypatch.setenv("TASKAPI_CONTRACT_USERNAME", "someone")
    env = fuzzer_environment()
    assert "COVERAGE_PROCESS_CONFIG" not in env and "COVERAGE_PROCESS_START" not in env
    assert env["TASKAPI_CONTRACT_USERNAME"] == "someone"
