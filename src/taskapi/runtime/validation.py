"""The spec's own JSON Schemas, enforced: every body and every operation's parameters are validated against
the schema the spec declares (JSON Schema 2020-12, the dialect of OpenAPI 3.1, with `format` asserted), by
jsonschema-rs, before a generated model converts them for the handler.

The models are the handlers' types; this is the contract. Pydantic alone would honour a looser one: it
accepts `0` or `"1767225600"` for a `date-time`, a date-time for a `date`, a UUID without hyphens, and
it cannot take a `pattern` on a formatted string. A validator of the schema itself has none of those gaps.

Errors come back as the runtime's violations (`loc` = the location, then the path into the instance; a
`msg` made from the keyword that refused the value and the spec's own figures, never from the value).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema_rs

# What a format means, for the error messages.
_FORMATS = {
    "date-time": "an RFC 3339 date-time with an offset, such as 2026-12-07T09:30:00Z",
    "date": "an RFC 3339 full-date, such as 2026-12-07",
    "time": "an RFC 3339 full-time with an offset, such as 09:30:00Z",
    "duration": "an RFC 3339 duration, such as P1DT2H",
    "uuid": "an RFC 9562 UUID in its hyphenated form, such as 0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a",
    "email": "an RFC 5321 email address",
    "idn-email": "an RFC 6531 email address",
    "uri": "an absolute RFC 3986 URI",
    "uri-reference": "an RFC 3986 URI reference",
    "iri": "an absolute RFC 3987 IRI",
    "iri-reference": "an RFC 3987 IRI reference",
    "hostname": "an RFC 1123 host name",
    "idn-hostname": "an RFC 5890 internationalized host name",
    "ipv4": "an IPv4 address in dotted-quad form",
    "ipv6": "an RFC 4291 IPv6 address",
    "json-pointer": "an RFC 6901 JSON pointer",
    "relative-json-pointer": "a relative JSON pointer",
    "regex": "an ECMA-262 regular expression",
    "uri-template": "an RFC 6570 URI template",
}


def _detail(kind: Any) -> str:
    """What a keyword's refusal means, in the spec's terms (never quoting the value refused)."""
    name, facts = kind.name, kind.as_dict()
    limit = facts.get("limit")
    if name == "type":
        return f"Must be of type {' or '.join(facts['types'])}"
    if name == "format":
        return f"Must be {_FORMATS.get(facts['format'], 'a valid ' + facts['format'])}"
    if name == "enum":
        return f"Must be one of {', '.join(_json(option) for option in facts['options'])}"
    if name == "const":
        return f"Must be {_json(facts['expected_value'])}"
    if name == "pattern":
        return f"Must match the pattern {facts['pattern']}"
    plural = "" if limit == 1 else "s"
    messages = {
        "minLength": f"Must have at least {limit} character{plural}",
        "maxLength": f"Must have at most {limit} character{plural}",
        "minimum": f"Must be at least {limit}",
        "maximum": f"Must be at most {limit}",
        "exclusiveMinimum": f"Must be greater than {limit}",
        "exclusiveMaximum": f"Must be less than {limit}",
        "multipleOf": f"Must be a multiple of {facts.get('multiple_of', limit)}",
        "minItems": f"Must have at least {limit} item{plural}",
        "maxItems": f"Must have at most {limit} item{plural}",
        "uniqueItems": "Must not repeat an item",
        "minProperties": f"Must have at least {limit} propert{'y' if limit == 1 else 'ies'}",
        "maxProperties": f"Must have at most {limit} propert{'y' if limit == 1 else 'ies'}",
        "falseSchema": "Is not allowed here",
        "not": "Must not match the schema under `not`",
        "anyOf": "Must match at least one of the schemas under `anyOf`",
        "propertyNames": "Has a property name the schema refuses",
        "contains": "Must contain an item that matches `contains`",
        "unevaluatedItems": "Has items the schema does not declare",
    }
    if name == "oneOf":
        if type(kind).__name__ == "OneOfMultipleValid":
            return "Must match exactly one of the schemas under `oneOf`, not several"
        return "Must match exactly one of the schemas under `oneOf`"
    return messages.get(name, f"Violates `{name}`")


def _json(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class SchemaValidator:
    """One schema of the spec, compiled: `violations()` of an instance, located under `location`."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self._validator = jsonschema_rs.Draft202012Validator(dict(schema), validate_formats=True)

    def violations(self, instance: Any, *location: str | int) -> list[dict[str, Any]]:
        """The instance's violations, each at `(*location, *path)`: none when the schema admits it.
        A missing required property is reported at its own path, an unexpected one at its own path."""
        if self._validator.is_valid(instance):
            return []
        found: list[dict[str, Any]] = []
        for error in self._validator.iter_errors(instance):
            kind = error.kind
            at = (*location, *error.instance_path)
            if kind.name == "required":
                found.append({"type": "missing", "loc": (*at, kind.as_dict()["property"]), "msg": "Field required"})
            elif kind.name in ("additionalProperties", "unevaluatedProperties"):
                found.extend(
                    {"type": "extra_forbidden", "loc": (*at, name), "msg": "Not a property of this object"}
                    for name in kind.as_dict()["unexpected"]
                )
            else:
                found.append({"type": kind.name, "loc": at, "msg": _detail(kind)})
        return found


class Validators:
    """The spec's schemas by name (`definitions`: components.schemas and the operations' parameter
    objects, referring to one another as `#/$defs/<name>`), each compiled on first use."""

    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self._definitions = dict(definitions)
        self._compiled: dict[str, SchemaValidator] = {}

    def __getitem__(self, name: str) -> SchemaValidator:
        validator = self._compiled.get(name)
        if validator is None:
            if name not in self._definitions:
                raise KeyError(name)
            schema = {"$defs": self._definitions, "$ref": f"#/$defs/{name}"}
            validator = self._compiled[name] = SchemaValidator(schema)
        return validator
