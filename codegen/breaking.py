"""`python -m codegen.breaking [--spec FILE] [--base REF | --base-file FILE]`: compare openapi.yaml with an
earlier revision of it and fail on changes that break existing clients (`make breaking`).

A change is judged by the way data flows through it. A schema reached from a request (a body, a
parameter) is contravariant: narrowing what it accepts breaks clients that send what it used to accept.
A schema reached from a response is covariant: widening what it may contain breaks clients that read it.
So `maximum: 5 -> 4` breaks requests and is compatible in responses, and a schema used both ways is judged
at each place of use. Both revisions go through codegen's own model (`codegen.spec`), so the gate reads
the spec exactly as the generators do. README.md ("Breaking changes") has the rules as a table.

Exit status: 0 no breaking change (or all of them allowed by a bump of info.version's major number),
1 breaking changes, 2 a usage error or a revision that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from codegen.spec import (
    LIMITS_EXTENSION,
    NOT_MODIFIED,
    Operation,
    Parameter,
    Resolver,
    Spec,
    SpecError,
    escape,
    flattened,
    load_document,
    parse_yaml,
)

REQUEST, RESPONSE = "request", "response"
# A schema change's verdict as (breaks requests, breaks responses).
Verdict = tuple[bool, bool]
NARROWS: Verdict = (True, False)  # accepts fewer values: what a client sends may now be refused
WIDENS: Verdict = (False, True)  # accepts more values: what a client reads may now surprise it
BOTH: Verdict = (True, True)
NEITHER: Verdict = (False, False)
_Say = Callable[..., None]  # say(message, verdict, *keys below the schema)
_Stack = frozenset[tuple[str | None, str | None]]

# Keywords that only document: editing them changes nothing a client sends or reads.
_DOCS = frozenset({"$ref", "$comment", "description", "title", "example", "examples", "externalDocs"})
# Bounds, and whether raising one accepts more values.
_BOUNDS = {
    **dict.fromkeys(("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"), True),
    **dict.fromkeys(("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"), False),
}
# Constraints that narrow by being there; two values of one cannot be ordered, so a change counts both ways.
_CONSTRAINTS = ("pattern", "format", "multipleOf")
_COMPARED = _DOCS | set(_BOUNDS) | set(_CONSTRAINTS) | {"type", "enum", "const", "default", "readOnly", "writeOnly"}
_COMPARED |= {"deprecated", "properties", "required", "additionalProperties", "items", "allOf"}


@dataclass(frozen=True)
class Change:
    """One change: where it is (a JSON pointer into the changed spec, or the base's for what was removed)."""

    pointer: str
    message: str
    breaking: bool


@dataclass(frozen=True)
class _Place:
    """Where a schema is compared: its pointer at the place of use, where the changed spec defines it
    (inside a component once a `$ref` was followed), and which way data flows through it."""

    pointer: str
    at: str
    direction: str

    def __truediv__(self, key: str) -> _Place:
        part = "/" + escape(key)
        return _Place(self.pointer + part, self.at + part, self.direction)


def compare(base: Spec, head: Spec) -> Report:
    """Every change from `base` to `head`: removed and added paths first, then operation by operation."""
    diff = _Diff(base, head)
    diff.run()
    return Report(tuple(dict.fromkeys(diff.changes)), _version(base), _version(head))


@dataclass(frozen=True)
class Report:
    """The changes, and info.version on either side: a major bump lets breaking changes pass."""

    changes: tuple[Change, ...]
    base_version: str
    head_version: str

    @property
    def breaking(self) -> list[Change]:
        return [change for change in self.changes if change.breaking]

    @property
    def compatible(self) -> list[Change]:
        return [change for change in self.changes if not change.breaking]

    @property
    def major_bump(self) -> bool:
        """Whether info.version's major number went up: the release announces breaking changes."""
        base, head = _major(self.base_version), _major(self.head_version)
        return base is not None and head is not None and head > base

    @property
    def exit_status(self) -> int:
        return 1 if self.breaking and not self.major_bump else 0

    def render(self, base_name: str, head_name: str) -> str:
        lines = [
            f"comparing {head_name} (version {self.head_version})",
            f"     with {base_name} (version {self.base_version})",
        ]
        for title, changes in (("breaking", self.breaking), ("compatible", self.compatible)):
            if changes:
                lines += ["", f"{title} ({len(changes)}):"]
                lines += [f"  {change.pointer}\n      {change.message}" for change in changes]
        count = f"{len(self.breaking)} breaking change{'s' * (len(self.breaking) != 1)}"
        if not self.changes:
            lines += ["", "no changes"]
        if not self.breaking:
            lines += ["", "OK: no breaking changes"]
        elif self.major_bump:
            lines += ["", f"OK: {count}, allowed by the major version bump {self.base_version} -> {self.head_version}"]
        else:
            major = (_major(self.base_version) or 0) + 1
            lines += ["", f"FAIL: {count}; keep the contract compatible, or bump info.version to {major}.0.0"]
        return "\n".join(lines)


def _version(spec: Spec) -> str:
    return str(spec.document.get("info", {}).get("version", "?"))


def _major(version: str) -> int | None:
    match = re.match(r"v?(\d+)", version)
    return int(match.group(1)) if match else None


# Request headers that make a GET conditional (RFC 9110, section 13.1): the only way to a 304.
_CONDITIONAL_GET_HEADERS = frozenset({"if-none-match", "if-modified-since"})


def _header_names(operation: Operation) -> set[str]:
    """The operation's header parameters, by lower-case name."""
    return {parameter.name.lower() for parameter in operation.parameters if parameter.location == "header"}


def _deref(resolver: Resolver, node: Any) -> tuple[dict[str, Any], str | None]:
    """An object with its `$ref` followed, and that reference. 3.1 lets keywords such as `default` sit
    beside a `$ref`; they apply on top of the target. `true`/`false` schemas become the objects they equal."""
    if isinstance(node, bool):
        return ({} if node else {"enum": []}), None
    if not isinstance(node, dict) or "$ref" not in node:
        return (node if isinstance(node, dict) else {}), None
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return {**resolver.resolve(node), **siblings}, str(node["$ref"])


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)  # default: YAML reads 2026-01-01 as a date


def _edit(key: str, old: dict[str, Any], new: dict[str, Any]) -> str:
    if key not in old:
        return f"{key} {_show(new[key])} added"
    if key not in new:
        return f"{key} {_show(old[key])} removed"
    return f"{key} changed from {_show(old[key])} to {_show(new[key])}"


def _types(schema: dict[str, Any]) -> frozenset[str] | None:
    """The JSON types a schema allows (None: any); a number may be an integer."""
    declared = schema.get("type")
    if declared is None:
        return None
    types = {declared} if isinstance(declared, str) else set(declared)
    return frozenset(types | {"integer"} if "number" in types else types)


def _values(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The values `enum`/`const` allow, keyed by their JSON text (None: not restricted)."""
    if "const" in schema:
        return {_show(schema["const"]): schema["const"]}
    if "enum" in schema:
        return {_show(value): value for value in schema["enum"]}
    return None


class _Diff:
    def __init__(self, base: Spec, head: Spec) -> None:
        self.base, self.head = base, head
        self.old, self.new = Resolver(base.document), Resolver(head.document)
        self.changes: list[Change] = []

    def emit(self, pointer: str, message: str, breaking: bool) -> None:
        self.changes.append(Change(pointer, message, breaking))

    def run(self) -> None:
        old_paths, new_paths = self.base.document.get("paths", {}), self.head.document.get("paths", {})
        old_ops = {(op.path, op.method): op for op in self.base.operations}
        new_ops = {(op.path, op.method): op for op in self.head.operations}
        for path in (path for path in old_paths if path not in new_paths):
            ids = ", ".join(op.operation_id for op in self.base.operations if op.path == path)
            self.emit(f"/paths/{escape(path)}", f"path removed: {path} ({ids})", True)
        for path in (path for path in new_paths if path not in old_paths):
            ids = ", ".join(op.operation_id for op in self.head.operations if op.path == path)
            self.emit(f"/paths/{escape(path)}", f"path added: {path} ({ids})", False)
        for key, op in old_ops.items():
            if key not in new_ops and op.path in new_paths:
                self.emit(_pointer(op), f"operation removed: {op.method} {op.path} ({op.operation_id})", True)
        for key, op in new_ops.items():
            if key in old_ops:
                self.operation(old_ops[key], op)
            elif op.path in old_paths:
                self.emit(_pointer(op), f"operation added: {op.method} {op.path} ({op.operation_id})", False)
        self.security_schemes()
        self.servers()
        self.limits()

    def servers(self) -> None:
        """A server URL clients were given that is gone: every request to it now fails. No `servers`, or an
        empty list, is the one server `/` (OpenAPI 3.1, "servers")."""
        old = [str(server.get("url")) for server in self.base.document.get("servers") or [{"url": "/"}]]
        new = [str(server.get("url")) for server in self.head.document.get("servers") or [{"url": "/"}]]
        for url in (url for url in old if url not in new):
            self.emit("/servers", f"server {url} removed: clients configured with it reach nothing", True)
        for url in (url for url in new if url not in old):
            self.emit("/servers", f"server {url} added", False)

    def limits(self) -> None:
        """`x-taskapi-limits`: a lower limit refuses requests (413, 414, 431) that were accepted."""
        for name in dict.fromkeys([*self.base.limits, *self.head.limits]):
            before, after = self.base.limits.get(name), self.head.limits.get(name)
            if before == after:
                continue
            pointer = f"/{LIMITS_EXTENSION}/{name.replace('_', '-')}"
            lowered = after is not None and (before is None or after < before)
            self.emit(pointer, f"limit {name.replace('_', '-')} changed from {before} to {after}", lowered)

    def operation(self, old: Operation, new: Operation) -> None:
        pointer = _pointer(new)
        raw_old, raw_new = _raw(self.base, old), _raw(self.head, new)
        if old.operation_id != new.operation_id:
            message = f"operationId changed from {old.operation_id} to {new.operation_id} (SDK method names)"
            self.emit(pointer + "/operationId", message, True)
        if old.tag != new.tag:
            self.emit(pointer + "/tags", f"tag changed from {old.tag} to {new.tag} (SDKs group by tag)", True)
        if bool(raw_old.get("deprecated")) != bool(raw_new.get("deprecated")):
            state = "deprecated" if raw_new.get("deprecated") else "no longer deprecated"
            self.emit(pointer + "/deprecated", f"operation {state}", False)
        self.security(old, new, pointer + "/security")
        self.parameters(old, new)
        self.request_body(raw_old.get("requestBody"), raw_new.get("requestBody"), pointer + "/requestBody")
        self.responses(old, new, raw_old.get("responses", {}), raw_new.get("responses", {}), pointer)

    def security(self, old: Operation, new: Operation, pointer: str) -> None:
        if old.security == new.security:
            return
        if not old.security:
            self.emit(pointer, f"security added: the public operation now needs {' or '.join(new.security)}", True)
        elif not new.security:
            self.emit(pointer, "security removed: the operation is now public", False)
        for scheme in (scheme for scheme in old.security if new.security and scheme not in new.security):
            self.emit(pointer, f"security scheme {scheme} no longer accepted", True)
        for scheme in (scheme for scheme in new.security if old.security and scheme not in old.security):
            self.emit(pointer, f"security scheme {scheme} now also accepted", False)

    def security_schemes(self) -> None:
        old = self.base.document.get("components", {}).get("securitySchemes", {})
        new = self.head.document.get("components", {}).get("securitySchemes", {})
        for name in dict.fromkeys([*new, *old]):
            pointer = f"/components/securitySchemes/{escape(name)}"
            if name not in new:
                self.emit(pointer, f"security scheme {name} removed", True)
            elif name not in old:
                self.emit(pointer, f"security scheme {name} added", False)
            elif _undocumented(old[name]) != _undocumented(new[name]):
                self.emit(pointer, f"security scheme {name} changed: tokens or credentials may no longer work", True)

    def parameters(self, old: Operation, new: Operation) -> None:
        old_places, new_places = _parameter_places(self.base, old), _parameter_places(self.head, new)
        new_params = {_parameter_key(param): param for param in new.parameters}
        for param in old.parameters:
            if _parameter_key(param) not in new_params:
                # The runtime parses only declared parameters and ignores the rest: the request still
                # succeeds, but the value the client sends (a filter, a page size) is silently dropped.
                message = f"{param.location} parameter {param.name} removed: clients sending it are now ignored"
                self.emit(old_places[param.name][0], message, True)
        old_params = {_parameter_key(param): param for param in old.parameters}
        for param in new.parameters:
            pointer, raw, at = new_places[param.name]
            before = old_params.get(_parameter_key(param))
            if before is None:
                kind = "required" if param.required else "optional"
                self.emit(pointer, f"{kind} {param.location} parameter {param.name} added", param.required)
                continue
            if before.location != param.location:
                message = f"parameter {param.name} moved from {before.location} to {param.location}"
                self.emit(pointer + "/in", message, True)
                continue
            if before.required != param.required:
                state = "now required" if param.required else "now optional"
                self.emit(pointer + "/required", f"parameter {param.name} {state}", param.required)
            if bool(old_places[before.name][1].get("deprecated")) != bool(raw.get("deprecated")):
                state = "deprecated" if raw.get("deprecated") else "no longer deprecated"
                self.emit(pointer + "/deprecated", f"parameter {param.name} {state}", False)
            self.schema(before.schema, param.schema, _Place(pointer + "/schema", at + "/schema", REQUEST))

    def request_body(self, old_node: Any, new_node: Any, pointer: str) -> None:
        if old_node is None and new_node is None:
            return
        old, _ = _deref(self.old, old_node)
        new, ref = _deref(self.new, new_node)
        if old_node is None:
            required = bool(new.get("required"))
            self.emit(pointer, f"request body added ({'required' if required else 'optional'})", required)
        elif new_node is None:
            self.emit(pointer, "request body removed: what clients send is now ignored", True)
        else:
            if bool(old.get("required")) != bool(new.get("required")):
                state = "now required" if new.get("required") else "now optional"
                self.emit(pointer + "/required", f"request body {state}", bool(new.get("required")))
            at = ref.removeprefix("#") if ref else pointer
            self.content(old.get("content", {}), new.get("content", {}), _Place(pointer, at, REQUEST) / "content")

    def responses(
        self, old: Operation, new: Operation, old_raw: dict[Any, Any], new_raw: dict[Any, Any], pointer: str
    ) -> None:
        old_nodes = {int(status): node for status, node in old_raw.items()}
        new_nodes = {int(status): node for status, node in new_raw.items()}
        old_success = {response.status for response in old.responses}
        new_success = {response.status for response in new.responses}
        for status in sorted(old_nodes.keys() - new_nodes.keys()):
            # Clients rely on a success status; a documented error that no longer happens costs them nothing.
            kind = "success" if status in old_success else "error"
            self.emit(f"{pointer}/responses/{status}", f"{kind} response {status} removed", status in old_success)
        new_conditions = _CONDITIONAL_GET_HEADERS & (_header_names(new) - _header_names(old))
        for status in sorted(new_nodes.keys() - old_nodes.keys()):
            if status == NOT_MODIFIED and new_conditions:
                # 304 answers only a request that sends the precondition, which the base did not have:
                # no client written against the base sends it, so none ever sees this status.
                self.emit(
                    f"{pointer}/responses/{status}",
                    f"new response {status}, only to requests with the new {', '.join(sorted(new_conditions))}",
                    False,
                )
            elif status in new_success:
                # A client written against the documented successes may treat another one as a failure,
                # or cannot parse its body: a new success status widens the response.
                self.emit(f"{pointer}/responses/{status}", f"new success response {status}", True)
            else:
                self.emit(f"{pointer}/responses/{status}", f"error response {status} now documented", False)
        for status in sorted(old_nodes.keys() & new_nodes.keys()):
            where = f"{pointer}/responses/{status}"
            old_response, _ = _deref(self.old, old_nodes[status])
            new_response, ref = _deref(self.new, new_nodes[status])
            place = _Place(where, ref.removeprefix("#") if ref else where, RESPONSE)
            self.headers(old_response.get("headers", {}), new_response.get("headers", {}), place / "headers")
            self.content(old_response.get("content", {}), new_response.get("content", {}), place / "content")

    def headers(self, old: dict[str, Any], new: dict[str, Any], place: _Place) -> None:
        old_by, new_by = {name.lower(): name for name in old}, {name.lower(): name for name in new}
        for key in (key for key in old_by if key not in new_by):
            required = bool(_deref(self.old, old[old_by[key]])[0].get("required"))
            message = f"response header {old_by[key]} removed" + (" (it was required)" if required else "")
            self.emit((place / old_by[key]).pointer, message, required)
        for key, name in new_by.items():
            header, ref = _deref(self.new, new[name])
            here = place / name
            if ref:
                here = replace(here, at=ref.removeprefix("#"))
            if key not in old_by:
                self.emit(here.pointer, f"response header {name} added", False)
                continue
            before, _ = _deref(self.old, old[old_by[key]])
            if bool(before.get("required")) and not header.get("required"):
                self.emit(here.pointer + "/required", f"response header {name} no longer always sent", True)
            elif header.get("required") and not before.get("required"):
                self.emit(here.pointer + "/required", f"response header {name} now always sent", False)
            self.schema(before.get("schema", {}), header.get("schema", {}), here / "schema")

    def content(self, old: dict[str, Any], new: dict[str, Any], place: _Place) -> None:
        """Media types: a client sends, or expects, one the other side no longer has."""
        removed = [media for media in old if media not in new]
        added = [media for media in new if media not in old]
        side = place.direction
        if len(removed) == len(added) == 1:
            message = f"{side} media type changed from {removed[0]} to {added[0]}"
            self.emit((place / added[0]).pointer, message, True)
        else:
            for media in removed:
                self.emit((place / media).pointer, f"{side} media type {media} removed", True)
            for media in added:
                self.emit((place / media).pointer, f"{side} media type {media} added", False)
        for media in (media for media in new if media in old):
            self.schema(old[media].get("schema", {}), new[media].get("schema", {}), place / media / "schema")

    def schema(self, old_node: Any, new_node: Any, place: _Place, stack: _Stack = frozenset()) -> None:
        """Compare two schemas at one place of use, following `$ref`s; a pair of references already being
        compared further up (a recursive schema) is not entered again."""
        old, old_ref = _deref(self.old, old_node)
        new, new_ref = _deref(self.new, new_node)
        # An object's properties as a value has them, wherever they are declared (own or allOf members).
        old, new = flattened(old, self.old), flattened(new, self.new)
        if new_ref:
            place = replace(place, at=new_ref.removeprefix("#"))
        if old_ref or new_ref:
            if (old_ref, new_ref) in stack:
                return
            stack = stack | {(old_ref, new_ref)}

        def say(message: str, verdict: Verdict, *keys: str) -> None:
            here = place
            for key in keys:
                here = here / key
            breaking = verdict[0] if place.direction == REQUEST else verdict[1]
            defined = f" (defined at {here.at})" if here.at != here.pointer else ""
            self.emit(here.pointer, f"{place.direction}: {message}{defined}", breaking)

        renamed = _model_name(old_ref, old), _model_name(new_ref, new)
        if None not in renamed and renamed[0] != renamed[1]:
            # SDK generators name a class after an object schema's component (taskapi_client.models.TaskCreate).
            say(f"model {renamed[0]} renamed to {renamed[1]} (SDK class names follow it)", BOTH)

        _keywords(old, new, say)
        self.properties(old, new, place, say, stack)
        if "items" in old or "items" in new:
            self.schema(old.get("items", {}), new.get("items", {}), place / "items", stack)
        old_all, new_all = old.get("allOf", []), new.get("allOf", [])
        if len(old_all) == len(new_all):
            for index, (before, after) in enumerate(zip(old_all, new_all, strict=True)):
                self.schema(before, after, place / "allOf" / str(index), stack)
        else:
            say(f"allOf went from {len(old_all)} to {len(new_all)} subschemas (not compared further)", BOTH, "allOf")

    def properties(self, old: dict[str, Any], new: dict[str, Any], place: _Place, say: _Say, stack: _Stack) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        closed = new.get("additionalProperties") is False
        for name in dict.fromkeys([*new_props, *old_props, *old.get("required", []), *new.get("required", [])]):
            if name in old_props and name in new_props:
                self.schema(old_props[name], new_props[name], place / "properties" / name, stack)
            elif name in new_props:
                required = name in new_required
                # A new required property breaks senders; readers ignore a property they do not know.
                say(f"property {name} added" + " (required)" * required, (required, False), "properties", name)
                continue
            elif name in old_props:
                # Clients may read any response property; a closed request object refuses one it no longer lists.
                say(f"property {name} removed", (closed, True), "properties", name)
                continue
            if (name in old_required) != (name in new_required):
                state = "now required" if name in new_required else "no longer required"
                say(f"property {name} {state}", NARROWS if name in new_required else WIDENS, "required")
        before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if isinstance(before, dict) and isinstance(after, dict):
            self.schema(before, after, place / "additionalProperties", stack)
        elif before != after:
            rank = {False: 0, True: 2}  # false < a schema < true, in what they let through
            verdict = NARROWS if rank.get(after, 1) < rank.get(before, 1) else WIDENS
            say(f"additionalProperties {_show(before)} -> {_show(after)}", verdict, "additionalProperties")


def _keywords(old: dict[str, Any], new: dict[str, Any], say: _Say) -> None:
    """The keywords of one schema object that constrain its own value (not its properties or items)."""
    old_types, new_types = _types(old), _types(new)
    if old_types != new_types:
        if old_types is None or new_types is None:
            message, verdict = (
                (f"type {_show(new['type'])} added", NARROWS) if old_types is None else ("type removed", WIDENS)
            )
        else:
            verdict = NARROWS if new_types < old_types else WIDENS if old_types < new_types else BOTH
            if old_types ^ new_types == {"null"}:
                message = "null added to type (nullable)" if "null" in new_types else "null removed from type"
            else:
                message = f"type changed from {_show(old['type'])} to {_show(new['type'])}"
        say(message, verdict, "type")
    old_values, new_values = _values(old), _values(new)
    key = "const" if "const" in new or ("const" in old and "enum" not in new) else "enum"
    if old_values is None and new_values is not None:
        say(f"values restricted to {_show(list(new_values.values()))}", NARROWS, key)
    elif new_values is None and old_values is not None:
        say(f"{key} removed: any value", WIDENS, key)
    elif old_values is not None and new_values is not None:
        if added := [value for text, value in new_values.items() if text not in old_values]:
            say(f"{key} value{'s' * (len(added) > 1)} {_show(added)[1:-1]} added", WIDENS, key)
        if removed := [value for text, value in old_values.items() if text not in new_values]:
            say(f"{key} value{'s' * (len(removed) > 1)} {_show(removed)[1:-1]} removed", NARROWS, key)
    for key, raising_widens in _BOUNDS.items():
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if before is None or after is None:
            say(_edit(key, old, new), NARROWS if before is None else WIDENS, key)
        else:
            verdict = WIDENS if (after > before) == raising_widens else NARROWS
            say(f"{key} {'raised' if after > before else 'lowered'} from {before} to {after}", verdict, key)
    for key in _CONSTRAINTS:
        before, after = old.get(key), new.get(key)
        if before != after:
            say(_edit(key, old, new), NARROWS if before is None else WIDENS if after is None else BOTH, key)
    if ("default" in old, _show(old.get("default"))) != ("default" in new, _show(new.get("default"))):
        # A client that omits the value gets the default: changing it changes what that request does.
        say(_edit("default", old, new), NARROWS, "default")
    # readOnly: clients may no longer send it; writeOnly: responses no longer carry it.
    for key, verdict in (("readOnly", NARROWS), ("writeOnly", WIDENS), ("deprecated", NEITHER)):
        if bool(old.get(key)) != bool(new.get(key)):
            say(f"{key} {'added' if new.get(key) else 'removed'}", verdict if new.get(key) else NEITHER, key)
    for key in sorted((old.keys() | new.keys()) - _COMPARED):
        if not key.startswith("x-") and old.get(key) != new.get(key):
            say(f"{key} changed (not compared further, so judged breaking both ways)", BOTH, key)


def _pointer(op: Operation) -> str:
    return f"/paths/{escape(op.path)}/{op.method.lower()}"


def _raw(spec: Spec, op: Operation) -> dict[str, Any]:
    node: dict[str, Any] = spec.document["paths"][op.path][op.method.lower()]
    return node


def _parameter_places(spec: Spec, op: Operation) -> dict[str, tuple[str, dict[str, Any], str]]:
    """Each parameter by name: its pointer where the operation (or its path item) lists it, the resolved
    object, and the pointer where it is defined (a component when listed by `$ref`)."""
    resolver = Resolver(spec.document)
    item = spec.document["paths"][op.path]
    item_pointer = f"/paths/{escape(op.path)}"
    places: dict[str, tuple[str, dict[str, Any], str]] = {}
    for owner, pointer in ((item, item_pointer), (item[op.method.lower()], _pointer(op))):
        for index, node in enumerate(owner.get("parameters", [])):
            param, ref = _deref(resolver, node)
            where = f"{pointer}/parameters/{index}"
            places[param["name"]] = (where, param, ref.removeprefix("#") if ref else where)
    return places


# What only documents a security scheme: `bearerFormat` is a hint about the token, "primarily for
# documentation purposes" (OpenAPI 3.1); the server takes the same tokens whatever it says.
_SCHEME_DOCS = _DOCS | {"bearerFormat"}


def _undocumented(node: Any) -> Any:
    """A security scheme without what only documents it."""
    if isinstance(node, dict):
        return {key: _undocumented(value) for key, value in node.items() if key not in _SCHEME_DOCS}
    return node


def _model_name(ref: str | None, schema: dict[str, Any]) -> str | None:
    """The component name of an object schema reached through `ref` (what SDKs name a class after)."""
    if not ref or not ref.startswith("#/components/schemas/"):
        return None
    return ref.rsplit("/", 1)[1] if schema.get("type") == "object" or "properties" in schema else None


def _parameter_key(param: Parameter) -> str:
    """A parameter's identity across revisions: header names are case-insensitive (RFC 9110)."""
    return param.name.lower() if param.location == "header" else param.name


class GitError(Exception):
    """git could not produce the base revision of the spec."""


def _git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise GitError(f"git {' '.join(args)}: {result.stderr.strip() or f'exit status {result.returncode}'}")
    return result.stdout


def _base_from_git(spec: Path, ref: str) -> tuple[str, str]:
    """The spec's text at `ref` and what that revision is. Without a ref: the merge base of HEAD and
    main, else of origin/main (a CI clone); with neither, no guess (comparing with HEAD would pass every
    committed change): the caller must name the base."""
    cwd = spec.resolve().parent
    described = ref
    if not ref:
        for branch in ("main", "origin/main"):
            try:
                ref = _git(cwd, "merge-base", "HEAD", branch).strip()
                described = f"the merge base of HEAD and {branch}"
                break
            except GitError:
                continue
        else:
            raise GitError("no main or origin/main to take a merge base with: pass BASE=<ref> (--base REF)")
    commit = _git(cwd, "rev-parse", "--short", f"{ref}^{{commit}}").strip()
    return _git(cwd, "show", f"{commit}:./{spec.name}"), f"{spec.name} at {described} ({commit})"


def _parse(text: str, source: str) -> Spec:
    return load_document(parse_yaml(text), source)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m codegen.breaking",
        description="List the changes to the spec since a base revision; fail on breaking ones.",
        epilog="exit status: 0 no breaking change (or allowed by a major version bump), 1 breaking changes, "
        "2 usage error or unreadable spec",
    )
    parser.add_argument("--spec", type=Path, default=Path("openapi.yaml"), help="the changed spec (openapi.yaml)")
    base = parser.add_mutually_exclusive_group()
    base.add_argument("--base", metavar="REF", default="", help="git revision to compare with (default: merge base)")
    base.add_argument("--base-file", type=Path, metavar="FILE", help="compare with this file instead")
    args = parser.parse_args(argv)
    try:
        if args.base_file is not None:
            base_text, base_name = args.base_file.read_text(encoding="utf-8"), str(args.base_file)
        else:
            base_text, base_name = _base_from_git(args.spec, args.base)
        report = compare(_parse(base_text, base_name), _parse(args.spec.read_text(encoding="utf-8"), str(args.spec)))
    except (OSError, GitError, SpecError, yaml.YAMLError) as exc:
        print(f"codegen.breaking: {exc}", file=sys.stderr)
        return 2
    print(report.render(base_name, str(args.spec)))
    return report.exit_status


if __name__ == "__main__":
    sys.exit(main())
