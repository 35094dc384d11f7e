"""The contract run: Schemathesis, every check and phase, against a live deployment, authenticated.

`python -m taskapi.testing.contract --base-url URL` tests any running deployment
(`make contract BASE_URL=…`); without `--base-url` it starts the real server on a fresh SQLite database
first. The pytest contract test runs the same `schemathesis_command()`. The spec is the one shipped in
the package (byte for byte openapi.yaml: `make check` fails when they differ).

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
from importlib.resources import as_file, files
from pathlib import Path

import httpx

PHASES = "examples,coverage,fuzzing,stateful"
# The run's Schemathesis configuration: the statuses a valid request may get, and its hooks.
CONFIG = Path(__file__).with_name("schemathesis.toml")
DEFAULT_SEED = 20261126
DEFAULT_MAX_EXAMPLES = 50
# Every policy raised far beyond what a run sends, so that the limits (and their RateLimit fields) stay on.
RAISED_RATE_LIMIT = "1000000/hour"


def server_environment() -> dict[str, str]:
    """The settings of a server under the contract run: rate limits on, raised beyond the run's traffic."""
    from taskapi.generated.server import RATE_LIMIT_POLICIES

    return {"TASKAPI_RATE_LIMITS": json.dumps(dict.fromkeys(RATE_LIMIT_POLICIES, RAISED_RATE_LIMIT))}


def schemathesis_command(
    base_url: str,
    *,
    spec: Path,
    token: str,
    report_dir: Path,
    seed: int = DEFAULT_SEED,
    max_examples: int = DEFAULT_MAX_EXAMPLES,
) -> list[str]:
    """The Schemathesis CLI invocation: all checks, all phases, a fixed seed, a JUnit report."""
    return [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run", str(spec),
        "--url", base_url,
        "--header", f"Authorization: Bearer {token}",
        "--checks", "all",
        "--phases", PHASES,
        "--max-examples", str(max_examples),
        "--seed", str(seed),
        "--workers", "1",  # threads trip a CPython 3.11 ast bug inside hypothesis
        "--continue-on-failure",
        "--report", "junit",
        "--report-dir", str(report_dir),
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
    args = parser.parse_args(argv)

    def run(base_url: str) -> int:
        token = token_from_environment(base_url)
        with as_file(files("taskapi.generated") / "openapi.yaml") as spec:
            command = schemathesis_command(
                base_url,
                spec=spec,
                token=token,
                report_dir=args.report_dir,
                seed=args.seed,
                max_examples=args.max_examples,
            )
            print("$", " ".join(command).replace(token, "***"), flush=True)
            return subprocess.run(command, check=False).returncode

    if args.base_url:
        return run(args.base_url.rstrip("/"))
    from taskapi.testing.liveserver import live_server

    with (
        tempfile.TemporaryDirectory(prefix="taskapi-contract-") as tmp,
        live_server(Path(tmp), env=server_environment()) as server,
    ):
        return run(server.base_url)


if __name__ == "__main__":
    sys.exit(main())
