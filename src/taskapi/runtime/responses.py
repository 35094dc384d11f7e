"""Rendering the generated response types: bodies by the spec's property names, and paths under the
app's root path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic_core
from pydantic import BaseModel
from starlette.responses import Response


def json_response(
    body: BaseModel | Mapping[str, Any],
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    write_only: Sequence[Sequence[str]] = (),
) -> Response:
    """A generated model, or the TypedDict of its shape, as a JSON response. Both go through
    pydantic-core's serialiser, so they render the same bytes; the dict skips building a model.
    `write_only`: where the body's schema has `writeOnly` properties (paths of property names, `*` any item
    of an array), which a response never carries: they are left out whatever the handler put there."""
    content: bytes | str
    if write_only:
        data = body.model_dump(mode="json", by_alias=True) if isinstance(body, BaseModel) else dict(body)
        for path in write_only:
            data = _without(data, path)
        content = pydantic_core.to_json(data)
    else:
        content = body.model_dump_json(by_alias=True) if isinstance(body, BaseModel) else pydantic_core.to_json(body)
    return Response(content, status_code=status, headers=headers, media_type="application/json")


def _without(value: Any, path: Sequence[str]) -> Any:
    """`value` without what `path` names (copied where it changes; the handler's value is left alone)."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if head == "*" and isinstance(value, list):
        return [_without(item, rest) for item in value]
    if isinstance(value, Mapping) and head in value:
        if not rest:
            return {key: item for key, item in value.items() if key != head}
        return {**value, head: _without(value[head], rest)}
    return value


def text_response(body: str, status: int, media_type: str, headers: Mapping[str, str] | None = None) -> Response:
    """Text as it is, in UTF-8, with the media type the spec declares."""
    return Response(body, status_code=status, headers=headers, media_type=f"{media_type}; charset=utf-8")


def binary_response(body: bytes, status: int, media_type: str, headers: Mapping[str, str] | None = None) -> Response:
    """Bytes as they are (an image, a download), with the media type the spec declares."""
    return Response(body, status_code=status, headers=headers, media_type=media_type)


def empty_response(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A response without a body (204 and the like)."""
    return Response(status_code=status, headers=headers)


def under_root(root_path: str, reference: str) -> str:
    """A URI reference as the client must use it: an absolute path (`/tasks/7`) names a resource of the
    app, so it goes under the path the app is served at (`/api/tasks/7` behind `--root-path /api`);
    anything else is sent as it is."""
    if root_path and reference.startswith("/") and not reference.startswith("//"):
        return root_path.rstrip("/") + reference
    return reference
