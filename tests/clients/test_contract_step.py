"""`make contract BASE_URL=…` as a CI pipeline runs it (README, "As a pipeline step"): against a deployment
that is already running, signed in with credentials from the environment, leaving a JUnit report."""

from __future__ import annotations

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
