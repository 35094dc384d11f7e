"""The TypeScript types of `make sdk` with openapi-fetch: typescript/scenario.ts, a client team's program,
compiled with tsc --strict and run by node against the live server; and typescript/wrong.ts, whose mistakes
tsc must report, line by line (the types are real, not `any`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from codegen.sdk import NODE_BIN, SPEC, typescript_types

from tests.conftest import ROOT

pytestmark = pytest.mark.clients

PROGRAM = Path(__file__).with_name("typescript")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """typescript/ copied next to a freshly generated schema.d.ts, with the project's node_modules."""
    folder = tmp_path / "ts"
    shutil.copytree(PROGRAM, folder)
    typescript_types(SPEC, folder)
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    return folder


def tsc(project: Path, config: str = "tsconfig.json") -> subprocess.CompletedProcess[str]:
    command = [str(NODE_BIN / "tsc"), "--project", config, "--pretty", "false"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, check=False, timeout=120)


def test_the_scenario_compiles_strictly_and_runs_against_the_live_server(project: Path, base_url: str) -> None:
    compiled = tsc(project)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    ran = subprocess.run(
        ["node", "out/scenario.js", base_url], cwd=project, capture_output=True, text=True, check=False, timeout=60
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == ["typescript scenario: ok (3 tasks, 2 pages, 404, 412 and 422 as problems)"]


def test_tsc_rejects_each_mistake_in_wrong_ts(project: Path) -> None:
    config = {"extends": "./tsconfig.json", "compilerOptions": {"noEmit": True}, "files": ["wrong.ts"]}
    (project / "tsconfig.wrong.json").write_text(json.dumps(config), encoding="utf-8")
    marked = {
        number
        for number, line in enumerate((project / "wrong.ts").read_text(encoding="utf-8").splitlines(), start=1)
        if "// expect-error" in line
    }
    checked = tsc(project, "tsconfig.wrong.json")
    reported = {int(line) for line in re.findall(r"^wrong\.ts\((\d+),\d+\): error TS\d+", checked.stdout, re.M)}
    assert checked.returncode != 0
    assert reported == marked, checked.stdout
