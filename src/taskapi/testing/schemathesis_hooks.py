"""Schemathesis hooks of the contract run (loaded through schemathesis.toml's `hooks`).

- A generated `Idempotency-Key` that the spec admits is replaced by a fresh UUID before the request goes
  out. Hypothesis draws the same small keys again and again (`0`, `00`…) with other bodies, and the same
  key with another body is 422 by design: the run would report good requests refused. Clients are told
  to send a fresh key per request, so that is what the run sends; malformed keys go out as generated
  (400). Replays, reuse with another body and keys in flight are tested on the live server in
  tests/contract/test_idempotency.py.
- In the coverage phase only, a precondition header (`If-Match`, `If-None-Match`) that the spec's own
  pattern refuses, in a case Schemathesis generated as *valid*, is left out. Schemathesis 4's coverage
  phase builds header values from letters and digits only, so it cannot make an entity tag (`"3"`),
  and it sends `If-Match: 0` as valid data; the server rightly answers 400. The fuzzing and stateful
  phases generate real entity tags and are left alone, as are cases generated as invalid. How many
  headers were left out is printed at the end of the run.
"""

from __future__ import annotations

import atexit
import re
import sys
import uuid
from functools import cache
from importlib.resources import files
from typing import Any

import schemathesis
import yaml

IDEMPOTENCY_KEY = "Idempotency-Key"
PRECONDITIONS = {"If-Match": "IfMatch", "If-None-Match": "IfNoneMatch"}
_left_out: list[str] = []


@cache
def _pattern(component: str) -> re.Pattern[str]:
    """The pattern of a header parameter of the spec (the copy shipped in the package, byte for byte
    openapi.yaml)."""
    spec = yaml.safe_load((files("taskapi.generated") / "openapi.yaml").read_text(encoding="utf-8"))
    return re.compile(spec["components"]["parameters"][component]["schema"]["pattern"])


def _report() -> None:
    if _left_out:
        print(
            f"schemathesis_hooks: left out {len(_left_out)} precondition header(s) the coverage phase generated "
            f"as valid against the spec's pattern: {sorted(set(_left_out))[:10]}",
            file=sys.stderr,
        )


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """A key of its own for each create with a well-formed key; no unsendable 'valid' preconditions."""
    headers = case.headers
    if not headers:
        return
    key = headers.get(IDEMPOTENCY_KEY)
    if isinstance(key, str) and _pattern("IdempotencyKey").fullmatch(key):
        headers[IDEMPOTENCY_KEY] = str(uuid.uuid4())
    meta = case.meta
    if meta is None or meta.phase.name != "coverage" or not meta.generation.mode.is_positive:
        return
    for name, component in PRECONDITIONS.items():
        value = headers.get(name)
        if isinstance(value, str) and not _pattern(component).fullmatch(value):
            if not _left_out:
                atexit.register(_report)
            _left_out.append(f"{name}: {value}")
            del headers[name]
