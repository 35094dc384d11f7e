"""Lint openapi.yaml with Redocly CLI (pinned in package.json) and codegen/redocly.yaml: zero errors and
zero warnings, or a non-zero exit naming each problem as `file:line:col rule: message (pointer)`.

Redocly exits 0 on warnings; a warning here is a finding like any other, so this reads its JSON report.
`make lint-spec` runs it (and `make check`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "redocly.yaml"
# Redocly's ignore file, which it reads beside the config (`redocly lint --generate-ignore-file` writes it).
IGNORE_FILE = ".redocly.lint-ignore.yaml"


class LintError(Exception):
    """Redocly could not run, or did not produce a report."""


@dataclass(frozen=True)
class Problem:
    """One finding of the linter."""

    rule: str
    severity: str
    message: str
    where: str
    pointer: str

    def __str__(self) -> str:
        return f"{self.where} {self.severity} {self.rule}: {self.message} ({self.pointer})"


def lint(spec: Path, *, config: Path = CONFIG, redocly: Path | None = None) -> list[Problem]:
    """Every problem Redocly finds in `spec` under `config`."""
    return lint_many([spec], config=config, redocly=redocly)[spec]


def lint_many(
    specs: Sequence[Path], *, config: Path = CONFIG, redocly: Path | None = None
) -> dict[Path, list[Problem]]:
    """Every problem Redocly finds in each of `specs` under `config`, by spec, from one run of it (starting
    Redocly costs more than linting a file). A problem that an ignore file beside the config hides is
    reported too, as one `lint-ignore` problem: nothing may be ignored."""
    if len(set(specs)) != len(specs):
        raise LintError("a spec is listed twice")
    binary = redocly or ROOT / "node_modules" / ".bin" / "redocly"
    if not binary.exists():
        raise LintError(f"{binary} is missing: run `make lint-spec` (it installs the npm tools with npm ci)")
    # No telemetry or update check: lint runs offline in CI and must not wait on the network.
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"}
    result = subprocess.run(
        [str(binary), "lint", "--config", str(config), "--format", "json", *map(str, specs)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    reports = _reports(result.stdout)
    if len(reports) != len(specs):
        # Redocly stops at a file it cannot read, after the reports of the files before it.
        raise LintError(
            f"redocly gave {len(reports)} report(s) for {len(specs)} spec(s) (exit {result.returncode}):\n"
            f"{result.stderr}"
        )
    # Redocly lints the files one after the other, in the order given, and prints one report for each.
    return {spec: _problems(spec, report, config) for spec, report in zip(specs, reports, strict=True)}


def _reports(output: str) -> list[dict[str, Any]]:
    """The JSON documents Redocly printed, one after the other."""
    decoder = json.JSONDecoder()
    reports: list[dict[str, Any]] = []
    rest = output.lstrip()
    while rest:
        try:
            report, end = decoder.raw_decode(rest)
        except json.JSONDecodeError:
            break
        reports.append(report)
        rest = rest[end:].lstrip()
    return reports


def _problems(spec: Path, report: dict[str, Any], config: Path) -> list[Problem]:
    problems: list[Problem] = []
    for raw in report["problems"]:
        location = raw["location"][0]
        start = location.get("start", {})
        problems.append(
            Problem(
                rule=raw["ruleId"],
                severity=raw["severity"],
                message=raw["message"],
                where=f"{spec}:{start.get('line', '?')}:{start.get('col', '?')}",
                pointer=location["pointer"],
            )
        )
    if ignored := report["totals"]["ignored"]:
        # Redocly leaves the problems an ignore file lists out of its report and only counts them.
        ignore_file = config.parent / IGNORE_FILE
        message = f"{ignored} problem(s) hidden by {ignore_file}: no problem may be ignored, fix them"
        problems.append(Problem("lint-ignore", "error", message, str(spec), "#"))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codegen.lint", description=__doc__.split("\n\n")[0])
    parser.add_argument("spec", nargs="?", type=Path, default=ROOT / "openapi.yaml")
    args = parser.parse_args(argv)
    try:
        problems = lint(args.spec)
    except LintError as error:
        print(f"lint: {error}", file=sys.stderr)
        return 2
    for problem in problems:
        print(problem)
    if problems:
        print(f"{args.spec}: {len(problems)} problem(s); codegen/redocly.yaml lists the rules", file=sys.stderr)
        return 1
    print(f"{args.spec}: 0 errors, 0 warnings (Redocly, codegen/redocly.yaml)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
