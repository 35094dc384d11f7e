"""The runtime's validator of the spec's own schemas: string formats in their RFC forms only (never a number,
a hyphenless UUID or a date-time for a date), every JSON Schema keyword a designer writes, errors located
where the value is and worded without quoting it."""

from __future__ import annotations

from typing import Any

import pytest

from taskapi.runtime.validation import Validators

FORMATS: dict[str, tuple[list[Any], list[Any]]] = {
    # format: (admitted, refused)
    "date-time": (
        ["2026-12-07T09:30:00Z", "2026-12-07T09:30:00.123+01:00", "2026-12-07t09:30:00z"],
        [0, 1767225600, "1767225600", "2026-12-07T09:30:00", "2026-12-07", "2026-13-07T09:30:00Z", 0.5, None],
    ),
    "date": (["2026-12-07", "2024-02-29"], ["2026-12-07T00:00:00Z", "2026-02-29", "20261207", 20261207, ""]),
    "time": (["09:30:00Z", "09:30:00.5+02:00"], ["09:30:00", "9:30", 930, "25:00:00Z"]),
    "uuid": (
        ["0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a", "0B2A4C1E-5F0D-4C89-9A53-0E0F8B1D2C3A"],
        [
            "0b2a4c1e5f0d4c899a530e0f8b1d2c3a",
            "{0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a}",
            "urn:uuid:0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a",
            12,
        ],
    ),
    "email": (["ada@example.com", "a.b+c@example.org"], ["ada", "ada@", "@example.com", "a b@example.com", 1]),
    "uri": (["https://example.com/a?b=c", "urn:isbn:0451450523"], ["/relative/path", "example.com", "http://a b", 1]),
    "ipv4": (["192.0.2.1", "198.51.100.255"], ["192.0.2", "256.0.0.1", "::1", 3221225985]),
    "ipv6": (["::1", "2001:db8::8a2e:370:7334"], ["192.0.2.1", "2001:db8:::1", "gggg::1", 1]),
}


def validator(schema: dict[str, Any]) -> Any:
    return Validators({"Thing": {"type": "object", "properties": {"value": schema}}})["Thing"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_format_admits_its_rfc_form_only(fmt: str) -> None:
    admitted, refused = FORMATS[fmt]
    check = validator({"type": "string", "format": fmt})
    for value in admitted:
        assert check.violations({"value": value}) == [], (fmt, value)
    for value in refused:
        [error] = check.violations({"value": value}, "body")
        assert error["loc"] == ("body", "value"), (fmt, value)
        assert error["type"] in ("format", "type"), (fmt, value, error)


def test_a_pattern_on_a_formatted_string_is_enforced_too() -> None:
    check = validator({"type": "string", "format": "date-time", "pattern": "Z$"})
    assert check.violations({"value": "2026-12-07T09:30:00Z"}) == []
    [error] = check.violations({"value": "2026-12-07T09:30:00+01:00"})
    assert error == {"type": "pattern", "loc": ("value",), "msg": "Must match the pattern Z$"}


@pytest.mark.parametrize(
    ("schema", "good", "bad", "msg"),
    [
        ({"type": "integer"}, 5.0, "5", "Must be of type integer"),
        ({"type": "integer", "multipleOf": 5}, 10, 12, "Must be a multiple of 5"),
        ({"type": "number", "exclusiveMinimum": 0}, 0.1, 0, "Must be greater than 0"),
        ({"type": "number", "exclusiveMaximum": 1}, 0.9, 1, "Must be less than 1"),
        ({"type": ["string", "integer"]}, 3, 3.5, "Must be of type integer or string"),
        ({"type": ["string", "null"]}, None, 1, "Must be of type null or string"),
        ({"enum": ["low", "high", None]}, None, "mid", "Must be one of low, high, null"),
        ({"const": "v1"}, "v1", "v2", "Must be v1"),
        ({"type": "array", "uniqueItems": True}, [1, 2], [1, 1], "Must not repeat an item"),
        ({"type": "array", "minItems": 1, "maxItems": 2}, [1], [], "Must have at least 1 item"),
        ({"type": "array", "maxItems": 2}, [1, 2], [1, 2, 3], "Must have at most 2 items"),
        ({"type": "object", "additionalProperties": {"type": "integer"}, "maxProperties": 1}, {"a": 1},
         {"a": 1, "b": 2}, "Must have at most 1 property"),
        ({"oneOf": [{"type": "string"}, {"type": "integer"}]}, "a", 1.5,
         "Must match exactly one of the schemas under `oneOf`"),
        ({"anyOf": [{"type": "string"}, {"type": "integer"}]}, 1, 1.5,
         "Must match at least one of the schemas under `anyOf`"),
    ],
)  # fmt: skip
def test_each_keyword_refuses_what_it_says(schema: dict[str, Any], good: Any, bad: Any, msg: str) -> None:
    check = validator(schema)
    assert check.violations({"value": good}) == []
    assert [error["msg"] for error in check.violations({"value": bad})] == [msg]


def test_prefix_items_check_each_position() -> None:
    check = validator({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": False})
    assert check.violations({"value": ["a", 1]}) == []
    assert sorted((e["loc"], e["type"]) for e in check.violations({"value": [1, "a", None]})) == [
        (("value", 0), "type"),
        (("value", 1), "type"),
        (("value", 2), "falseSchema"),
    ]


def test_a_missing_and_an_unexpected_property_are_located_at_their_own_paths() -> None:
    check = Validators(
        {
            "Inner": {"type": "object", "required": ["id"], "additionalProperties": False, "properties": {"id": {}}},
            "Outer": {"type": "object", "properties": {"inner": {"$ref": "#/$defs/Inner"}}},
        }
    )["Outer"]
    errors = check.violations({"inner": {"extra": 1, "more": 2}}, "body")
    assert sorted((e["loc"], e["type"]) for e in errors) == [
        (("body", "inner", "extra"), "extra_forbidden"),
        (("body", "inner", "id"), "missing"),
        (("body", "inner", "more"), "extra_forbidden"),
    ]


def test_a_property_no_member_of_a_one_of_evaluates_is_located_at_its_own_path() -> None:
    check = Validators(
        {"Source": {"oneOf": [{"properties": {"a": {}}, "required": ["a"]}], "unevaluatedProperties": False}}
    )["Source"]
    errors = check.violations({"a": 1, "x": 2}, "body")
    assert [(e["loc"], e["type"]) for e in errors] == [(("body", "x"), "extra_forbidden")]


def test_no_message_quotes_the_value() -> None:
    secret = "s3cr3t-" + "x" * 10_000
    check = validator({"type": "string", "format": "uuid", "maxLength": 36, "pattern": "^[a-f0-9-]+$"})
    errors = check.violations({"value": secret})
    assert {e["type"] for e in errors} == {"format", "maxLength", "pattern"}
    assert all("s3cr3t" not in e["msg"] and len(e["msg"]) < 200 for e in errors)


def test_an_unknown_schema_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        Validators({})["Missing"]
