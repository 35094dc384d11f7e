"""Schemathesis hooks of the contract run (loaded through schemathesis.toml's `hooks`).

- A generated `Idempotency-Key` that the spec admits is replaced by a fresh UUID before the request goes
  out. Hypothesis draws the same small keys again and again (`0`, `00`…) with other bodies, and the same
  key with another body is 422 by design: the run would report good requests refused. Clients are told
  to send a fresh key per request, so that is what the run sends; malformed keys go out as generated
  (400). Replays, reuse with another body and keys in flight are tested on the live server in
  tests/contract/test_idempotency.py.
- A precondition header (`If-Match`, `If-None-Match`) that the spec's pattern refuses, in a case
  Schemathesis generated as *valid*, is left out. Schemathesis 4's coverage phase builds header values
  from letters and digits only, so it cannot make an entity tag (`"3"`), and it sends `If-Match: 0` as
  valid data; the server rightly answers 400. The fuzzing and stateful phases generate real entity
  tags, and cases generated as invalid keep their header (the server must refuse them).
"""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis
from pydantic import BaseModel, ValidationError

from taskapi.generated import models

IDEMPOTENCY_KEY = "Idempotency-Key"
PRECONDITIONS = ("If-Match", "If-None-Match")


def _admitted(model: type[BaseModel], name: str, value: Any) -> bool:
    """Whether the generated model admits `value` for the header `name` (any task id: it is not judged)."""
    fields = {name: value} if model is models.CreateTaskParams else {"task_id": 1, name: value}
    try:
        model.model_validate(fields)
    except ValidationError:
        return False
    return True


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """Give each create with a well-formed key a key of its own; drop the unsendable valid preconditions."""
    headers = case.headers
    if not headers:
        return
    if IDEMPOTENCY_KEY in headers and _admitted(models.CreateTaskParams, IDEMPOTENCY_KEY, headers[IDEMPOTENCY_KEY]):
        headers[IDEMPOTENCY_KEY] = str(uuid.uuid4())
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    for name in PRECONDITIONS:
        model = models.GetTaskParams if name == "If-None-Match" else models.UpdateTaskParams
        if name in headers and not _admitted(model, name, headers[name]):
            del headers[name]
