"""Reading a request as the spec declares it: bodies decoded (JSON or form), text parameters parsed per
their JSON type, both validated against the spec's schemas (`validation`) and converted by the generated
models, and the bearer token taken from its header.

Every scalar parameter, form field and JSON member the spec declares holds one value, so one given twice is
ambiguous: 422 naming it, wherever it is (`repeated`); an exploded query array is the one parameter that
may repeat (`?tag=a&tag=b`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple, NoReturn, TypeVar
from urllib.parse import parse_qsl

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from taskapi.runtime.errors import (
    InvalidRequest,
    MalformedBody,
    MalformedHeader,
    MissingCredentials,
    UnsupportedMediaType,
)
from taskapi.runtime.validation import SchemaValidator

ModelT = TypeVar("ModelT", bound=BaseModel)
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
# Python refuses int() of more than 4300 digits; longer numbers become a value no typed field accepts.
_MAX_DIGITS = 4000
# Integral JSON numbers with a larger exponent stay floats (and fail integer validation) instead of
# being expanded into enormous Python ints.
_MAX_INTEGRAL_EXPONENT = 400
_MAX_FORM_FIELDS = 100


class _OutOfRange:
    """A number too large to convert (more digits, or a larger exponent, than Python converts): every
    typed field refuses it."""

    def __repr__(self) -> str:
        return "<a number too large to convert>"


_HUGE = _OutOfRange()


def _parse_int(text: str) -> int | _OutOfRange:
    return _HUGE if len(text) > _MAX_DIGITS else int(text)


def _parse_float(text: str) -> float | int | _OutOfRange:
    if len(text) > _MAX_DIGITS:
        return _HUGE
    # JSON Schema counts 5.0 as an integer: whole numbers reach the models as ints.
    try:
        value = Decimal(text)
        integral = value == value.to_integral_value()
    except ArithmeticError:  # an exponent past what Decimal holds (1e99999999999999999999)
        return _HUGE
    if integral and value.adjusted() <= _MAX_INTEGRAL_EXPONENT:
        return int(value)
    return float(text)


def _reject_constant(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a JSON value")


def repeated(*loc: str | int) -> dict[str, Any]:
    """The error of a parameter, form field or JSON member given more than once, at `loc` (`("query",
    "limit")`, `("body", "priority")`): the same for all three."""
    return {"type": "repeated", "loc": loc, "msg": "Appears more than once"}


class _RepeatedMember(ValueError):
    """A JSON object has a member twice (RFC 8259 leaves it to the parser; the spec's objects do not)."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise _RepeatedMember
    return members


class _Repeats(dict[str, Any]):
    """A decoded JSON object, and the names of the members it repeats."""

    names: list[str]


def _marked_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = _Repeats(pairs)
    members.names = [name for name, count in Counter(name for name, _ in pairs).items() if count > 1]
    return members


# One decoder for every body (json.loads would build one per call); a second one, run only on a body with a
# repeated member, to find where: the first one stops at the first repeat and does not know the path.
_JSON = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant, object_pairs_hook=_object
)
_MARKING_JSON = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_reject_constant, object_pairs_hook=_marked_object
)


def _repeated_members(text: str) -> list[dict[str, Any]]:
    """The `repeated` errors of a JSON document, an object's own before those inside it (walked without
    recursion: the document may nest as deeply as the decoder allows)."""
    errors: list[dict[str, Any]] = []
    pending: list[tuple[tuple[str | int, ...], Any]] = [(("body",), _MARKING_JSON.decode(text))]
    while pending:
        path, value = pending.pop()
        if isinstance(value, _Repeats):
            errors.extend(repeated(*path, name) for name in value.names)
        if isinstance(value, dict):
            pending.extend(((*path, name), member) for name, member in reversed(value.items()))
        elif isinstance(value, list):
            pending.extend(((*path, index), item) for index, item in reversed(list(enumerate(value))))
    return errors


def _media_type(request: Request) -> tuple[str | None, dict[str, str]]:
    """The request's media type, lower case, and its parameters (None without a Content-Type)."""
    header = request.headers.get("content-type")
    if header is None:
        return None, {}
    media_type, _, params = header.partition(";")
    parsed: dict[str, str] = {}
    for item in params.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parsed[key.strip().lower()] = value.strip().strip('"').lower()
    return media_type.strip().lower(), parsed


async def read_json_body(request: Request, declared: str = "application/json") -> Any:
    """The request's JSON body: 415 unless it is of the `declared` media type, 400 unless it decodes,
    422 when absent."""
    raw = await request.body()
    media_type, params = _media_type(request)
    if media_type is None:
        if not raw:
            raise InvalidRequest([{"type": "missing", "loc": ("body",), "msg": "A JSON body is required"}])
        raise UnsupportedMediaType(f"The body must be {declared}; the request has no Content-Type.")
    if media_type != declared:
        raise UnsupportedMediaType(f"The body must be {declared}, not {media_type or 'an empty media type'}.")
    charset = params.get("charset", "utf-8")
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"JSON bodies are UTF-8, not {charset}.")
    try:
        text = raw.decode("utf-8")
        return _JSON.decode(text)
    except UnicodeDecodeError:
        raise MalformedBody("The body is not valid UTF-8.") from None
    except _RepeatedMember:
        raise InvalidRequest(_repeated_members(text)) from None
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise MalformedBody(f"The body is not valid JSON: {reason}.") from None


async def read_form_body(request: Request) -> dict[str, str]:
    """The request's form fields: 415 unless form-encoded, 400 unless it decodes, 422 for a repeated field."""
    raw = await request.body()
    media_type, _ = _media_type(request)
    if media_type is None and not raw:
        raise InvalidRequest([{"type": "missing", "loc": ("body",), "msg": "A form body is required"}])
    if media_type != FORM:
        raise UnsupportedMediaType(f"The body must be {FORM}, not {media_type or 'untyped'}.")
    try:
        pairs = parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=_MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(f"The body is not a valid form: {exc}.") from None
    fields = dict(pairs)
    if len(fields) != len(pairs):
        counts = Counter(name for name, _ in pairs)
        raise InvalidRequest([repeated("body", name) for name, count in counts.items() if count > 1])
    return fields


class FilePart(NamedTuple):
    """What a file part of a multipart body may be: its media types (`image/png`, `image/*`), and at most
    how many bytes (None: the body's limit is the part's)."""

    media_types: tuple[str, ...]
    max_bytes: int | None


class _Parts(dict[str, Any]):
    """A multipart body's parts by name: text as str, files as bytes (which the validator does not see)."""


def _media_type_admitted(media_type: str, admitted: tuple[str, ...]) -> bool:
    major = media_type.split("/", 1)[0]
    return any(media_type == one or (one.endswith("/*") and one[:-2] == major) for one in admitted)


async def read_multipart_body(request: Request, files: Mapping[str, FilePart]) -> dict[str, Any]:
    """The parts of a multipart/form-data body: 415 unless multipart, 400 unless it parses, 422 for a
    part given twice, a file where text belongs (or text where a file does), a file of a media type its
    part does not admit or larger than it admits. Parsing streams the body (within the request's limit):
    text parts are held in memory, files spooled by Starlette, then read once they passed."""
    media_type, params = _media_type(request)
    if media_type is None and not request.headers.get("content-length", "").strip("0"):
        raise InvalidRequest([{"type": "missing", "loc": ("body",), "msg": "A multipart body is required"}])
    if media_type != MULTIPART or not params.get("boundary"):
        raise UnsupportedMediaType(f"The body must be {MULTIPART} with a boundary, not {media_type or 'untyped'}.")
    try:
        form = await request.form(max_files=len(files), max_fields=_MAX_FORM_FIELDS)
    except (HTTPException, MultiPartException) as exc:
        reason = exc.detail if isinstance(exc, HTTPException) else exc.message
        raise MalformedBody(f"The body is not a valid multipart body: {reason}") from None
    try:
        errors: list[dict[str, Any]] = []
        parts = _Parts()
        counts = Counter(name for name, _ in form.multi_items())
        errors.extend(repeated("body", name) for name, count in counts.items() if count > 1)
        for name, value in form.multi_items():
            if counts[name] > 1:
                continue
            expected = files.get(name)
            if expected is None:
                if isinstance(value, str):
                    parts[name] = value
                else:
                    errors.append({"type": "text_part", "loc": ("body", name), "msg": "Should be text, not a file"})
                continue
            if isinstance(value, str):
                errors.append({"type": "file_part", "loc": ("body", name), "msg": "Should be a file part"})
                continue
            declared = (value.content_type or "").partition(";")[0].strip().lower()
            if not _media_type_admitted(declared, expected.media_types):
                message = f"Should be of media type {' or '.join(expected.media_types)}, not {declared or 'none'}"
                errors.append({"type": "media_type", "loc": ("body", name), "msg": message})
            elif expected.max_bytes is not None and (value.size or 0) > expected.max_bytes:
                message = f"Should have at most {expected.max_bytes} bytes"
                errors.append({"type": "too_long", "loc": ("body", name), "msg": message})
            else:
                parts[name] = await value.read()
        if errors:
            raise InvalidRequest(errors)
        return parts
    finally:
        await form.close()


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer <token>`; 401 with a `Bearer` challenge without one."""
    header = request.headers.get("authorization")
    if header is None:
        raise MissingCredentials("This operation needs a bearer token.")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MissingCredentials("The Authorization header must be `Bearer <token>`.", error="invalid_request")
    return token.strip()


def _violations(schema: SchemaValidator, instance: Any, *location: str | int) -> list[dict[str, Any]] | None:
    """`schema.violations()`; values no validator takes (a number too large to convert, a string with a lone
    surrogate) reported alone. None for a document nested more deeply than the validator converts (a few
    hundred levels, which no schema of ours admits): the model, as strict, is then the judge."""
    try:
        return schema.violations(instance, *location)
    except (ValueError, UnicodeEncodeError) as exc:
        found = _unconvertible(instance, location)
        if found:
            return found
        if isinstance(exc, ValueError) and "Recursion limit" in str(exc):
            return None
        raise


def _unconvertible(instance: Any, location: tuple[str | int, ...]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    pending: list[tuple[tuple[str | int, ...], Any]] = [(location, instance)]
    while pending:
        path, value = pending.pop()
        if value is _HUGE:
            found.append({"type": "number_too_large", "loc": path, "msg": "Is a number too large to convert"})
        elif isinstance(value, str) and not _is_unicode(value):
            found.append({"type": "string_unicode", "loc": path, "msg": "Is not valid Unicode (a lone surrogate)"})
        elif isinstance(value, dict):
            for name, member in value.items():
                if not _is_unicode(name):
                    found.append(
                        {"type": "string_unicode", "loc": path, "msg": "Has a member name that is not valid Unicode"}
                    )
                else:
                    pending.append(((*path, name), member))
        elif isinstance(value, list):
            pending.extend(((*path, index), item) for index, item in enumerate(value))
    return found


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def validate_body(model: type[ModelT], data: Any, schema: SchemaValidator) -> ModelT:
    """Validate a decoded body against the spec's schema, then convert it with its generated model."""
    seen = (
        {name: "" if isinstance(value, bytes) else value for name, value in data.items()}
        if type(data) is _Parts
        else data
    )
    errors = _violations(schema, seen, "body")
    if errors:
        raise InvalidRequest(errors)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(_located(exc, lambda loc: ("body", *loc))) from None


_INVALID = object()


def _parse_text(json_type: str, text: str) -> Any:
    if json_type == "integer":
        return _parse_int(text) if _INTEGER.fullmatch(text) else _INVALID
    if json_type == "number":
        return _parse_float(text) if _NUMBER.fullmatch(text) else _INVALID
    if json_type == "boolean":
        return _BOOLEANS.get(text, _INVALID)
    return text


def _parse_items(
    parser: str, texts: list[str], location: str, name: str, errors: list[dict[str, Any]]
) -> list[Any] | None:
    """An array parameter's items, each parsed per the items' JSON type; None, and an error for each item
    that does not parse, if any does not."""
    item_type = parser.split(":")[1]
    items = [_parse_text(item_type, text) for text in texts]
    invalid = [index for index, item in enumerate(items) if item is _INVALID]
    for index in invalid:
        message = f"Item {index} should be a valid {item_type}"
        errors.append({"type": f"{item_type}_parsing", "loc": (location, name, index), "msg": message})
    return None if invalid else items


def parse_parameters(
    model: type[ModelT], schema: SchemaValidator, raw: Iterable[tuple[str, str, str, str | list[str] | None]]
) -> ModelT:
    """Parse text parameters per their JSON type, validate them against the spec's schema of the
    operation's parameters, then convert them with the operation's model.

    `raw` holds (name, location, parser, text) for each declared parameter. The parser is the JSON type
    of a scalar, or `array:<item type>:multi` (an exploded query array: one pair per item) or
    `array:<item type>:csv` (items separated by commas). The text is None when absent, and for a query
    parameter every value the query string gives: a scalar or a comma-separated array given more than
    once is refused whatever its values.
    """
    values: dict[str, Any] = {}
    locations: dict[str, str] = {}
    errors: list[dict[str, Any]] = []
    for name, location, parser, given in raw:
        locations[name] = location
        if parser.endswith(":multi"):
            texts = given if isinstance(given, list) else [] if given is None else [given]
            parsed = _parse_items(parser, texts, location, name, errors) if texts else None
            if parsed is not None:
                values[name] = parsed
            continue
        if isinstance(given, list):
            if len(given) > 1:
                errors.append(repeated(location, name))
                continue
            given = given[0] if given else None
        if given is None:
            continue
        if parser.startswith("array:"):
            # A header's list may have spaces around its commas (RFC 9110, section 5.6.1).
            texts = [text.strip() if location == "header" else text for text in given.split(",")] if given else []
            parsed = _parse_items(parser, texts, location, name, errors)
            if parsed is not None:
                values[name] = parsed
            continue
        value = _parse_text(parser, given)
        if value is _INVALID:
            errors.append(
                {"type": f"{parser}_parsing", "loc": (location, name), "msg": f"Input should be a valid {parser}"}
            )
        else:
            values[name] = value
    unparsed = {error["loc"][1] for error in errors}
    violations = _violations(schema, values) or []
    errors.extend(
        {**error, "loc": (locations[str(error["loc"][0])], *error["loc"])}
        for error in violations
        if error["loc"][0] not in unparsed
    )
    if not errors:
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            errors = _located(exc, lambda loc: (locations[str(loc[0])], *loc))
    if any(error["loc"][0] == "header" for error in errors):
        raise MalformedHeader(errors)
    raise InvalidRequest(errors)


def header_parameter(request: Request, name: str) -> str | None:
    """A header parameter's value: None when absent; a field sent on several lines is one comma-separated
    list (RFC 9110, section 5.3), which the parameter's schema then admits or refuses."""
    values = request.headers.getlist(name)
    if not values:
        return None
    return values[0] if len(values) == 1 else ", ".join(values)


def _located(
    exc: ValidationError, locate: Callable[[tuple[int | str, ...]], tuple[int | str, ...]]
) -> list[dict[str, Any]]:
    return [
        {"type": error["type"], "loc": locate(tuple(error["loc"])), "msg": error["msg"]}
        for error in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
