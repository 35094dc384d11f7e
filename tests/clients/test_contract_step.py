"""`make contract BASE_URL=…` as a CI pipeline runs it (README, "As a pipeline step"): against a deployment
that is already running, signed in with credentials from the environment, leaving a JUnit report."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest

from taskapi.testing.contract import random_credentials, server_environment, sign_in
from taskapi.testing.liveserver import live_server
from tests.conftest import ROOT

pytestmark = pytest.mark.clients


def test_make_contract_against_a_running_deployment(tmp_path: Path) -> None:
    username, password = random_credentials()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        "TASKAPI_CONTRACT_USERNAME": username,
        "TASKAPI_CONTRACT_PASSWORD": password,
    }
    reports = tmp_path / "reports"
    # A deployment under contract test raises its rate limits (README, "As a pipeline step").
    with live_server(tmp_path / "deployment", env=server_environment()) as server:
        result = subprocess.run(
            [
                "make",
                "--no-print-directory",
                "contract",
                f"BASE_URL={server.base_url}",
                "MAX_EXAMPLES=5",
                f"REPORT_DIR={reports}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
        assert password not in result.stdout + result.stderr
        # The run signed up the user from the environment and worked as that user: its tasks are there.
        token = sign_in(server.base_url, username, password)
        tasks = httpx.get(f"{server.base_url}/tasks", headers={"Authorization": f"Bearer {token}"}).json()
        assert tasks["items"], "the contract run created no task as the configured user"

    [report] = reports.glob("junit-*.xml")
    suites = list(ET.parse(report).getroot().iter("testsuite"))
    assert sum(int(suite.get("tests", 0)) for suite in suites) > 0
    assert sum(int(suite.get("failures", 0)) + int(suite.get("errors", 0)) for suite in suites) == 0

    # The contract coverage report of the run, from Schemathesis's HAR and WFC reports: its summary line
    # last, and a short run's missing responses do not fail the step.
    assert result.stdout.splitlines()[-1].startswith("contract coverage: operations ")
    coverage = json.loads((reports / "coverage" / "report.json").read_text(encoding="utf-8"))
    assert coverage["summary"]["operations"]["answered"] > 0
    assert coverage["missing"]
    assert coverage["sources"]["har"] == [str(reports / "har.json")]
    assert (reports / "coverage" / "report.md").read_text(encoding="utf-8").startswith("# Contract coverage")
    assert "[Filtered]" in (reports / "har.json").read_text(encoding="utf-8")  # the bearer token is not in it
