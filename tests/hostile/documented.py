"""`assert_documented`: an answer to a hostile request is one the spec documents for it, read from
openapi.yaml itself (codegen's model of it), not from a list kept here; and `with_body`, an operation's
request as the spec frames it, around any body."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

import httpx
from codegen.spec import Resolver, load

from taskapi.testing.wire import Answer, request
from tests.conftest import ROOT

SPEC = load(ROOT / "openapi.yaml")
OPERATIONS = {op.operation_id: op for op in SPEC.operations}
RESOLVER = Resolver(SPEC.document)
# What the server answers a request that reaches no operation: bytes that are not HTTP/1.1 (400), no path
# of the spec (404), a path without that method (405), a target or header section over the limits (414, 431).
TRANSPORT_STATUSES = frozenset({400, 404, 405, 414, 431})
PROBLEM = "application/problem+json"
REQUEST_ID = re.compile(RESOLVER.resolve({"$ref": "#/components/headers/RequestId"})["schema"]["pattern"])
LIMITS = SPEC.limits  # x-taskapi-limits: max_body_bytes, max_header_bytes, max_url_bytes


def _declared_response(operation: str, status: int) -> dict[str, Any]:
    op = OPERATIONS[operation]
    raw = SPEC.document["paths"][op.path][op.method.lower()]["responses"][str(status)]
    return RESOLVER.resolve(raw)


def _required_properties(schema: dict[str, Any]) -> set[str]:
    schema = RESOLVER.resolve(schema)
    required = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        required |= _required_properties(part)
    return required


def assert_documented(
    response: Answer | httpx.Response, operation: str | None, expected: int | Collection[int] | None = None
) -> dict[str, Any]:
    """The answer is a problem document with a status the spec declares for `operation` (an operationId;
    None for a request that reaches no operation: then a transport-level status), with the header fields
    the spec requires of that response (each matching its pattern) and an `X-Request-ID`. A 4xx, unless
    `expected` names the status (say 503). Returns the problem document."""
    answer = response if isinstance(response, Answer) else Answer.of(response)
    where = f"{operation or 'no operation'} answered {answer}"
    statuses = {expected} if isinstance(expected, int) else set(expected or ())
    if statuses:
        assert answer.status in statuses, f"expected {sorted(statuses)}: {where}"
    assert 400 <= answer.status < 500 or answer.status in statuses, f"not a 4xx: {where}"
    if operation is None:
        assert answer.status in TRANSPORT_STATUSES, f"not a transport-level status: {where}"
    else:
        declared = OPERATIONS[operation].error_statuses
        assert answer.status in declared, f"{answer.status} is not declared by {operation} {sorted(declared)}: {where}"
    assert answer.headers.get("content-type") == PROBLEM, where
    assert REQUEST_ID.fullmatch(answer.headers.get("x-request-id", "")), where
    assert b"Traceback" not in answer.body, where
    document: dict[str, Any] = json.loads(answer.body)
    assert document["status"] == answer.status, where
    assert document["type"] == "about:blank" and document["title"] and document["detail"], where
    if operation is not None:
        declared_response = _declared_response(operation, answer.status)
        for name, node in declared_response.get("headers", {}).items():
            header = RESOLVER.resolve(node)
            value = answer.headers.get(name.lower())
            if header.get("required"):
                assert value is not None, f"no {name} header: {where}"
            pattern = header.get("schema", {}).get("pattern")
            if value is not None and pattern:
                assert re.fullmatch(pattern, value), f"{name}: {value!r} does not match {pattern}: {where}"
        [(media_type, content)] = declared_response["content"].items()
        assert media_type == PROBLEM, where
        missing = _required_properties(content["schema"]) - set(document)
        assert not missing, f"the problem lacks {sorted(missing)}: {where}"
    elif answer.status == 405:
        assert answer.headers.get("allow"), where
    return document


def with_body(operation: str, body: bytes, auth: Mapping[str, str], task_id: int = 1) -> bytes:
    """`operation`'s request (its method, its path with `task_id`, its media type; `auth` when it is
    secured) carrying `body`, whatever that is, with its Content-Length."""
    op = OPERATIONS[operation]
    fields = {**(auth if op.secured else {}), "Content-Type": str(op.body_media_type), "Content-Length": str(len(body))}
    return request(op.method, op.path.format(task_id=task_id), fields, body, length=False)
