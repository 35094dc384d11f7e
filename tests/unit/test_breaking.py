"""The breaking-change gate (codegen/breaking.py) on a corpus of small spec changes: each case in
breaking_corpus/ is a JSON Patch of base.yaml with the verdicts and pointers it must produce.

A case is a YAML mapping: `summary` (why the verdict is right), `patch` (the edit), `breaking` and
`compatible` (the pointers of the changes the gate must list, each as often as it is listed), `exit` (when
not 1 for breaking changes, 0 otherwise), and `setup`: a patch applied to base.yaml first, for both
revisions, when the case needs what base.yaml does not have (a second security scheme, the limits)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from codegen.breaking import Report, compare, main
from codegen.spec import load_document, parse_yaml

from tests.conftest import ROOT

CORPUS = Path(__file__).parent / "breaking_corpus"
BASE = CORPUS / "base.yaml"
CASES = sorted(path for path in CORPUS.glob("*.yaml") if path != BASE)


def apply_patch(document: Any, patch: list[dict[str, Any]]) -> Any:
    """RFC 6902's add, remove and replace: enough to write each case as the edit it is."""
    for step in patch:
        *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in step["path"].split("/")[1:]]
        target = document
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if step["op"] != "add":
                del target[index]
            if step["op"] != "remove":
                target.insert(index, step["value"])
        elif step["op"] == "remove":
            del target[last]
        else:
            assert step["op"] == "add" or last in target, f"nothing to replace at {step['path']}"
            target[last] = step["value"]
    return document


def revisions(case: dict[str, Any]) -> tuple[Any, Any]:
    """The case's two revisions: base.yaml with its setup, and that with its patch."""
    base = apply_patch(parse_yaml(BASE.read_text(encoding="utf-8")), case.get("setup", []))
    return base, apply_patch(copy.deepcopy(base), case["patch"])


def run_case(case: dict[str, Any]) -> Report:
    base, head = revisions(case)
    return compare(load_document(base, "base"), load_document(head, "head"))


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("path", CASES, ids=lambda path: path.stem)
def test_corpus_case(path: Path) -> None:
    case = parse_yaml(path.read_text(encoding="utf-8"))
    assert set(case) <= {"summary", "setup", "patch", "breaking", "compatible", "exit"}
    assert case["summary"] and case["patch"]
    report = run_case(case)
    assert sorted(change.pointer for change in report.breaking) == sorted(case.get("breaking", []))
    assert sorted(change.pointer for change in report.compatible) == sorted(case.get("compatible", []))
    assert report.exit_status == case.get("exit", 1 if case.get("breaking") else 0)


def test_each_change_reads_as_a_line_and_names_its_component() -> None:
    case = parse_yaml((CORPUS / "component_both_directions.yaml").read_text(encoding="utf-8"))
    text = run_case(case).render("base.yaml", "head.yaml")
    assert "breaking (2):" in text
    assert "compatible (4):" in text
    assert "request: maximum lowered from 5 to 4 (defined at /components/schemas/Priority/maximum)" in text
    assert "response: maximum lowered from 5 to 4" in text
    assert text.endswith("FAIL: 2 breaking changes; keep the contract compatible, or bump info.version to 2.0.0")


def test_the_real_spec_has_no_changes_against_itself() -> None:
    document = parse_yaml((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    report = compare(load_document(document, "base"), load_document(copy.deepcopy(document), "head"))
    assert report.changes == ()
    assert "no changes" in report.render("a", "b")


def _write(path: Path, case: dict[str, Any] | None) -> Path:
    document = revisions(case)[1] if case else parse_yaml(BASE.read_text(encoding="utf-8"))
    path.write_text(yaml.dump(document, Dumper=yaml.CSafeDumper), encoding="utf-8")
    return path


def test_the_cli_exit_status(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _write(tmp_path / "base.yaml", None)
    removed = _write(tmp_path / "removed.yaml", parse_yaml((CORPUS / "operation_removed.yaml").read_text()))
    bumped = _write(tmp_path / "bumped.yaml", parse_yaml((CORPUS / "major_bump_allows_breaking.yaml").read_text()))
    assert main(["--spec", str(base), "--base-file", str(base)]) == 0
    assert main(["--spec", str(removed), "--base-file", str(base)]) == 1
    assert "operation removed: DELETE /tasks/{task_id} (deleteTask)" in capsys.readouterr().out
    assert main(["--spec", str(bumped), "--base-file", str(base)]) == 0
    assert "OK: 1 breaking change, allowed by the major version bump 1.2.0 -> 2.0.0" in capsys.readouterr().out


def test_an_unreadable_spec_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = _write(tmp_path / "base.yaml", None)
    assert main(["--spec", str(tmp_path / "missing.yaml"), "--base-file", str(base)]) == 2
    (tmp_path / "broken.yaml").write_text("openapi: [", encoding="utf-8")
    assert main(["--spec", str(tmp_path / "broken.yaml"), "--base-file", str(base)]) == 2
    # codegen refuses an optional request body, so the gate does too (with codegen's reason)
    optional = {"patch": [{"op": "replace", "path": "/paths/~1tasks/post/requestBody/required", "value": False}]}
    assert main(["--spec", str(_write(tmp_path / "optional.yaml", optional)), "--base-file", str(base)]) == 2
    assert "createTask: a request body must be required" in capsys.readouterr().err
