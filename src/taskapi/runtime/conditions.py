"""Conditional requests (RFC 9110, section 13): the entity-tag lists that `If-Match` and `If-None-Match`
carry, and how they compare with a resource's current entity tag. The generated glue has already held
the header to the spec's pattern (a malformed one is 400), so parsing here cannot fail."""

from __future__ import annotations

import re
from dataclasses import dataclass

# One member of the list: an optional weakness marker and the quoted opaque tag (RFC 9110, section 8.8.3).
_MEMBER = re.compile(r'[ \t]*(W/)?("[^"]*")[ \t]*(?:,|$)')


@dataclass(frozen=True, slots=True)
class EntityTag:
    """One entity tag: `opaque` with its quotes (`"3"`), and whether it was sent weak (`W/"3"`)."""

    opaque: str
    weak: bool = False


@dataclass(frozen=True, slots=True)
class EntityTags:
    """A precondition's field value: `*` (any current representation), or a list of entity tags."""

    any: bool
    tags: tuple[EntityTag, ...] = ()


def entity_tags(value: str) -> EntityTags:
    """The field value of `If-Match` or `If-None-Match`, as the spec's pattern admits it."""
    if value.strip() == "*":
        return EntityTags(any=True)
    return EntityTags(any=False, tags=tuple(EntityTag(m.group(2), bool(m.group(1))) for m in _MEMBER.finditer(value)))


def if_none_match(value: str, current: str) -> bool:
    """Whether `If-None-Match: value` names the resource whose entity tag is `current` (so a GET answers
    304): `*`, or a member equal to it by weak comparison (`W/"3"` names `"3"`)."""
    tags = entity_tags(value)
    return tags.any or any(tag.opaque == current for tag in tags.tags)
