"""The contract coverage report: what a run produced (the recorder's files, Schemathesis's HAR and WFC
reports) against what the spec declares, waivers, undeclared statuses, the summary line and the gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import harfile
import pytest
import yaml
from schemathesis.reporting.har import HARFILE_NO_RESPONSE

from taskapi.generated.server import OPERATIONS
from taskapi.recorder import FORMAT, Recorder
from taskapi.testing.contract_coverage import main
from tests.conftest import ROOT

CONSTANT = ["X-Request-ID", "X-Content-Type-Options", "Cache-Control"]  # declared on every response
Answer = tuple[str | None, int, int, dict[str, int], dict[str, int]]


def small_spec(tmp_path: Path, mutate: Any = None) -> Path:
    """The real spec with two operations left: getHealth (6 statuses, 19 response headers) and getTask
    (12 statuses, 47 response headers; If-None-Match and Authorization)."""
    document = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    paths = document["paths"]
    document["paths"] = {
        "/healthz": {"get": paths["/healthz"]["get"]},
        "/tasks/{task_id}": {
            "parameters": paths["/tasks/{task_id}"]["parameters"],
            "get": paths["/tasks/{task_id}"]["get"],
        },
    }
    del document["components"]["schemas"]["TaskUpdate"]["minProperties"]  # codegen allows it on a body only
    if mutate is not None:
        mutate(document)
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def write_recording(directory: Path, answers: list[Answer], pid: int = 4242) -> None:
    """A recorder's file, by hand: (operation, status, count, request headers, response headers)."""
    directory.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "pid": pid,
        "answers": [
            {"operation": op, "status": status, "count": count, "request_headers": sent, "response_headers": carried}
            for op, status, count, sent, carried in answers
        ],
    }
    (directory / f"{pid}-0123456789ab.json").write_text(json.dumps(document), encoding="utf-8")


A_RUN: list[Answer] = [
    ("getHealth", 200, 3, {}, dict.fromkeys(CONSTANT, 3)),
    ("getTask", 200, 2, {"Authorization": 2}, {**dict.fromkeys(CONSTANT, 2), "ETag": 2, "RateLimit-Policy": 2}),
    ("getTask", 304, 1, {"Authorization": 1, "If-None-Match": 1}, {**dict.fromkeys(CONSTANT, 1), "ETag": 1}),
    ("getTask", 418, 1, {}, {}),  # not declared
    (None, 404, 4, {}, {}),
]


def run(tmp_path: Path, *args: str | Path) -> tuple[int, dict[str, Any], str]:
    """The report's exit status, report.json, and report.md."""
    out = tmp_path / "report"
    status = main([*map(str, args), "--out", str(out)])
    if status == 2:
        return status, {}, ""
    return status, json.loads((out / "report.json").read_text()), (out / "report.md").read_text()


def test_declared_against_recorded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_recording(tmp_path / "rec", A_RUN)
    status, report, md = run(tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec")
    assert status == 0
    out = capsys.readouterr()
    summary = (
        "contract coverage: operations 2/2, responses 3/18, request headers 2/2, response headers 12/66, "
        "undeclared statuses 1"
    )
    assert out.out.splitlines() == [summary]  # one line, the last
    assert report["summary_line"] == summary
    [health, task] = report["operations"]
    assert health["operation"] == "getHealth" and health["answered"] == 3
    ok = task["responses"][0]
    assert (ok["status"], ok["produced"], ok["count"]) == (200, True, 2)
    assert {h["name"]: h["count"] for h in ok["headers"]} == {
        **dict.fromkeys(CONSTANT, 2),
        "RateLimit-Policy": 2,
        "RateLimit": 0,
        "ETag": 2,
    }
    assert task["request_headers"] == [{"name": "If-None-Match", "count": 1}, {"name": "Authorization", "count": 3}]
    assert {"operation": "getHealth", "status": 500} in report["missing"]
    assert len(report["missing"]) == 18 - 3
    assert report["unmatched"] == [{"status": 404, "count": 4}]
    assert "| `getHealth` GET /healthz | 500 | **missing** |" in md


def test_undeclared_statuses_are_listed_prominently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_recording(tmp_path / "rec", A_RUN)
    status, report, md = run(tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec")
    assert status == 0  # a listing, not a gate, unless asked
    assert report["undeclared"] == [{"operation": "getTask", "status": 418, "count": 1}]
    assert md.index("## Undeclared statuses (contract violations)") < md.index("## Responses")
    assert "| `getTask` | 418 | 1 |" in md
    assert "undeclared status: getTask answered 418" in capsys.readouterr().err
    gated, _, _ = run(
        tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec", "--fail-on-undeclared"
    )
    assert gated == 1


def test_an_operation_the_spec_does_not_have_fails_the_undeclared_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_recording(tmp_path / "rec", [("archiveTask", 204, 2, {}, {})])
    status, report, md = run(tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec")
    assert status == 0
    assert report["unknown_operations"] == [{"operation": "archiveTask", "status": 204, "count": 2}]
    assert "## Operations the spec does not have" in md
    gated, _, _ = run(
        tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec", "--fail-on-undeclared"
    )
    assert gated == 1
    assert "undeclared operation: archiveTask answered 204" in capsys.readouterr().err


def everything_declared() -> list[Answer]:
    """A run that produced every declared response of the real spec, with every declared header."""
    return [
        (op.operation_id, status, 1, dict.fromkeys(op.request_headers, 1), dict.fromkeys(headers, 1))
        for op in OPERATIONS
        for status, headers in op.responses.items()
    ]


def all_of(extra_responses: int = 0) -> str:
    """The summary of a run that produced everything the real spec declares (counted from it, not pinned:
    the designer's guide adds an operation and a run must still add up)."""
    operations = len(OPERATIONS)
    responses = sum(len(op.responses) for op in OPERATIONS)
    requests = sum(len(op.request_headers) for op in OPERATIONS)
    headers = sum(len(names) for op in OPERATIONS for names in op.responses.values())
    declared = responses + extra_responses
    return (
        f"contract coverage: operations {operations}/{operations}, responses {responses}/{declared}, "
        f"request headers {requests}/{requests}, response headers {headers}/{headers}"
    )


def test_a_status_added_to_the_spec_is_named_as_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_recording(tmp_path / "rec", everything_declared())
    status, report, _ = run(
        tmp_path, "--spec", ROOT / "openapi.yaml", "--recordings", tmp_path / "rec", "--fail-on-missing"
    )
    assert status == 0, capsys.readouterr().err
    assert report["missing"] == []
    assert capsys.readouterr().out == all_of() + "\n"

    copy = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    copy["paths"]["/healthz"]["get"]["responses"]["418"] = {"$ref": "#/components/responses/InternalError"}
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.safe_dump(copy, sort_keys=False), encoding="utf-8")
    status, report, md = run(tmp_path, "--spec", spec, "--recordings", tmp_path / "rec", "--fail-on-missing")
    assert status == 1
    assert report["missing"] == [{"operation": "getHealth", "status": 418}]
    err = capsys.readouterr()
    assert err.err.splitlines() == [
        "contract coverage: never produced: getHealth 418 (produce it in a test, or waive it)"
    ]
    assert err.out.startswith(all_of(extra_responses=1).split(", request headers")[0] + ",")
    assert "| `getHealth` | 418 |" in md


def test_waivers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_recording(tmp_path / "rec", [answer for answer in A_RUN if answer[1] != 418])
    spec = small_spec(tmp_path)
    waived = {
        "getHealth": dict.fromkeys((413, 414, 431, 500, 503), "cannot be produced"),
        "getTask": dict.fromkeys((400, 404, 422, 401, 413, 414, 431, 429, 500, 503), "cannot be produced"),
    }
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(yaml.safe_dump(waived))
    status, report, md = run(
        tmp_path, "--spec", spec, "--recordings", tmp_path / "rec", "--waivers", waivers, "--fail-on-missing"
    )
    assert status == 0, capsys.readouterr().err
    assert report["missing"] == []
    assert report["summary"]["responses"] == {"produced": 3, "declared": 3, "waived": 15}
    assert report["summary_line"].endswith("responses 3/3 (+15 waived), request headers 2/2, response headers 12/15")
    assert "| `getHealth` GET /healthz | 500 | waived: cannot be produced |" in md

    # Stale: the run produced a waived response. Unknown: a waiver of what the spec does not declare.
    waived["getHealth"][200] = "waived, yet produced"
    waived["getHealth"][418] = "not declared"
    waived["listThings"] = {200: "no such operation"}
    waivers.write_text(yaml.safe_dump(waived))
    capsys.readouterr()
    status, report, md = run(
        tmp_path, "--spec", spec, "--recordings", tmp_path / "rec", "--waivers", waivers, "--fail-on-missing"
    )
    assert status == 1
    assert report["waivers"]["stale"] == [{"operation": "getHealth", "status": 200, "reason": "waived, yet produced"}]
    assert [(w["operation"], w["status"]) for w in report["waivers"]["unknown"]] == [
        ("getHealth", 418),
        ("listThings", 200),
    ]
    assert capsys.readouterr().err.splitlines() == [
        "contract coverage: waiver of an undeclared response: getHealth 418",
        "contract coverage: waiver of an undeclared response: listThings 200",
        "contract coverage: stale waiver: getHealth 200 was produced",
    ]
    assert "## Stale waivers (the run produced these)" in md
    # Without the gate, the same run only reports.
    status, _, _ = run(tmp_path, "--spec", spec, "--recordings", tmp_path / "rec", "--waivers", waivers)
    assert status == 0


@pytest.mark.parametrize(
    "text",
    [
        "getHealth:\n  500: |\n    two\n    lines\n",
        "getHealth:\n  five hundred: a reason\n",
        "getHealth:\n  500: ''\n",
        "getHealth: [500]\n",
        "- getHealth\n",
        "getHealth: {500: 'unclosed\n",
    ],
)
def test_a_malformed_waiver_file_is_a_usage_error(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_recording(tmp_path / "rec", A_RUN)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(text)
    assert run(tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec", "--waivers", waivers)[0] == 2
    assert str(waivers) in capsys.readouterr().err


def test_unreadable_inputs_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = small_spec(tmp_path)
    assert run(tmp_path, "--spec", spec, "--recordings", tmp_path / "nowhere")[0] == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "1-x.json").write_text('{"format": "something else"}')
    assert run(tmp_path, "--spec", spec, "--recordings", tmp_path / "bad")[0] == 2
    (tmp_path / "bad" / "1-x.json").write_text("{not json")
    assert run(tmp_path, "--spec", spec, "--recordings", tmp_path / "bad")[0] == 2
    (tmp_path / "har.json").write_text('{"entries": []}')
    assert run(tmp_path, "--spec", spec, "--har", tmp_path / "har.json")[0] == 2
    assert run(tmp_path, "--spec", tmp_path / "missing.yaml", "--wfc", tmp_path / "har.json")[0] == 2
    with pytest.raises(SystemExit) as nothing:
        main(["--spec", str(spec)])
    assert nothing.value.code == 2
    assert "nothing to report on" in capsys.readouterr().err


def test_what_the_recorder_writes_is_what_the_report_reads(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "rec")
    recorder.record("getTask", 304, [(b"if-none-match", b'"1"'), (b"x-other", b"1")], [(b"etag", b'"1"')])
    recorder.record(recorder.operation("GET", "/nowhere"), 404, [], [])
    recorder.save()
    _, report, _ = run(tmp_path, "--spec", small_spec(tmp_path), "--recordings", tmp_path / "rec")
    not_modified = report["operations"][1]["responses"][1]
    assert (not_modified["status"], not_modified["count"]) == (304, 1)
    assert {h["name"]: h["count"] for h in not_modified["headers"]}["ETag"] == 1
    assert report["operations"][1]["request_headers"][0] == {"name": "If-None-Match", "count": 1}
    assert report["unmatched"] == [{"status": 404, "count": 1}]


def har_entry(method: str, url: str, status: int, request: dict[str, str], response: dict[str, str]) -> dict[str, Any]:
    """One entry as Schemathesis's HarWriter hands it to harfile (reporting/har.py)."""
    answer = (
        HARFILE_NO_RESPONSE
        if status == 0
        else harfile.Response(
            status=status,
            httpVersion="HTTP/1.1",
            statusText="",
            headers=[harfile.Record(name=name, value=value) for name, value in response.items()],
            cookies=[],
            content=harfile.Content(size=2, mimeType="application/json", text="{}"),
            headersSize=10,
            bodySize=2,
            redirectURL="",
        )
    )
    return {
        "startedDateTime": "2026-12-07T10:00:00.000000+00:00",
        "time": 1.5,
        "request": harfile.Request(
            method=method,
            url=url,
            httpVersion="HTTP/1.1",
            headers=[harfile.Record(name=name, value=value) for name, value in request.items()],
            queryString=[],
            cookies=[],
            headersSize=10,
            bodySize=0,
        ),
        "response": answer,
        "timings": harfile.Timings(send=0, wait=0, receive=1.5, blocked=0, dns=0, connect=0, ssl=0),
    }


def write_har(path: Path, entries: list[dict[str, Any]]) -> None:
    with harfile.open(path) as har:
        for entry in entries:
            har.add_entry(**entry)


def write_wfc(path: Path, covered: dict[str, list[int | None]]) -> None:
    """A WFC report, as schemathesis/cli/wfc_report.py writes it."""
    document = {
        "schemaVersion": "0.8.0",
        "toolName": "Schemathesis",
        "toolVersion": "4.32.5",
        "creationTime": "2026-12-07T10:00:00+00:00",
        "faults": {"totalNumber": 0, "foundFaults": []},
        "problemDetails": {
            "rest": {
                "outputHttpCalls": 0,
                "evaluatedHttpCalls": 9,
                "endpointIds": sorted(covered),
                "coveredHttpStatus": [
                    {"endpointId": endpoint, "testCaseId": endpoint, "httpStatus": statuses}
                    for endpoint, statuses in sorted(covered.items())
                ],
            }
        },
        "totalTests": 9,
        "testFilePaths": ["wfc.sh"],
        "testCases": [],
        "executionTimeInSeconds": 1,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


def test_a_har_report_is_matched_by_method_and_path_below_the_base_url(tmp_path: Path) -> None:
    base = "https://staging.example/api"
    auth = {"Authorization": "[Filtered]"}  # Schemathesis sanitises the value, not the name
    write_har(
        tmp_path / "har.json",
        [
            har_entry("GET", f"{base}/tasks/7", 200, auth, {"etag": '"1"', "x-request-id": "a", "ratelimit": "x"}),
            har_entry("GET", f"{base}/tasks/7?x=1", 304, {**auth, "if-none-match": '"1"'}, {"ETag": '"1"'}),
            har_entry("HEAD", f"{base}/tasks/%37", 200, auth, {}),  # HEAD is GET's; the path is decoded
            har_entry("GET", f"{base}/tasks/7", 0, auth, {}),  # no response
            har_entry("TRACE", f"{base}/tasks/7", 405, {}, {}),  # no operation: a method the path lacks
            har_entry("GET", f"{base}/healthz/more", 404, {}, {}),
        ],
    )
    _, report, _ = run(tmp_path, "--spec", small_spec(tmp_path), "--har", tmp_path / "har.json", "--base-url", base)
    task = report["operations"][1]
    produced = {
        r["status"]: (r["count"], {h["name"]: h["count"] for h in r["headers"]})
        for r in task["responses"]
        if r["produced"]
    }
    assert set(produced) == {200, 304}
    assert produced[200][0] == 2
    assert produced[200][1]["ETag"] == produced[200][1]["X-Request-ID"] == produced[200][1]["RateLimit"] == 1
    assert produced[304][1]["ETag"] == 1
    assert task["request_headers"] == [{"name": "If-None-Match", "count": 1}, {"name": "Authorization", "count": 3}]
    assert report["unmatched"] == [{"status": 404, "count": 1}, {"status": 405, "count": 1}]


def test_a_wfc_report_says_which_statuses_each_endpoint_answered(tmp_path: Path) -> None:
    write_wfc(
        tmp_path / "wfc.json", {"GET:/tasks/{task_id}": [200, 404, None], "GET:/healthz": [200], "GET:/gone": [200]}
    )
    _, report, md = run(tmp_path, "--spec", small_spec(tmp_path), "--wfc", tmp_path / "wfc.json")
    task = report["operations"][1]
    assert [(r["status"], r["count"]) for r in task["responses"] if r["produced"]] == [(200, 0), (404, 0)]
    assert "responses 3/18" in report["summary_line"]
    assert "| `getTask` GET /tasks/{task_id} | 404 | seen |" in md  # the WFC report has no counts
    assert report["unmatched"] == [{"status": 200, "count": 0}]


def test_the_server_and_the_client_of_one_run_are_not_added_up(tmp_path: Path) -> None:
    """A local contract run: the server recorded what Schemathesis's HAR also holds, and its WFC report says so too."""
    write_recording(
        tmp_path / "rec", [("getHealth", 200, 3, {}, dict.fromkeys(CONSTANT, 3)), ("getHealth", 503, 1, {}, {})]
    )
    write_har(
        tmp_path / "har.json", [har_entry("GET", "http://127.0.0.1:1/healthz", 200, {}, {"X-Request-ID": "a"})] * 2
    )
    write_wfc(tmp_path / "wfc.json", {"GET:/healthz": [200, 413]})
    _, report, _ = run(
        tmp_path,
        "--spec",
        small_spec(tmp_path),
        "--recordings",
        tmp_path / "rec",
        "--har",
        tmp_path / "har.json",
        "--wfc",
        tmp_path / "wfc.json",
    )
    health = {r["status"]: r for r in report["operations"][0]["responses"]}
    assert health[200]["count"] == 3  # the larger side, not 3 + 2
    assert {h["name"]: h["count"] for h in health[200]["headers"]}["X-Request-ID"] == 3
    assert health[413]["produced"] and health[413]["count"] == 0  # the WFC report alone saw it
    assert health[503]["count"] == 1  # the server's own refusal: the client's reports never saw one
    assert report["sources"] == {
        "recordings": [f"{tmp_path / 'rec'} (1 files)"],
        "har": [str(tmp_path / "har.json")],
        "wfc": [str(tmp_path / "wfc.json")],
    }
