"""Schemathesis hooks of the contract run (loaded through schemathesis.toml's `hooks`).

- A generated `Idempotency-Key` that the spec admits is replaced by a fresh UUID before the request goes
  out. Hypothesis draws the same small keys again and again (`0`, `00`…) with other bodies, and the same
  key with another body is 422 by design: the run would report good requests refused. Clients are told
  to send a fresh key per request, so that is what the run sends; malformed keys go out as generated
  (400). Replays, reuse with another body and keys in flight are tested on the live server in
  tests/contract/test_idempotency.py.
- In the coverage phase only, a header parameter whose value the spec's own pattern for it refuses, in a
  case Schemathesis generated as *valid*, is left out. Schemathesis 4's coverage phase builds header values
  from letters and digits only, so it cannot make an entity tag (`"3"`), say, and it sends `If-Match: 0`
  as valid data; the server rightly answers 400. The header parameters and their patterns are read from
  the run's spec (the one Schemathesis was given), per operation. The fuzzing and stateful phases generate
  values that match and are left alone, as are cases generated as invalid. How many headers were left
  out is printed at the end of the run.
"""

from __future__ import annotations

import atexit
import re
import sys
import uuid
from typing import Any

import schemathesis

IDEMPOTENCY_KEY = "Idempotency-Key"
_left_out: list[str] = []


def _resolved(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in str(node["$ref"])[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


_patterns: dict[tuple[int, str, str], dict[str, re.Pattern[str]]] = {}


def _header_patterns(document: dict[str, Any], method: str, path: str) -> dict[str, re.Pattern[str]]:
    """The header parameters of an operation of the run's spec that have a pattern, by lower-case name."""
    key = (id(document), method, path)
    if key not in _patterns:
        item = document["paths"].get(path, {})
        operation = item.get(method.lower(), {})
        patterns: dict[str, re.Pattern[str]] = {}
        for node in [*item.get("parameters", []), *operation.get("parameters", [])]:
            parameter = _resolved(document, node)
            pattern = _resolved(document, parameter.get("schema", {})).get("pattern")
            if parameter.get("in") == "header" and isinstance(pattern, str):
                patterns[str(parameter["name"]).lower()] = re.compile(pattern)
        _patterns[key] = patterns
    return _patterns[key]


def _report() -> None:
    if _left_out:
        print(
            f"schemathesis_hooks: left out {len(_left_out)} precondition header(s) the coverage phase generated "
            f"as valid against the spec's pattern: {sorted(set(_left_out))[:10]}",
            file=sys.stderr,
        )


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """A key of its own for each create with a well-formed key; no unsendable 'valid' header parameters."""
    headers = case.headers
    if not headers:
        return
    patterns = _header_patterns(case.operation.schema.raw_schema, case.operation.method, case.operation.path)
    key = headers.get(IDEMPOTENCY_KEY)
    pattern = patterns.get(IDEMPOTENCY_KEY.lower())
    if isinstance(key, str) and pattern is not None and pattern.search(key):
        headers[IDEMPOTENCY_KEY] = str(uuid.uuid4())
    meta = case.meta
    if meta is None or meta.phase.name != "coverage" or not meta.generation.mode.is_positive:
        return
    for name in list(headers):
        value, pattern = headers[name], patterns.get(name.lower())
        if isinstance(value, str) and pattern is not None and not pattern.search(value):
            if not _left_out:
                atexit.register(_report)
            _left_out.append(f"{name}: {value}")
            del headers[name]
