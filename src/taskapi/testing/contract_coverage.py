"""The contract coverage report: for every operation of the spec, every status it declares, every request
header and every header of each response it declares, whether a run produced (or sent) it, and how often.

    python -m taskapi.testing.contract_coverage [--spec openapi.yaml] [--recordings DIR]... [--wfc FILE]...
        [--har FILE]... [--base-url URL] [--waivers FILE] [--out DIR] [--fail-on-missing]

What a run produced comes from any of:
- `--recordings DIR`: what servers answered, as the contract recorder writes it (TASKAPI_CONTRACT_RECORD_DIR,
  taskapi.recorder): one file per process, summed;
- `--har FILE`: Schemathesis's HAR report (`--report har`), every request and response with its headers,
  each entry matched to an operation by method and path (below `--base-url`'s path) as the server does;
- `--wfc FILE`: Schemathesis's WFC report (`--report wfc`): the statuses each endpoint answered, no counts.

The server and the client describe one run from two sides: counts are the larger of what the recordings
and the HAR files hold (never their sum), and a status the WFC report alone saw counts as produced, once.
The spec is read with codegen's own model of it (codegen/spec.py: what the generated server serves).

It writes `report.json` and `report.md` (Markdown tables for a CI job to show) to `--out` (default
build/contract-coverage/), lists prominently the statuses an operation answered that the spec does not
declare for it (contract violations), and prints one summary line last:

    contract coverage: operations 12/12, responses 119/121 (+2 waived), request headers 12/12, response headers 401/438

A waiver file (`--waivers`, e.g. tests/contract_coverage_waivers.yaml) says why a declared response cannot
be produced: operationId, then status, then a one-line reason. Waived responses are left out of the counts
(and their headers with them). With `--fail-on-missing` it exits 1, naming each, when a declared response
was never produced and has no waiver, when a waiver names an operation or status the spec does not
declare, or when a waiver waives a response the run produced (stale). With `--fail-on-undeclared` it also
exits 1 when an operation answered a status its spec does not declare. Exit 2: a usage error, or an input
that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import yaml
from codegen.spec import Operation, SpecError, load

from taskapi import runtime
from taskapi.recorder import FORMAT as RECORDING_FORMAT

FORMAT = "taskapi-contract-coverage/1"
DEFAULT_OUT = Path("build") / "contract-coverage"

Answer = tuple[str, int]  # (operationId, status)


class InputError(Exception):
    """An input that cannot be read or is not what it should be (exit 2)."""


@dataclass
class Observed:
    """What one kind of source says a run produced: answers by (operation, status) (None: of no operation),
    and the declared headers by (operation, status, header) that requests sent and responses carried.
    `seen` holds answers known to have happened, count unknown (the WFC report's)."""

    answers: Counter[tuple[str | None, int]] = field(default_factory=Counter)
    request_headers: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    response_headers: Counter[tuple[str, int, str]] = field(default_factory=Counter)
    seen: set[tuple[str | None, int]] = field(default_factory=set)

    def add(self, other: Observed) -> None:
        """Add what another source of the same kind (another process, another file) observed."""
        self.answers.update(other.answers)
        self.request_headers.update(other.request_headers)
        self.response_headers.update(other.response_headers)
        self.seen |= other.seen


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: {exc}") from exc


def read_recordings(directory: Path) -> tuple[Observed, int]:
    """The contract recorder's files in `directory`, summed; and how many there were."""
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory of recordings")
    observed = Observed()
    paths = sorted(path for path in directory.glob("*.json") if not path.name.startswith("."))
    for path in paths:
        document = _read_json(path)
        if not isinstance(document, dict) or document.get("format") != RECORDING_FORMAT:
            raise InputError(f"{path}: not a contract recording ({RECORDING_FORMAT})")
        try:
            for answer in document["answers"]:
                operation, status, count = answer["operation"], int(answer["status"]), int(answer["count"])
                observed.answers[(operation, status)] += count
                if operation is None:
                    continue
                for name, sent in answer["request_headers"].items():
                    observed.request_headers[(operation, status, name)] += int(sent)
                for name, carried in answer["response_headers"].items():
                    observed.response_headers[(operation, status, name)] += int(carried)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{path}: a malformed answer ({exc!r})") from exc
    return observed, len(paths)


def read_wfc(path: Path, operations: Sequence[Operation]) -> Observed:
    """The statuses of each endpoint in a WFC report (`problemDetails.rest.coveredHttpStatus`, endpoints
    named `METHOD:/path/template`); an endpoint the spec does not have is counted under no operation."""
    document = _read_json(path)
    by_endpoint = {f"{op.method}:{op.path}": op.operation_id for op in operations}
    observed = Observed()
    try:
        covered = document["problemDetails"]["rest"]["coveredHttpStatus"]
        for entry in covered:
            operation = by_endpoint.get(str(entry["endpointId"]))
            for status in entry["httpStatus"]:
                if status is not None:  # no response at all
                    observed.seen.add((operation, int(status)))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a WFC report ({exc!r})") from exc
    return observed


def read_har(path: Path, operations: Sequence[Operation], base_url: str = "") -> Observed:
    """Every entry of a HAR file, matched to an operation by its method and its URL's path below
    `base_url`'s path, with the declared request and response headers it has (names compared without case)."""
    document = _read_json(path)
    routes = runtime.Routes((_info(op), op) for op in operations)
    base_path = urllib.parse.urlsplit(base_url).path.rstrip("/")
    observed = Observed()
    try:
        for entry in document["log"]["entries"]:
            request, response = entry["request"], entry["response"]
            status = int(response["status"])
            if status == 0:  # Schemathesis's entry for a request that got no response
                continue
            target = urllib.parse.unquote(urllib.parse.urlsplit(str(request["url"])).path)
            if base_path and (target == base_path or target.startswith(base_path + "/")):
                target = target[len(base_path) :]
            matched = routes.match(target)
            op = None if matched is None else matched[0].methods.get(str(request["method"]).upper())
            if op is None:
                observed.answers[(None, status)] += 1
                continue
            observed.answers[(op.operation_id, status)] += 1
            sent = {str(header["name"]).lower() for header in request["headers"]}
            for name in op.request_headers:
                if name.lower() in sent:
                    observed.request_headers[(op.operation_id, status, name)] += 1
            carried = {str(header["name"]).lower() for header in response["headers"]}
            for declared in op.declared_responses:
                if declared.status == status:
                    for name in declared.headers:
                        if name.lower() in carried:
                            observed.response_headers[(op.operation_id, status, name)] += 1
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{path}: not a HAR file ({exc!r})") from exc
    return observed


def _info(op: Operation) -> runtime.OperationInfo:
    return runtime.OperationInfo(op.operation_id, op.method, op.path, op.tag, op.python_name)


def read_waivers(path: Path) -> dict[Answer, str]:
    """The waiver file: operationId -> status -> a one-line reason."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: {exc}") from exc
    waivers: dict[Answer, str] = {}
    if document is None:
        return waivers
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected operationId -> status -> reason")
    for operation, statuses in document.items():
        if not isinstance(statuses, dict):
            raise InputError(f"{path}: {operation}: expected status -> reason")
        for status, reason in statuses.items():
            if not str(status).isdigit():
                raise InputError(f"{path}: {operation}: {status!r} is not a status code")
            if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
                raise InputError(f"{path}: {operation} {status}: the reason must be one line of text")
            waivers[(str(operation), int(status))] = reason.strip()
    return waivers


@dataclass
class Sources:
    """What the run produced, by kind of source: the server's recordings, the client's HAR, the WFC report."""

    server: Observed = field(default_factory=Observed)
    client: Observed = field(default_factory=Observed)
    wfc: Observed = field(default_factory=Observed)
    described: dict[str, list[str]] = field(default_factory=dict)

    def answers(self, key: tuple[str | None, int]) -> tuple[bool, int]:
        """Whether the answer was produced, and how often (the larger count of the two sides)."""
        count = max(self.server.answers[key], self.client.answers[key])
        return count > 0 or key in self.wfc.seen, count

    def header(self, kind: str, key: tuple[str, int, str]) -> int:
        server: Counter[tuple[str, int, str]] = getattr(self.server, kind)
        client: Counter[tuple[str, int, str]] = getattr(self.client, kind)
        return max(server[key], client[key])

    def observed(self) -> set[tuple[str | None, int]]:
        return {key for observed in (self.server, self.client) for key in +observed.answers} | self.wfc.seen


def build(
    spec_path: Path, operations: Sequence[Operation], sources: Sources, waivers: dict[Answer, str]
) -> dict[str, Any]:
    """The report, as report.json holds it."""
    declared_ids = {op.operation_id for op in operations}
    declared = {(op.operation_id, response.status) for op in operations for response in op.declared_responses}
    report_operations: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    undeclared: list[dict[str, Any]] = []
    totals = Counter[str]()
    for op in operations:
        responses: list[dict[str, Any]] = []
        answered = 0
        for response in op.declared_responses:
            key = (op.operation_id, response.status)
            produced, count = sources.answers(key)
            answered += count or int(produced)
            waived = waivers.get(key)
            headers = [
                {"name": name, "count": sources.header("response_headers", (*key, name))} for name in response.headers
            ]
            responses.append(
                {"status": response.status, "produced": produced, "count": count, "waived": waived, "headers": headers}
            )
            if waived is not None and not produced:
                totals["waived"] += 1
                continue
            totals["responses"] += 1
            totals["responses_produced"] += produced
            totals["response_headers"] += len(headers)
            totals["response_headers_produced"] += sum(1 for header in headers if header["count"])
            if not produced:
                missing.append({"operation": op.operation_id, "status": response.status})
        request_headers = []
        for name in op.request_headers:
            sent = sum(
                sources.header("request_headers", (op.operation_id, r.status, name)) for r in op.declared_responses
            )
            request_headers.append({"name": name, "count": sent})
            totals["request_headers"] += 1
            totals["request_headers_sent"] += bool(sent)
        others = []
        for operation, status in sorted(key for key in sources.observed() if key[0] == op.operation_id):
            if (op.operation_id, status) not in declared:
                produced, count = sources.answers((operation, status))
                others.append({"status": status, "count": count})
                undeclared.append({"operation": op.operation_id, "status": status, "count": count})
                answered += count or int(produced)
        totals["operations"] += 1
        totals["operations_answered"] += answered > 0
        report_operations.append(
            {
                "operation": op.operation_id,
                "method": op.method,
                "path": op.path,
                "answered": answered,
                "responses": responses,
                "request_headers": request_headers,
                "undeclared_statuses": others,
            }
        )
    unmatched = [
        {"status": status, "count": sources.answers((None, status))[1]}
        for operation, status in sorted(sources.observed(), key=lambda key: key[1])
        if operation is None
    ]
    unknown = [
        {"operation": operation, "status": status, "count": sources.answers((operation, status))[1]}
        for operation, status in sorted(
            (k for k in sources.observed() if k[0] is not None and k[0] not in declared_ids), key=str
        )
    ]
    stale, unknown_waivers = [], []
    for (operation, status), reason in sorted(waivers.items()):
        entry = {"operation": operation, "status": status, "reason": reason}
        if (operation, status) not in declared:
            unknown_waivers.append(entry)
        elif sources.answers((operation, status))[0]:
            stale.append(entry)
    summary = {
        "operations": {"answered": totals["operations_answered"], "declared": totals["operations"]},
        "responses": {
            "produced": totals["responses_produced"],
            "declared": totals["responses"],
            "waived": totals["waived"],
        },
        "request_headers": {"sent": totals["request_headers_sent"], "declared": totals["request_headers"]},
        "response_headers": {"produced": totals["response_headers_produced"], "declared": totals["response_headers"]},
        "undeclared_statuses": len(undeclared),
    }
    report: dict[str, Any] = {
        "format": FORMAT,
        "spec": str(spec_path),
        "sources": sources.described,
        "summary": summary,
        "missing": missing,
        "undeclared": undeclared,
        "unmatched": unmatched,
        "unknown_operations": unknown,
        "waivers": {"stale": stale, "unknown": unknown_waivers},
        "operations": report_operations,
    }
    report["summary_line"] = summary_line(report)
    return report


def summary_line(report: dict[str, Any]) -> str:
    """`contract coverage: operations 12/12, responses 119/121 (+2 waived), request headers …, response headers …`"""
    s = report["summary"]
    waived = f" (+{s['responses']['waived']} waived)" if s["responses"]["waived"] else ""
    undeclared = f", undeclared statuses {s['undeclared_statuses']}" if s["undeclared_statuses"] else ""
    return (
        f"contract coverage: operations {s['operations']['answered']}/{s['operations']['declared']}, "
        f"responses {s['responses']['produced']}/{s['responses']['declared']}{waived}, "
        f"request headers {s['request_headers']['sent']}/{s['request_headers']['declared']}, "
        f"response headers {s['response_headers']['produced']}/{s['response_headers']['declared']}{undeclared}"
    )


def markdown(report: dict[str, Any]) -> str:
    """report.md: the summary, then what is wrong (undeclared statuses, missing responses, waivers), then
    every operation's responses and request headers."""
    lines = ["# Contract coverage", "", f"`{report['summary_line']}`", ""]
    lines += [f"Spec: `{report['spec']}`. Sources: " + _sources_text(report["sources"]) + ".", ""]
    if report["undeclared"]:
        lines += [
            "## Undeclared statuses (contract violations)",
            "",
            "| operation | status | count |",
            "| --- | --- | --- |",
        ]
        lines += [f"| `{u['operation']}` | {u['status']} | {_count(u['count'])} |" for u in report["undeclared"]]
        lines.append("")
    if report["missing"]:
        lines += ["## Declared responses never produced", "", "| operation | status |", "| --- | --- |"]
        lines += [f"| `{m['operation']}` | {m['status']} |" for m in report["missing"]]
        lines.append("")
    for title, entries in (("Stale waivers (the run produced these)", report["waivers"]["stale"]),
                           ("Waivers of undeclared responses", report["waivers"]["unknown"])):  # fmt: skip
        if entries:
            lines += [f"## {title}", "", "| operation | status | reason |", "| --- | --- | --- |"]
            lines += [f"| `{w['operation']}` | {w['status']} | {_cell(w['reason'])} |" for w in entries]
            lines.append("")
    if report["unknown_operations"]:
        lines += ["## Operations the spec does not have", "", "| operation | status | count |", "| --- | --- | --- |"]
        lines += [
            f"| `{u['operation']}` | {u['status']} | {_count(u['count'])} |" for u in report["unknown_operations"]
        ]
        lines.append("")
    lines += ["## Responses", "", "| operation | status | count | response headers (responses carrying each) |"]
    lines.append("| --- | --- | --- | --- |")
    for op in report["operations"]:
        for response in op["responses"]:
            if response["produced"]:
                count = _count(response["count"])
            else:
                count = f"waived: {_cell(response['waived'])}" if response["waived"] else "**missing**"
            headers = ", ".join(
                f"{h['name']} {h['count']}" if h["count"] else f"{h['name']} **0**" for h in response["headers"]
            )
            lines.append(
                f"| `{op['operation']}` {op['method']} {op['path']} | {response['status']} | {count} | {headers} |"
            )
        for other in op["undeclared_statuses"]:
            count = _count(other["count"])
            lines.append(
                f"| `{op['operation']}` {op['method']} {op['path']} | {other['status']} | {count} **undeclared** | |"
            )
    lines += ["", "## Request headers", "", "| operation | header | requests sending it |", "| --- | --- | --- |"]
    for op in report["operations"]:
        for header in op["request_headers"]:
            sent = header["count"] if header["count"] else "**0**"
            lines.append(f"| `{op['operation']}` | {header['name']} | {sent} |")
    if report["unmatched"]:
        lines += ["", "## Requests of no operation", "", "| status | count |", "| --- | --- |"]
        lines += [f"| {u['status']} | {_count(u['count'])} |" for u in report["unmatched"]]
    return "\n".join(lines) + "\n"


def _count(count: int) -> str:
    return str(count) if count else "seen"  # the WFC report says a status was seen, not how often


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _sources_text(described: dict[str, list[str]]) -> str:
    parts = [f"{kind} {', '.join(f'`{item}`' for item in items)}" for kind, items in described.items() if items]
    return "; ".join(parts) or "none"


def failures(report: dict[str, Any], *, undeclared: bool = False) -> list[str]:
    """What fails the `--fail-on-missing` gate (and `--fail-on-undeclared`), one line each."""
    lines = [
        f"never produced: {m['operation']} {m['status']} (produce it in a test, or waive it)" for m in report["missing"]
    ]
    lines += [f"waiver of an undeclared response: {w['operation']} {w['status']}" for w in report["waivers"]["unknown"]]
    lines += [f"stale waiver: {w['operation']} {w['status']} was produced" for w in report["waivers"]["stale"]]
    if undeclared:
        lines += [f"undeclared status: {u['operation']} answered {u['status']}" for u in report["undeclared"]]
        lines += [
            f"undeclared operation: {u['operation']} answered {u['status']}" for u in report["unknown_operations"]
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    """`python -m taskapi.testing.contract_coverage`: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m taskapi.testing.contract_coverage", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--spec", type=Path, help="the spec (default: the one the server serves, openapi.yaml)")
    parser.add_argument("--recordings", type=Path, action="append", default=[], help="a contract recorder's directory")
    parser.add_argument("--wfc", type=Path, action="append", default=[], help="a Schemathesis WFC report")
    parser.add_argument("--har", type=Path, action="append", default=[], help="a Schemathesis HAR report")
    parser.add_argument("--base-url", default="", help="the URL the HAR's requests were sent to (its path is stripped)")
    parser.add_argument("--waivers", type=Path, help="operationId -> status -> why it cannot be produced (YAML)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"where to write the report (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--fail-on-missing", action="store_true", help="exit 1 on unwaived missing responses and bad waivers"
    )
    parser.add_argument(
        "--fail-on-undeclared",
        action="store_true",
        help="exit 1 on statuses the spec does not declare, and on operations it does not have",
    )
    args = parser.parse_args(argv)
    if not (args.recordings or args.wfc or args.har):
        parser.error("nothing to report on: give --recordings, --wfc or --har")
    try:
        report = _report(args)
    except (InputError, SpecError) as exc:
        print(f"contract coverage: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "report.md").write_text(markdown(report), encoding="utf-8")
    failed = failures(report, undeclared=args.fail_on_undeclared)
    for line in failed if (args.fail_on_missing or args.fail_on_undeclared) else ():
        print(f"contract coverage: {line}", file=sys.stderr)
    for undeclared in report["undeclared"]:
        if not args.fail_on_undeclared:
            print(
                f"contract coverage: undeclared status: {undeclared['operation']} answered {undeclared['status']}",
                file=sys.stderr,
            )
    sys.stderr.flush()
    print(report["summary_line"], flush=True)
    gate = args.fail_on_missing or args.fail_on_undeclared
    return 1 if gate and failed else 0


def _report(args: argparse.Namespace) -> dict[str, Any]:
    if args.spec is not None:
        spec_path: Path = args.spec
        operations = _operations(spec_path)
    else:
        with as_file(files("taskapi.generated") / "openapi.yaml") as packaged:
            spec_path = Path("openapi.yaml")
            operations = _operations(packaged)
    sources = Sources(described={"recordings": [], "har": [str(path) for path in args.har], "wfc": []})
    for directory in args.recordings:
        observed, count = read_recordings(directory)
        sources.server.add(observed)
        sources.described["recordings"].append(f"{directory} ({count} files)")
    for path in args.har:
        sources.client.add(read_har(path, operations, args.base_url))
    for path in args.wfc:
        sources.wfc.add(read_wfc(path, operations))
        sources.described["wfc"].append(str(path))
    waivers = read_waivers(args.waivers) if args.waivers is not None else {}
    return build(spec_path, operations, sources, waivers)


def _operations(path: Path) -> list[Operation]:
    if not path.is_file():
        raise InputError(f"{path}: no such spec")
    return load(path).operations


if __name__ == "__main__":
    sys.exit(main())
