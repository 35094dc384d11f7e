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
from codegen.sdk import NODE_BIN

from tests.clients.conftest import Sdks
from tests.conftest import ROOT

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("sdk"), pytest.mark.slow]

PROGRAM = Path(__file__).with_name("typescript")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory, sdks: Sdks) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """typescript/ copied next to the schema.d.ts `make sdk` generated, with the project's node_modules, and
    compiled by one strict tsc run over both programs (its output, and the JavaScript it emitted for
    scenario.ts: errors in wrong.ts do not stop the emit)."""
    assert sdks.result.returncode == 0, sdks.result.stderr
    folder = tmp_path_factory.mktemp("ts")
    shutil.copytree(PROGRAM, folder, dirs_exist_ok=True)
    shutil.copy(sdks.typescript, folder / "schema.d.ts")
    (folder / "node_modules").symlink_to(ROOT / "node_modules")
    both = {
        "extends": "./tsconfig.json",
        "compilerOptions": {"noEmitOnError": False},
        "files": ["scenario.ts", "wrong.ts"],
    }
    (folder / "tsconfig.both.json").write_text(json.dumps(both), encoding="utf-8")
    command = [str(NODE_BIN / "tsc"), "--project", "tsconfig.both.json", "--pretty", "false"]
    return folder, subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False, timeout=120)


def errors_in(compiled: subprocess.CompletedProcess[str], program: str) -> set[int]:
    """The lines of `program` tsc reported an error on."""
    return {
        int(line) for line in re.findall(rf"^{re.escape(program)}\((\d+),\d+\): error TS\d+", compiled.stdout, re.M)
    }


def test_the_scenario_compiles_strictly_and_runs_against_the_live_server(
    compiled: tuple[Path, subprocess.CompletedProcess[str]], base_url: str
) -> None:
    project, result = compiled
    assert errors_in(result, "scenario.ts") == set(), result.stdout + result.stderr
    ran = subprocess.run(
        ["node", "out/scenario.js", base_url], cwd=project, capture_output=True, text=True, check=False, timeout=60
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == ["typescript scenario: ok (3 tasks, 2 pages, 404, 412 and 422 as problems)"]


def test_tsc_rejects_each_mistake_in_wrong_ts(compiled: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    project, result = compiled
    marked = {
        number
        for number, line in enumerate((project / "wrong.ts").read_text(encoding="utf-8").splitlines(), start=1)
        if "// expect-error" in line
    }
    assert result.returncode != 0
    assert errors_in(result, "wrong.ts") == marked, result.stdout
    # Every error is one of those: none elsewhere, nor a configuration error.
    assert len(re.findall(r"error TS\d+", result.stdout)) == len(marked), result.stdout
