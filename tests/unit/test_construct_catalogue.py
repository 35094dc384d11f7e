"""The construct lab is complete: every construct of the catalogue is used by the lab's spec, listed by the
operation that exercises it, and has cases in both directions (tests/contract/test_construct_lab.py runs
them on the live server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest
import yaml
from codegen.spec import load
from openapi_spec_validator import validate

from tests.lab.app import SPEC
from tests.lab.cases import CASES, CATALOGUE


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    return loaded


def walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in the document."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


def operations() -> list[dict[str, Any]]:
    return [op for item in document()["paths"].values() for op in operations_of(item)]


def parameters() -> list[dict[str, Any]]:
    """Every parameter, an operation's own and its path's."""
    return [
        p
        for item in document()["paths"].values()
        for node in (item, *operations_of(item))
        for p in node.get("parameters", [])
    ]


def operations_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [op for key, op in item.items() if key in ("get", "put", "post", "delete", "patch")]


def keyword(name: str, value: Any = None) -> bool:
    return any(name in node and (value is None or node[name] == value) for node in walk(document()))


def _query_array(exploded: bool) -> bool:
    return any(
        p["in"] == "query" and p["schema"].get("type") == "array" and p.get("explode", True) is exploded
        for p in parameters()
    )


def _path_format(fmt: str) -> bool:
    return any(p["in"] == "path" and p["schema"].get("format") == fmt for p in parameters())


def _format(fmt: str) -> Callable[[], bool]:
    return lambda: keyword("format", fmt)


# How to see, in the lab's spec, that it uses each construct of the catalogue.
USES: dict[str, Callable[[], bool]] = {
    **{fmt: _format(fmt) for fmt in ("date-time", "date", "time", "uuid", "email", "uri", "ipv4", "ipv6")},
    "enum": lambda: keyword("enum"),
    "const": lambda: keyword("const"),
    "multipleOf": lambda: keyword("multipleOf"),
    "exclusive-bounds": lambda: keyword("exclusiveMinimum") and keyword("exclusiveMaximum"),
    "integer-formats": lambda: keyword("format", "int32") and keyword("format", "int64"),
    "type-list": lambda: any(isinstance(n.get("type"), list) and "null" not in n["type"] for n in walk(document())),
    "nullable": lambda: any(isinstance(n.get("type"), list) and "null" in n["type"] for n in walk(document())),
    "minItems": lambda: keyword("minItems"),
    "maxItems": lambda: keyword("maxItems"),
    "uniqueItems": lambda: keyword("uniqueItems", True),
    "item-constraints": lambda: any(
        isinstance(n.get("items"), dict) and "maximum" in n["items"] for n in walk(document())
    ),
    "prefixItems": lambda: keyword("prefixItems"),
    "nested-objects": lambda: "properties" in document()["components"]["schemas"]["Outer"]["properties"]["middle"],
    "map": lambda: any(isinstance(n.get("additionalProperties"), dict) for n in walk(document())),
    "minProperties": lambda: keyword("minProperties"),
    "maxProperties": lambda: keyword("maxProperties"),
    "ref-with-siblings": lambda: any("$ref" in n and len(n) > 1 for n in walk(document()["components"])),
    "oneOf-discriminator": lambda: any("oneOf" in n and "discriminator" in n for n in walk(document())),
    "oneOf": lambda: any("oneOf" in n and "discriminator" not in n for n in walk(document())),
    "anyOf": lambda: keyword("anyOf"),
    "allOf": lambda: keyword("allOf"),
    "unevaluatedProperties": lambda: any(
        n.get("unevaluatedProperties") is False and "oneOf" in n for n in walk(document())
    ),
    "query-array-exploded": lambda: _query_array(True),
    "query-array-csv": lambda: _query_array(False),
    "query-formats": lambda: any(p["in"] == "query" and "format" in p["schema"] for p in parameters()),
    "query-default": lambda: any(p["in"] == "query" and "default" in p["schema"] for p in parameters()),
    "header-pattern": lambda: any(p["in"] == "header" and "pattern" in p["schema"] for p in parameters()),
    "header-integer": lambda: any(p["in"] == "header" and p["schema"].get("type") == "integer" for p in parameters()),
    "cookie": lambda: any(p["in"] == "cookie" for p in parameters()),
    "path-uuid": lambda: _path_format("uuid"),
    "path-date": lambda: _path_format("date"),
    "form-encoded": lambda: keyword("application/x-www-form-urlencoded"),
    "readOnly": lambda: keyword("readOnly", True),
    "writeOnly": lambda: keyword("writeOnly", True),
    "links": lambda: keyword("links"),
    "image-response": lambda: keyword("image/png"),
    "path-item-parameters": lambda: any("parameters" in item for item in document()["paths"].values()),
    "kebab-case-operationId": lambda: any("-" in op["operationId"] for op in operations()),
    "response-headers": lambda: any(
        "RateLimit" in response.get("headers", {}) for op in operations() for response in op["responses"].values()
    ),
    "multipart-file": lambda: keyword("multipart/form-data") and keyword("format", "binary"),
    "inline-request-body": lambda: any(
        "$ref" not in media["schema"]
        for op in operations()
        for media in op.get("requestBody", {}).get("content", {}).values()
    ),
    "inline-allOf-response": lambda: any(
        "allOf" in media.get("schema", {})
        for op in operations()
        for response in op["responses"].values()
        for media in response.get("content", {}).values()
    ),
    "octet-stream-response": lambda: keyword("application/octet-stream"),
}


def test_the_catalogue_is_what_the_lab_lists() -> None:
    listed = [name for op in operations() for name in op.get("x-lab-constructs", [])]
    assert sorted(listed) == sorted(CATALOGUE)  # each once
    assert sorted(USES) == sorted(CATALOGUE)


@pytest.mark.parametrize("construct", CATALOGUE)
def test_the_lab_uses_the_construct_and_tries_it_both_ways(construct: str) -> None:
    assert USES[construct](), f"the lab's spec does not use {construct}"
    [cases] = [case for case in CASES if case.name == construct]
    assert cases.accepted, f"{construct}: nothing the spec admits is tried"
    assert cases.refused, f"{construct}: nothing the spec refuses is tried"


def test_the_lab_is_a_valid_spec_that_codegen_takes() -> None:
    validate(document())
    spec = load(SPEC)
    assert len(spec.operations) == len(operations())
