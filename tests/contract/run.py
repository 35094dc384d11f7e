"""The contract suite: Schemathesis, every check and phase, against a live deployment.

`python -m tests.contract.run --base-url URL` tests any running deployment (`make contract BASE_URL=…`);
without `--base-url` it starts the real server on a fresh SQLite database first. The pytest contract
test runs the same `schemathesis_command()`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "openapi.yaml"
PHASES = "examples,coverage,fuzzing,stateful"
DEFAULT_SEED = 20261126
DEFAULT_MAX_EXAMPLES = 50


def schemathesis_command(
    base_url: str, *, report_dir: Path, seed: int = DEFAULT_SEED, max_examples: int = DEFAULT_MAX_EXAMPLES
) -> list[str]:
    """The Schemathesis CLI invocation: all checks, all phases, a fixed seed, a JUnit report."""
    return [
        sys.executable, "-m", "schemathesis.cli", "run", str(SPEC),
        "--url", base_url,
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.contract.run", description=__doc__)
    parser.add_argument("--base-url", default="", help="deployment to test; empty: start a local server")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--max-examples", type=int, default=DEFAULT_MAX_EXAMPLES)
    parser.add_argument("--report-dir", type=Path, default=ROOT / "build" / "contract")
    args = parser.parse_args(argv)

    def run(base_url: str) -> int:
        command = schemathesis_command(
            base_url, report_dir=args.report_dir, seed=args.seed, max_examples=args.max_examples
        )
        print("$", " ".join(command), flush=True)
        return subprocess.run(command, check=False).returncode

    if args.base_url:
        return run(args.base_url.rstrip("/"))
    from tests.liveserver import live_server

    with tempfile.TemporaryDirectory(prefix="taskapi-contract-") as tmp, live_server(Path(tmp)) as base_url:
        return run(base_url)


if __name__ == "__main__":
    sys.exit(main())
