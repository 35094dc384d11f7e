"""`make sdk` (python -m codegen.sdk): silent generators on openapi.yaml; on a spec that makes each of them
warn, a failure that names both warnings, though neither generator fails by itself (they carry on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from codegen.sdk import SPEC

from tests.clients.conftest import Sdks
from tests.conftest import ROOT

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("sdk"), pytest.mark.slow]


def make_sdk(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "codegen.sdk", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


def test_make_sdk_writes_both_sdks_without_a_warning(sdks: Sdks) -> None:
    assert (sdks.result.returncode, sdks.result.stderr) == (0, "")
    assert (sdks.python / "taskapi_client" / "py.typed").is_file()
    assert sdks.typescript.is_file()


def test_a_warning_of_either_generator_fails_make_sdk(tmp_path: Path) -> None:
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # `{id}` is in the path but no parameter declares it.
    thing = {"operationId": "getThing", "summary": "A thing", "responses": {"204": {"description": "Nothing."}}}
    document["paths"]["/things/{id}"] = {"get": thing}
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    made = make_sdk("--spec", str(spec), "--out", str(tmp_path / "sdk"))
    assert made.returncode == 1
    assert "openapi-python-client (exit 1) warned or failed" in made.stderr
    assert "Incorrect path templating for /things/{id}" in made.stderr
    assert "openapi-typescript (exit 0) warned or failed" in made.stderr
    assert "⚠  The operation does not define the path parameter `{id}` expected by path `/things/{id}`" in made.stderr
