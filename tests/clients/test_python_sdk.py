"""The Python SDK of `make sdk`, installed on its own into a fresh venv, type-checked and run against the live
server: python_scenario.py, a client team's program (sign up, token, tasks, pages, 404 and 422 problems)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clients.conftest import Sdks
from tests.conftest import ROOT

pytestmark = [pytest.mark.clients, pytest.mark.xdist_group("sdk"), pytest.mark.slow]

SCENARIO = Path(__file__).with_name("python_scenario.py")


def run(command: list[str], cwd: Path | None = None) -> str:
    """Run `command`; its output, or a failure that shows it."""
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_the_python_sdk_installed_alone_runs_the_scenario(tmp_path: Path, base_url: str, sdks: Sdks) -> None:
    assert sdks.result.returncode == 0, sdks.result.stderr
    sdk = shutil.copytree(sdks.python, tmp_path / "sdk")
    venv = tmp_path / "venv"
    python = str(venv / "bin" / "python")
    uv = [sys.executable, "-m", "uv"]
    run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    # The SDK and what it declares, nothing else, at the versions the project locks (uv's cache makes it fast).
    lock = str(ROOT / "requirements.lock")
    run([*uv, "pip", "install", "--quiet", "--python", python, "--constraint", lock, str(sdk)])

    # Against the SDK's own annotations (it ships py.typed), as the TypeScript test runs tsc --strict.
    mypy = [sys.executable, "-m", "mypy", "--strict", "--config-file=", "--cache-dir", str(tmp_path / "mypy")]
    run([*mypy, "--python-executable", python, str(SCENARIO)])

    output = run([python, str(SCENARIO), base_url], cwd=tmp_path)
    assert output.splitlines() == ["python scenario: ok (6 tasks, 2 pages, 404 and 422 as problems)"]
