"""The contract gate: Schemathesis, every check and every phase, against the real server (`taskapi serve` on
a fresh database of the run's backend), run as a CI pipeline runs it: `make contract BASE_URL=…`, signed in
with credentials from the environment, rate limits on but raised beyond the run's traffic (their RateLimit
fields are checked like every header, and a 429 fails the run). Zero failures (ignored_auth included),
every phase run, every link of the spec followed; a JUnit report, the HAR and WFC reports, and the contract
coverage report of the run left in the report directory. And the same against a deployment that requires
If-Match on task writes (`REQUIRE_IF_MATCH=true`), on the operations the setting changes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from taskapi.generated.server import OPERATIONS
from taskapi.testing.contract import random_credentials, server_environment, sign_in
from taskapi.testing.databases import Databases, backend_under_test
from taskapi.testing.liveserver import LiveServer, live_server
from tests.conftest import ROOT

REPORT_DIR = ROOT / "build" / "contract" / backend_under_test()
# What TASKAPI_REQUIRE_IF_MATCH changes: the writes of a task, and the create their links start from.
WRITES = ("createTask", "updateTask", "completeTask", "deleteTask")

pytestmark = [pytest.mark.contract, pytest.mark.slow]


def make_contract(
    server: LiveServer, report_dir: Path, *arguments: str
) -> tuple[subprocess.CompletedProcess[str], str]:
    """`make contract BASE_URL=<server>` with a user of its own from the environment, as a pipeline step
    runs it; its result, and the password it was given."""
    username, password = random_credentials()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")},
        "TASKAPI_CONTRACT_USERNAME": username,
        "TASKAPI_CONTRACT_PASSWORD": password,
    }
    shutil.rmtree(report_dir, ignore_errors=True)
    command = ["make", "--no-print-directory", "contract", f"BASE_URL={server.base_url}", f"REPORT_DIR={report_dir}"]
    result = subprocess.run([*command, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "schemathesis.log").write_text(result.stdout + result.stderr, encoding="utf-8")
    # The run signed up the user from the environment and worked as that user: its tasks are there.
    token = sign_in(server.base_url, username, password)
    tasks = httpx.get(f"{server.base_url}/tasks", headers={"Authorization": f"Bearer {token}"}).json()
    assert tasks["items"], "the contract run created no task as the configured user"
    return result, password


def assert_passed(result: subprocess.CompletedProcess[str], password: str, report_dir: Path) -> str:
    """Exit 0, every phase passed, every link followed, nothing failed in the JUnit report, no secret in the
    output; the output."""
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert password not in output
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅ {phase}\b", output), f"phase {phase} did not pass:\n{output[-3000:]}"
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", output)
    assert links is not None, output[-3000:]
    # Every link the spec declares between the operations tested, followed at least once (Schemathesis
    # also infers links of its own, from Location headers and ids in bodies: those may go unused).
    assert followed_links(report_dir) >= spec_links(operations_run(output)), followed_links(report_dir)

    [report] = report_dir.glob("junit-*.xml")
    suites = list(ET.parse(report).getroot().iter("testsuite"))
    assert sum(int(suite.get("tests", 0)) for suite in suites) > 0
    assert sum(int(suite.get("failures", 0)) + int(suite.get("errors", 0)) for suite in suites) == 0
    summary = re.search(r"(\d+) generated, (\d+) passed", output)
    assert summary is not None and summary.group(1) == summary.group(2), output[-3000:]
    print(f"\nSchemathesis: {summary.group(0)}; {links.group(0)}; report {report}")
    return output


def spec_links(operation_ids: set[str]) -> set[str]:
    """The names of the links of the spec from and to operations in `operation_ids`."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    names = set()
    for item in document["paths"].values():
        for operation in item.values():
            if not isinstance(operation, dict) or operation.get("operationId") not in operation_ids:
                continue
            for response in operation["responses"].values():
                for name, link in response.get("links", {}).items():
                    if link["operationId"] in operation_ids:
                        names.add(name)
    return names


def followed_links(report_dir: Path) -> set[str]:
    """The names of the spec's links the stateful phase followed (Schemathesis's event stream)."""
    names = set()
    for line in (report_dir / "events.ndjson").read_text(encoding="utf-8").splitlines():
        event = json.loads(line).get("ScenarioFinished")
        for case in (event or {}).get("recorder", {}).get("cases", {}).values():
            transition = case.get("transition")
            if transition and not transition["is_inferred"]:
                names.add(re.fullmatch(r".+ -> \[\d+\] (\S+) -> .+", transition["id"]).group(1))  # type: ignore[union-attr]
    return names


def operations_run(output: str) -> set[str]:
    """The operations of the run (`--operation-id`, or every one)."""
    chosen = set(re.findall(r"--include-operation-id (\w+)", output))
    return chosen or {op.operation_id for op in OPERATIONS}


def covered(report_dir: Path) -> dict[str, set[int | None]]:
    """The statuses Schemathesis saw per operation (its WFC report), by `METHOD:/path`."""
    wfc: dict[str, Any] = json.loads((report_dir / "wfc.json").read_text(encoding="utf-8"))
    return {
        entry["endpointId"]: set(entry["httpStatus"]) for entry in wfc["problemDetails"]["rest"]["coveredHttpStatus"]
    }


@pytest.mark.postgresql
def test_schemathesis_finds_no_failure_on_the_live_server(tmp_path: Path, databases: Databases) -> None:
    with live_server(tmp_path / "server", database_url=databases.migrated(), env=server_environment()) as server:
        result, password = make_contract(server, REPORT_DIR)
    assert_passed(result, password, REPORT_DIR)

    # The contract coverage report of the run, from Schemathesis's HAR and WFC reports: its summary line
    # last; the run's exit status is Schemathesis's, whatever the report says.
    every = f"{len(OPERATIONS)}/{len(OPERATIONS)}"
    assert result.stdout.splitlines()[-1].startswith(f"contract coverage: operations {every}, "), result.stdout[-500:]
    coverage = json.loads((REPORT_DIR / "coverage" / "report.json").read_text(encoding="utf-8"))
    assert coverage["sources"]["har"] == [str(REPORT_DIR / "har.json")]
    assert (REPORT_DIR / "coverage" / "report.md").read_text(encoding="utf-8").startswith("# Contract coverage")
    assert "[Filtered]" in (REPORT_DIR / "har.json").read_text(encoding="utf-8")  # the bearer token is not in it
    # The links carry the ETag: conditional reads are answered 304, and conditional writes go through.
    statuses = covered(REPORT_DIR)
    assert 304 in statuses["GET:/tasks/{task_id}"]
    assert {200, 412} <= statuses["PATCH:/tasks/{task_id}"]


# What TASKAPI_REQUIRE_IF_MATCH changes is decided before the database is asked (428): the SQLite leg runs it.
def test_schemathesis_against_a_deployment_that_requires_if_match(tmp_path: Path, databases: Databases) -> None:
    env = {**server_environment(), "TASKAPI_REQUIRE_IF_MATCH": "true"}
    report_dir = REPORT_DIR.with_name(f"{REPORT_DIR.name}-require-if-match")
    with live_server(tmp_path / "server", database_url=databases.migrated(), env=env) as server:
        only = " ".join(f"--operation-id {operation}" for operation in WRITES)
        arguments = ("REQUIRE_IF_MATCH=true", "MAX_EXAMPLES=15", f"CONTRACT_ARGS={only}")
        result, password = make_contract(server, report_dir, *arguments)
    assert_passed(result, password, report_dir)
    statuses = covered(report_dir)
    for endpoint in ("PATCH:/tasks/{task_id}", "PATCH:/tasks/{task_id}/complete", "DELETE:/tasks/{task_id}"):
        assert 428 in statuses[endpoint], (endpoint, statuses[endpoint])  # a write without If-Match
        assert statuses[endpoint] & {200, 204}, (endpoint, statuses[endpoint])  # one with the ETag of the create
