"""The contract run: Schemathesis, every check and phase, against a live deployment, authenticated.

`python -m taskapi.testing.contract --base-url URL` tests any running deployment
(`make contract BASE_URL=…`); without `--base-url` it starts the real server on a fresh SQLite database
first. The pytest contract test runs the same `schemathesis_command()`. The spec is the one shipped in
the package (byte for byte openapi.yaml: `make check` fails when they differ).

Into the report directory go Schemathesis's JUnit report (`junit-*.xml`), its HAR (`har.json`, every
request and response, credentials filtered), WFC (`wfc.json`) and event stream (`events.ndjson`: every
case, and each link the stateful phase followed) reports, and the contract coverage
report made from them (`coverage/report.md` and `report.json`: taskapi.testing.contract_coverage), with,
for the local server, what the server itself recorded answering. The coverage report prints its summary
line and never changes the run's exit status: a short run produces few of the declared responses.

Credentials come from the environment:
- TASKAPI_CONTRACT_TOKEN: a bearer token to use as is; or
- TASKAPI_CONTRACT_USERNAME and TASKAPI_CONTRACT_PASSWORD: signed up if new, then exchanged for a token;
- neither: a fresh random user is signed up.

The run signs up and signs in far more often than the spec's default rate limits allow one client
(a 429 is declared, but Schemathesis must see valid requests accepted): a deployment under test needs
its limits raised, as `server_environment()` does for the local server (see README.md, Rate limits).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib.resources import as_file, files
from pathlib import Path

import httpx

PHASES = "examples,coverage,fuzzing,stateful"
# The run's Schemathesis configuration: the statuses a valid request may get, and its hooks; and the same for
# a deployment that requires If-Match on task writes (428 for a valid write without it).
CONFIG = Path(__file__).with_name("schemathesis.toml")
REQUIRE_IF_MATCH_CONFIG = Path(__file__).with_name("schemathesis-require-if-match.toml")
DEFAULT_SEED = 20261126
DEFAULT_MAX_EXAMPLES = 50
# Every policy raised far beyond what a run sends, so that the limits (and their RateLimit fields) stay on.
RAISED_RATE_LIMIT = "1000000/hour"
# Schemathesis's reports the coverage report reads, in the report directory; and where it goes there.
HAR_REPORT = "har.json"
WFC_REPORT = "wfc.json"
# Schemathesis's event stream: every case, and the link each stateful step followed.
EVENTS_REPORT = "events.ndjson"
COVERAGE_DIR = "coverage"
WAIVERS = Path("tests") / "contract_coverage_waivers.yaml"


def server_environment() -> dict[str, str]:
    """The settings of a server under the contract run: rate limits on, raised beyond the run's traffic."""
    from taskapi.generated.server import RATE_LIMIT_POLICIES

    return {"TASKAPI_RATE_LIMITS": json.dumps(dict.fromkeys(RATE_LIMIT_POLICIES, RAISED_RATE_LIMIT))}


def fuzzer_environment() -> dict[str, str]:
    """The environment of the Schemathesis process: this one's, less a coverage measurement that a test run
    (coverage's `patch = ["subprocess"]`) passes down. The code under test is the server; the fuzzer's own
    process spends half its time in the tracer, and its hooks are measured by their unit tests."""
    return {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_PROCESS_")}


def schemathesis_command(
    base_url: str,
    *,
    spec: Path,
    token: str,
    report_dir: Path,
    seed: int = DEFAULT_SEED,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
    require_if_match: bool = False,
    operation_ids: Sequence[str] = (),
    config: Path | None = None,
) -> list[str]:
    """The Schemathesis CLI invocation: all checks, all phases, a fixed seed; a JUnit report, the HAR and
    WFC reports the contract coverage report reads (`HAR_REPORT`, `WFC_REPORT` in `report_dir`), and the
    event stream (`EVENTS_REPORT`: which links the stateful phase followed).
    `require_if_match`: the deployment has TASKAPI_REQUIRE_IF_MATCH=true. `operation_ids`: only these
    operations (default: every one). `config`: another Schemathesis configuration (another spec's), which
    then says which checks run (`--checks all` would override what it says per operation)."""
    checks = ("--checks", "all") if config is None else ()
    config = config or (REQUIRE_IF_MATCH_CONFIG if require_if_match else CONFIG)
    only = [argument for operation_id in operation_ids for argument in ("--include-operation-id", operation_id)]
    return [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", str(spec),
        *only,
        "--url", base_url,
        "--header", f"Authorization: Bearer {token}",
        *checks,
        "--phases", PHASES,
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        "--workers", "1",  # threads trip a CPython 3.11 ast bug inside hypothesis
        "--continue-on-failure",
        "--report", "junit,har,wfc,ndjson",
        "--report-dir", str(report_dir),
        "--report-har-path", str(report_dir / HAR_REPORT),
        "--report-wfc-path", str(report_dir / WFC_REPORT),
        "--report-ndjson-path", str(report_dir / EVENTS_REPORT),
        "--no-color",
    ]  # fmt: skip


def sign_in(base_url: str, username: str, password: str) -> str:
    """Sign the user up (a taken username is fine) and return a bearer token."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        created = client.post("/users", json={"username": username, "password": password})
        if created.status_code not in (201, 409):
            raise RuntimeError(f"sign-up failed: {created.status_code} {created.text}")
        granted = client.post(
            "/auth/token", data={"grant_type": "password", "username": username, "password": password}
        )
        if granted.status_code != 200:
            raise RuntimeError(f"no token for {username}: {granted.status_code} {granted.text}")
        return str(granted.json()["access_token"])


def random_credentials() -> tuple[str, str]:
    """A username and password no one else has."""
    return f"contract-{secrets.token_hex(6)}", secrets.token_urlsafe(24)


def token_from_environment(base_url: str) -> str:
    """The bearer token the run uses, per the environment (see the module docstring)."""
    token = os.environ.get("TASKAPI_CONTRACT_TOKEN")
    if token:
        return token
    username = os.environ.get("TASKAPI_CONTRACT_USERNAME")
    password = os.environ.get("TASKAPI_CONTRACT_PASSWORD")
    if username and password:
        return sign_in(base_url, username, password)
    return sign_in(base_url, *random_credentials())


def main(argv: list[str] | None = None) -> int:
    """`python -m taskapi.testing.contract`: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m taskapi.testing.contract", description=__doc__)
    parser.add_argument("--base-url", default="", help="deployment to test; empty: start a local server")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--report-dir", type=Path, default=Path("build") / "contract")
    parser.add_argument(
        "--require-if-match",
        action="store_true",
        help="the deployment requires If-Match on task writes (TASKAPI_REQUIRE_IF_MATCH=true): 428 is a valid "
        "answer to a write without it (and the local server is started so)",
    )
    parser.add_argument(
        "--operation-id", action="append", default=[], help="test only this operation (repeatable; default: all)"
    )
    args = parser.parse_args(argv)

    def run(base_url: str) -> int:
        for stale in (
            HAR_REPORT,
            WFC_REPORT,
            EVENTS_REPORT,
        ):  # an earlier run's, which this run may not replace if it fails
            (args.report_dir / stale).unlink(missing_ok=True)
        token = token_from_environment(base_url)
        with as_file(files("taskapi.generated") / "openapi.yaml") as spec:
            command = schemathesis_command(
                base_url,
                spec=spec,
                token=token,
                report_dir=args.report_dir,
                seed=args.seed,
                max_examples=args.max_examples,
                require_if_match=args.require_if_match,
                operation_ids=args.operation_id,
            )
            print("$", " ".join(command).replace(token, "***"), flush=True)
            return subprocess.run(command, env=fuzzer_environment(), check=False).returncode

    if args.base_url:
        base_url = args.base_url.rstrip("/")
        status = run(base_url)
        report_coverage(args.report_dir, base_url)
        return status
    from taskapi.testing.liveserver import live_server

    with tempfile.TemporaryDirectory(prefix="taskapi-contract-") as tmp:
        recordings = Path(tmp) / "recordings"  # what the server answered, written when it stops
        env = {**server_environment(), "TASKAPI_CONTRACT_RECORD_DIR": str(recordings)}
        if args.require_if_match:
            env["TASKAPI_REQUIRE_IF_MATCH"] = "true"
        with live_server(Path(tmp), env=env) as server:
            status = run(server.base_url)
        report_coverage(args.report_dir, server.base_url, recordings)
        return status


def report_coverage(report_dir: Path, base_url: str, recordings: Path | None = None) -> int:
    """The contract coverage report of the run into `report_dir`/coverage/ (its summary line on stdout),
    from the reports Schemathesis wrote there and the server's `recordings`; its exit status, which the
    run does not take as its own (0, or 2 when an input could not be read)."""
    from taskapi.testing import contract_coverage

    sources: list[str] = []
    for flag, path in (
        ("--har", report_dir / HAR_REPORT),
        ("--wfc", report_dir / WFC_REPORT),
        ("--recordings", recordings),
    ):
        if path is not None and path.exists():
            sources += [flag, str(path)]
    if not sources:
        print("contract coverage: no report of the run to read (Schemathesis wrote none)", flush=True)
        return 2
    waivers = ["--waivers", str(WAIVERS)] if WAIVERS.is_file() else []
    return contract_coverage.main([*sources, "--base-url", base_url, *waivers, "--out", str(report_dir / COVERAGE_DIR)])


if __name__ == "__main__":
    sys.exit(main())
