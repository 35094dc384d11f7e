"""Entity tags as `If-Match` and `If-None-Match` carry them (RFC 9110, section 13): parsed from what the
spec's pattern admits, compared strongly for If-Match (the versions it names) and weakly for
If-None-Match; and a malformed header parameter is 400 (MalformedHeader), not 422."""

from __future__ import annotations

import pytest

from taskapi import runtime
from taskapi.generated import models, validation
from taskapi.handlers.tasks import matching_versions
from taskapi.runtime import EntityTag, EntityTags, entity_tags, if_none_match

# The spec's schemas, as the generated glue validates against them (compiled on first use).
SCHEMAS = runtime.Validators(validation.DEFINITIONS)


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("*", EntityTags(any=True)),
        (" * ", EntityTags(any=True)),
        ('"3"', EntityTags(any=False, tags=(EntityTag('"3"'),))),
        ('W/"3"', EntityTags(any=False, tags=(EntityTag('"3"', weak=True),))),
        ('"1", W/"2" ,"x"', EntityTags(any=False, tags=(EntityTag('"1"'), EntityTag('"2"', True), EntityTag('"x"')))),
        ('""', EntityTags(any=False, tags=(EntityTag('""'),))),
        ('"a,b"', EntityTags(any=False, tags=(EntityTag('"a,b"'),))),
    ],
)
def test_entity_tags_are_parsed(value: str, parsed: EntityTags) -> None:
    assert entity_tags(value) == parsed


@pytest.mark.parametrize(
    ("value", "versions"),
    [
        ("*", None),
        ('"3"', {3}),
        ('"2", "3", "3"', {2, 3}),
        ('W/"3"', set()),  # strong comparison: a weak tag never matches
        ('"03"', set()),  # not an ETag this server sends
        ('"abc", ""', set()),
        ('"9223372036854775807"', {2**63 - 1}),
        ('"9223372036854775808"', set()),
        ('"' + "1" * 5000 + '"', set()),  # past Python's int() digit limit: no match, not a 500
    ],
)
def test_if_match_names_versions_by_strong_comparison(value: str, versions: set[int] | None) -> None:
    assert matching_versions(value) == (None if versions is None else frozenset(versions))


@pytest.mark.parametrize(
    ("value", "matches"),
    [("*", True), ('"3"', True), ('W/"3"', True), ('"1", W/"3"', True), ('"03"', False), ('"2"', False)],
)
def test_if_none_match_compares_weakly(value: str, matches: bool) -> None:
    assert if_none_match(value, '"3"') is matches


@pytest.mark.parametrize("value", ["abc", '"unterminated', '"3" "4"', "W/3", '"3",', "**"])
def test_a_malformed_header_parameter_is_400_and_names_it(value: str) -> None:
    with pytest.raises(runtime.MalformedHeader) as raised:
        runtime.parse_parameters(
            models.UpdateTaskParams,
            SCHEMAS["UpdateTaskParams"],
            [("task_id", "path", "integer", "1"), ("If-Match", "header", "string", value)],
        )
    assert raised.value.status == 400
    assert [error["loc"] for error in raised.value.errors] == [("header", "If-Match")]


def test_a_bad_path_parameter_beside_a_good_header_stays_422() -> None:
    with pytest.raises(runtime.InvalidRequest) as raised:
        runtime.parse_parameters(
            models.UpdateTaskParams,
            SCHEMAS["UpdateTaskParams"],
            [("task_id", "path", "integer", "0"), ("If-Match", "header", "string", '"1"')],
        )
    assert not isinstance(raised.value, runtime.MalformedHeader)
    assert raised.value.status == 422
