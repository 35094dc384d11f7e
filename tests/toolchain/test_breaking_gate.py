"""`python -m codegen.breaking` (make breaking) on the real spec, in a throwaway git repository: the CLI
finds the spec and its base revision from its working directory, as in a pull request's pipeline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from codegen.spec import parse_yaml

from tests.conftest import ROOT

TASK_ID = "/tasks/{task_id}"


def git(repo: Path, *args: str) -> None:
    identity = ("-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false")
    subprocess.run(["git", *identity, *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose main branch has the real openapi.yaml committed."""
    git(tmp_path, "init", "-q", "-b", "main")
    shutil.copy(ROOT / "openapi.yaml", tmp_path / "openapi.yaml")
    git(tmp_path, "add", "openapi.yaml")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def edit(repo: Path, change: Callable[[dict[str, Any]], None]) -> None:
    spec = repo / "openapi.yaml"
    document = parse_yaml(spec.read_text(encoding="utf-8"))
    change(document)
    spec.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper, sort_keys=False, allow_unicode=True), encoding="utf-8")


def remove_delete_task(document: dict[str, Any]) -> None:
    del document["paths"][TASK_ID]["delete"]


def add_due_date(document: dict[str, Any]) -> None:
    document["components"]["schemas"]["TaskCreate"]["properties"]["due_date"] = {"type": "string", "format": "date"}


def gate(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen.breaking", *args],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_removing_an_operation_fails_and_names_it(repo: Path) -> None:
    edit(repo, remove_delete_task)
    result = gate(repo)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "with openapi.yaml at the merge base of HEAD and main" in result.stdout
    assert "breaking (1):\n  /paths/~1tasks~1{task_id}/delete\n" in result.stdout
    assert "operation removed: DELETE /tasks/{task_id} (deleteTask)" in result.stdout
    assert "FAIL: 1 breaking change" in result.stdout


def test_an_optional_request_property_passes_as_compatible(repo: Path) -> None:
    edit(repo, add_due_date)
    result = gate(repo, "--base", "")  # what `make breaking` passes without BASE
    assert result.returncode == 0, result.stdout + result.stderr
    assert "breaking (" not in result.stdout
    pointer = "/paths/~1tasks/post/requestBody/content/application~1json/schema/properties/due_date"
    assert f"compatible (1):\n  {pointer}\n      request: property due_date added" in result.stdout


def test_a_major_bump_allows_a_removed_operation(repo: Path) -> None:
    base_version = parse_yaml((repo / "openapi.yaml").read_text(encoding="utf-8"))["info"]["version"]
    major = int(base_version.split(".")[0]) + 1

    def release(document: dict[str, Any]) -> None:
        remove_delete_task(document)
        document["info"]["version"] = f"{major}.0.0"

    edit(repo, release)
    result = gate(repo, "--base", "HEAD")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/paths/~1tasks~1{task_id}/delete" in result.stdout
    assert f"allowed by the major version bump {base_version} -> {major}.0.0" in result.stdout


def test_a_branch_is_compared_with_its_merge_base_not_with_mains_tip(repo: Path) -> None:
    git(repo, "switch", "-q", "-c", "feature")
    git(repo, "switch", "-q", "main")
    edit(repo, add_due_date)  # main moves on after the branch was made
    git(repo, "commit", "-q", "-am", "due dates")
    git(repo, "switch", "-q", "feature")
    assert gate(repo).returncode == 0  # the branch changed nothing
    # against main's tip, the branch would seem to remove due_date (a closed request object refuses it)
    assert gate(repo, "--base", "main").returncode == 1


def test_without_main_it_refuses_to_guess_the_base(tmp_path: Path) -> None:
    # Comparing with HEAD instead would pass every committed breaking change.
    git(tmp_path, "init", "-q", "-b", "trunk")
    shutil.copy(ROOT / "openapi.yaml", tmp_path / "openapi.yaml")
    git(tmp_path, "add", "openapi.yaml")
    git(tmp_path, "commit", "-q", "-m", "base")
    edit(tmp_path, remove_delete_task)
    git(tmp_path, "commit", "-q", "-am", "a breaking change, committed")
    result = gate(tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no main or origin/main to take a merge base with: pass BASE=<ref>" in result.stderr
    assert gate(tmp_path, "--base", "HEAD~1").returncode == 1


def test_an_unknown_base_exits_2(repo: Path) -> None:
    result = gate(repo, "--base", "no-such-ref")
    assert result.returncode == 2
    assert result.stderr.startswith("codegen.breaking: git rev-parse")


@pytest.mark.parametrize(("value", "status"), [(1024, 1), (1 << 20, 0)])
def test_a_lower_server_limit_breaks_a_higher_one_does_not(repo: Path, value: int, status: int) -> None:
    edit(repo, lambda document: document["x-taskapi-limits"].update({"max-body-bytes": value}))
    result = gate(repo, "--base", "HEAD")
    assert result.returncode == status, result.stdout + result.stderr
    change = f"/x-taskapi-limits/max-body-bytes\n      limit max-body-bytes changed from 65536 to {value}"
    assert change in result.stdout


def test_a_dangling_reference_is_an_unreadable_spec(repo: Path) -> None:
    edit(repo, lambda document: document["paths"]["/healthz"]["get"]["responses"].update({"418": {"$ref": "#/x"}}))
    result = gate(repo, "--base", "HEAD")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "unresolvable reference '#/x'" in result.stderr
