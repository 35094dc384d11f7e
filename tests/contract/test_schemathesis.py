"""The contract gate: Schemathesis, every check and every phase, against the real server (uvicorn on a
free 127.0.0.1 port, a fresh SQLite file), signed in as a fresh user, rate limits on but raised beyond
the run's traffic (their RateLimit fields are checked like every header). Zero failures (ignored_auth
included), and every phase must have run."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from taskapi.testing.contract import random_credentials, schemathesis_command, server_environment, sign_in
from taskapi.testing.databases import backend_under_test
from taskapi.testing.liveserver import live_server
from tests.conftest import ROOT

REPORT_DIR = ROOT / "build" / "contract" / backend_under_test()

pytestmark = [pytest.mark.contract, pytest.mark.postgresql]


def test_schemathesis_finds_no_failure_on_the_live_server(tmp_path: Path, empty_database_url: str) -> None:
    shutil.rmtree(REPORT_DIR, ignore_errors=True)
    with live_server(tmp_path / "server", database_url=empty_database_url, env=server_environment()) as server:
        base_url = server.base_url
        token = sign_in(base_url, *random_credentials())
        result = subprocess.run(
            schemathesis_command(base_url, spec=ROOT / "openapi.yaml", token=token, report_dir=REPORT_DIR),
            capture_output=True,
            text=True,
            check=False,
        )
    output = result.stdout + result.stderr
    (REPORT_DIR / "schemathesis.log").write_text(output, encoding="utf-8")
    assert result.returncode == 0, output[-6000:]

    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}\b", output), f"phase {phase} did not pass:\n{output[-3000:]}"
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
    assert links is not None and int(links.group(1)) > 0, "the stateful phase followed no link"

    [report] = REPORT_DIR.glob("junit-*.xml")
    suites = ET.parse(report).getroot()
    tests = sum(int(suite.get("tests", 0)) for suite in suites.iter("testsuite"))
    failures = sum(int(suite.get("failures", 0)) + int(suite.get("errors", 0)) for suite in suites.iter("testsuite"))
    assert tests > 0
    assert failures == 0
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary is not None and summary.group(1) == summary.group(2)
    print(f"\nSchemathesis: {summary.group(0)}; links {links.group(1)}/{links.group(2)}; report {report}")
