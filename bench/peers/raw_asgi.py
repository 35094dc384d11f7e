"""The practical limit on this box: a bare ASGI callable that answers the benchmark's routes with
prepared JSON bytes of the same shape taskapi returns — no framework, no validation, no database."""

from __future__ import annotations

import json
from typing import Any

_TASK = {
    "id": 1,
    "title": "Renew the TLS certificate",
    "description": "The current one expires on the 30th.",
    "priority": 4,
    "completed": False,
    "created_at": "2026-11-26T09:30:00.123456Z",
    "updated_at": "2026-11-26T09:30:00.123456Z",
}
_ONE = json.dumps(_TASK).encode()
_PAGE = json.dumps({"items": [_TASK] * 50, "next_cursor": "50"}).encode()


def _headers(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["method"] == "POST":
        more = True
        while more:  # read the body, as a real server must
            more = (await receive()).get("more_body", False)
        status, body = 201, _ONE
    elif scope["path"] == "/tasks":
        status, body = 200, _PAGE
    else:
        status, body = 200, _ONE
    await send({"type": "http.response.start", "status": status, "headers": _headers(body)})
    await send({"type": "http.response.body", "body": body})
