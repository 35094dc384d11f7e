"""The construct catalogue and, for each construct, requests the lab's spec admits and requests it refuses.

A case is a request to the lab's server (tests/lab/openapi.yaml); an accepted one must be answered 2xx with
the value echoed, a refused one 4xx naming where the violation is: (location, pointer or parameter)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What codegen takes (README, "What codegen takes, and what it refuses"), by the names the lab's
# operations list in `x-lab-constructs`. Every name here is exercised by a case below, in both directions.
CATALOGUE = (
    # string formats
    "date-time", "date", "time", "uuid", "email", "uri", "ipv4", "ipv6",
    # values
    "enum", "const", "multipleOf", "exclusive-bounds", "integer-formats", "type-list", "nullable",
    # arrays
    "minItems", "maxItems", "uniqueItems", "item-constraints", "prefixItems",
    # objects
    "nested-objects", "map", "minProperties", "maxProperties", "ref-with-siblings",
    # composition
    "oneOf-discriminator", "oneOf", "anyOf", "allOf", "unevaluatedProperties",
    # parameters
    "query-array-exploded", "query-array-csv", "query-formats", "query-default", "header-pattern",
    "header-integer", "cookie", "path-uuid", "path-date", "kebab-case-operationId",
    "path-item-parameters",
    # bodies and directions
    "form-encoded", "readOnly", "writeOnly", "links",
    # responses that are no JSON
    "image-response", "octet-stream-response", "response-headers",
    "multipart-file",
    # bodies written inline (the real-world specs' way)
    "inline-request-body", "inline-allOf-response",
)  # fmt: skip

PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)
UUID = "0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a"
AT = "2026-12-07T09:30:00Z"


@dataclass(frozen=True)
class Request:
    """One request: the method and path, and a JSON body, a form, query parameters, headers or cookies."""

    method: str
    path: str
    json: Any = None
    form: dict[str, str] | None = None
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str | None, bytes, str | None]] = field(default_factory=dict)
    """Multipart file parts: name -> (file name, content, media type); `form` then holds the text parts."""


@dataclass(frozen=True)
class Refused:
    request: Request
    where: tuple[str, str]
    """(location, pointer) for the body, (location, parameter) for a parameter."""
    status: int = 422


@dataclass(frozen=True)
class Construct:
    name: str
    accepted: tuple[Request, ...]
    refused: tuple[Refused, ...]


def _body(path: str, base: dict[str, Any] | None = None) -> Any:
    def make(**values: Any) -> Request:
        return Request("POST", path, json={**(base or {}), **values})

    return make


formats = _body("/formats", {"at": AT})
numbers = _body("/numbers")
types = _body("/type-lists")
arrays = _body("/arrays")
objects = _body("/objects")
compositions = _body("/compositions")


def body_refusal(request: Request, pointer: str) -> Refused:
    return Refused(request, ("body", pointer))


def search(query: str = "", headers: dict[str, str] | None = None, cookies: dict[str, str] | None = None) -> Request:
    return Request("GET", "/search", query=query, headers=headers or {}, cookies=cookies or {})


def upload(picture: tuple[str, bytes, str] | None = ("a.png", PNG, "image/png"), **text: str) -> Request:
    # Without a picture, a text part goes as a file-less part: still a multipart body.
    files: dict[str, tuple[str | None, bytes, str | None]] = (
        {"picture": picture} if picture else {"note": (None, b"no picture", None)}
    )
    return Request("POST", "/uploads", form={"title": "holiday", **text}, files=files)


def booking(**values: Any) -> Request:
    return Request("POST", "/bookings", json={"trip_id": UUID, "passenger_name": "Grace", **values})


def account(**values: Any) -> Request:
    return Request("POST", "/accounts", json={"username": "ada_l", "password": "correct horse", **values})


# Neither a string of at most 8 characters nor an integer of at least 0.
NOT_A_CODE: tuple[Any, ...] = (1.5, -1, "abcdefghi", True, None, [])


def _format(name: str, good: list[Any], bad: list[Any]) -> Construct:
    key = {"date-time": "at", "date": "on"}.get(name, name.replace("-", "_"))
    return Construct(
        name,
        tuple(formats(**{key: value}) for value in good),
        tuple(body_refusal(formats(**{key: value}), f"/{key}") for value in bad),
    )


CASES: tuple[Construct, ...] = (
    _format(
        "date-time",
        ["2026-12-07T09:30:00+01:00", "2026-12-07T09:30:00.123Z", "2026-12-07t09:30:00z"],
        [0, 1767225600, "1767225600", "2026-12-07T09:30:00", "2026-12-07", "2026-12-07 09:30:00Z", None],
    ),
    _format("date", ["2026-12-07", "2024-02-29"], ["2026-12-07T00:00:00Z", "2026-13-01", "2026-02-29", 20261207]),
    _format("time", ["09:30:00Z", "23:59:59.5+01:00"], ["09:30", "09:30:00", "25:00:00Z", 930]),
    Construct(
        "uuid",
        (formats(id=UUID), formats(id=UUID.upper())),
        tuple(
            body_refusal(formats(id=value), "/id")
            for value in (UUID.replace("-", ""), "{" + UUID + "}", "urn:uuid:" + UUID, UUID[:-1], 1)
        ),
    ),
    _format("email", ["ada@example.com", "a.b+c@sub.example.org"], ["ada@", "ada", "@example.com", 5]),
    Construct(
        "uri",
        (formats(homepage="https://example.com/a?b=c#d"), formats(homepage="urn:isbn:0451450523")),
        tuple(body_refusal(formats(homepage=value), "/homepage") for value in ("/relative/path", "not a uri", 7)),
    ),
    _format("ipv4", ["192.0.2.1", "10.0.0.1"], ["256.1.1.1", "192.0.2", "192.0.2.1/24", 3221225985]),
    _format("ipv6", ["2001:db8::1", "::1"], ["2001:db8::g", "192.0.2.1", "2001:db8:::1", 1]),
    Construct(
        "enum",
        (numbers(status="open"), numbers(status="closed")),
        tuple(body_refusal(numbers(status=value), "/status") for value in ("pending", "OPEN", None, 1)),
    ),
    Construct(
        "const",
        (numbers(version=2), numbers(version=2.0)),
        tuple(body_refusal(numbers(version=value), "/version") for value in (3, "2", None)),
    ),
    Construct(
        "multipleOf",
        (numbers(step=0.75), numbers(step=1), numbers(step=-2.5)),
        tuple(body_refusal(numbers(step=value), "/step") for value in (0.3, 0.1, "0.5")),
    ),
    Construct(
        "exclusive-bounds",
        (numbers(ratio=0.5), numbers(ratio=0.001), numbers(ratio=0.999)),
        tuple(body_refusal(numbers(ratio=value), "/ratio") for value in (0, 1, -0.1, 1.5)),
    ),
    Construct(
        "integer-formats",
        (numbers(count=0), numbers(count=5.0), numbers(count=2**31 - 1), numbers(total=2**63 - 1)),
        (
            *(body_refusal(numbers(count=value), "/count") for value in (2**31, -1, 1.5, "5", True)),
            body_refusal(numbers(total=2**63), "/total"),
        ),
    ),
    Construct(
        "type-list",
        (types(code="abc"), types(code=7), types(code=0)),
        tuple(body_refusal(types(code=value), "/code") for value in NOT_A_CODE),
    ),
    Construct(
        "nullable",
        (types(note="x"), types(note=None)),
        tuple(body_refusal(types(note=value), "/note") for value in (5, "x" * 21, False)),
    ),
    Construct(
        "minItems",
        (arrays(colors=["red"]),),
        (body_refusal(arrays(colors=[]), "/colors"), body_refusal(arrays(point=[1]), "/point")),
    ),
    Construct(
        "maxItems",
        (arrays(colors=["red", "green", "blue"]),),
        (body_refusal(arrays(colors=["red", "green", "blue", "red"]), "/colors"),),
    ),
    Construct(
        "uniqueItems",
        (arrays(colors=["blue", "red"]),),
        (body_refusal(arrays(colors=["red", "red"]), "/colors"),),
    ),
    Construct(
        "item-constraints",
        (arrays(scores=[0, 10, 5]), arrays(scores=[])),
        (
            body_refusal(arrays(scores=[1, 11]), "/scores/1"),
            body_refusal(arrays(scores=["1"]), "/scores/0"),
            body_refusal(arrays(colors=["pink"]), "/colors/0"),
        ),
    ),
    Construct(
        "prefixItems",
        (arrays(point=[45.5, -120]), arrays(point=[-90, 180])),
        (
            body_refusal(arrays(point=[91, 0]), "/point/0"),
            body_refusal(arrays(point=[0, 181]), "/point/1"),
            body_refusal(arrays(point=[1, 2, 3]), "/point/2"),
            body_refusal(arrays(point=["1", 2]), "/point/0"),
        ),
    ),
    Construct(
        "nested-objects",
        (objects(outer={"middle": {"inner": {"leaf": 1}}}),),
        (
            body_refusal(objects(outer={"middle": {"inner": {"leaf": 0}}}), "/outer/middle/inner/leaf"),
            body_refusal(objects(outer={"middle": {"inner": {}}}), "/outer/middle/inner/leaf"),
            body_refusal(objects(outer={"middle": {"inner": {"leaf": 1, "x": 1}}}), "/outer/middle/inner/x"),
        ),
    ),
    Construct(
        "map",
        (objects(labels={"a": "x"}), objects(labels={"any key": "0123456789", "b": ""})),
        (
            body_refusal(objects(labels={"a": "x" * 11}), "/labels/a"),
            body_refusal(objects(labels={"a": 1}), "/labels/a"),
        ),
    ),
    Construct("minProperties", (objects(labels={"a": "x"}),), (body_refusal(objects(labels={}), "/labels"),)),
    Construct(
        "maxProperties",
        (objects(labels={"a": "", "b": "", "c": ""}),),
        (body_refusal(objects(labels={"a": "", "b": "", "c": "", "d": ""}), "/labels"),),
    ),
    Construct(
        "ref-with-siblings",
        (objects(outer={"middle": {"inner": {"leaf": 2}}}),),
        (body_refusal(objects(outer=[]), "/outer"), body_refusal(objects(outer={}), "/outer/middle")),
    ),
    Construct(
        "oneOf-discriminator",
        (compositions(shape={"kind": "circle", "radius": 1.5}), compositions(shape={"kind": "square", "side": 2})),
        (
            body_refusal(compositions(shape={"kind": "circle", "radius": 0}), "/shape/radius"),
            body_refusal(compositions(shape={"kind": "square"}), "/shape/side"),
            body_refusal(compositions(shape={"kind": "hexagon", "side": 1}), "/shape/kind"),
            body_refusal(compositions(shape={"side": 1}), "/shape/kind"),
        ),
    ),
    Construct(
        "oneOf",
        (compositions(amount=5), compositions(amount="5.00"), compositions(amount=5.0)),
        tuple(body_refusal(compositions(amount=value), "/amount") for value in (-1, "5", 5.5, None)),
    ),
    Construct(
        "anyOf",
        (compositions(contact="ada@example.com"), compositions(contact=UUID)),
        tuple(body_refusal(compositions(contact=value), "/contact") for value in ("nobody", 5)),
    ),
    Construct(
        "allOf",
        (compositions(named={"name": "a", "rank": 1}),),
        (
            body_refusal(compositions(named={"name": "a"}), "/named/rank"),
            body_refusal(compositions(named={"name": "", "rank": 1}), "/named/name"),
        ),
    ),
    Construct(
        "unevaluatedProperties",
        (
            compositions(source={"number": "4111111111111111", "cvc": "123"}),
            compositions(source={"iban": "DE89370400440532013000"}),
            compositions(source={"object": "card", "number": "4111111111111111", "cvc": "1234"}),
        ),
        (
            body_refusal(compositions(source={"number": "4111111111111111", "cvc": "123", "x": 1}), "/source/x"),
            body_refusal(
                compositions(source={"number": "4111111111111111", "cvc": "123", "iban": "x"}), "/source/iban"
            ),
            body_refusal(compositions(source={"number": "41", "cvc": "123"}), "/source"),
            body_refusal(compositions(source={"object": "card", "iban": "DE89370400440532013000"}), "/source"),
            body_refusal(compositions(source={}), "/source"),
        ),
    ),
    Construct(
        "query-array-exploded",
        (search("tag=red&tag=blue"), search("tag=green")),
        tuple(Refused(search(q), ("query", "tag")) for q in ("tag=red&tag=red", "tag=pink", "tag=r&tag=g&tag=b&tag=x")),
    ),
    Construct(
        "query-array-csv",
        (search("ids=1,2,1000"), search("ids=7")),
        tuple(Refused(search(q), ("query", "ids")) for q in ("ids=0", "ids=1,x", "ids=", "ids=1&ids=2", "ids=1001")),
    ),
    Construct(
        "query-formats",
        (search("since=2026-12-07"),),
        tuple(Refused(search(q), ("query", "since")) for q in ("since=0", "since=2026-12-07T00:00:00Z", "since=x")),
    ),
    Construct(
        "query-default",
        (search(""), search("limit=50&order=desc")),
        tuple(
            Refused(search(q), ("query", q.split("=")[0]))
            for q in ("limit=0", "limit=51", "limit=1.5", "limit=5.0", "order=up")  # a text integer is digits
        ),
    ),
    Construct(
        "header-pattern",
        (search(headers={"X-Trace": "0123abcd"}),),
        tuple(
            Refused(search(headers={"X-Trace": value}), ("header", "X-Trace"), 400)
            for value in ("XYZ", "0123abcd0", "0123ABCD", "")
        ),
    ),
    Construct(
        "header-integer",
        (search(headers={"X-Version": "2"}),),
        tuple(
            Refused(search(headers={"X-Version": value}), ("header", "X-Version"), 400) for value in ("two", "4", "1.5")
        ),
    ),
    Construct(
        "cookie",
        (search(cookies={"session": "abcdefgh12"}), search(cookies={"other": "x"})),
        tuple(Refused(search(cookies={"session": value}), ("cookie", "session")) for value in ("short", "has-dash1")),
    ),
    Construct(
        "path-uuid",
        (Request("GET", f"/events/{UUID}/days/2026-12-07"),),
        tuple(
            Refused(Request("GET", f"/events/{value}/days/2026-12-07"), ("path", "eventId"))
            for value in (UUID.replace("-", ""), "1", "x" * 36)
        ),
    ),
    Construct(
        "path-date",
        (Request("GET", f"/events/{UUID}/days/2024-02-29"),),
        tuple(
            Refused(Request("GET", f"/events/{UUID}/days/{value}"), ("path", "day"))
            for value in ("2026-13-45", "tomorrow", "20261207")
        ),
    ),
    Construct(
        "form-encoded",
        (
            Request("POST", "/forms", form={"name": "ada", "color": "red"}),
            Request("POST", "/forms", form={"name": "b"}),
        ),
        (
            Refused(Request("POST", "/forms", form={"name": "Ada"}), ("body", "/name")),
            Refused(Request("POST", "/forms", form={"name": "ada", "color": "pink"}), ("body", "/color")),
            Refused(Request("POST", "/forms", form={"color": "red"}), ("body", "/name")),
        ),
    ),
    Construct(
        "readOnly",
        (account(),),
        (
            body_refusal(account(id=UUID), "/id"),
            body_refusal(account(created_at=AT), "/created_at"),
        ),
    ),
    Construct(
        "writeOnly",
        (account(password="12345678"),),
        (body_refusal(account(password="short"), "/password"), body_refusal(account(password=None), "/password")),
    ),
    Construct(
        "links",
        (account(username="linked"),),
        (body_refusal(account(username="Linked"), "/username"),),
    ),
    Construct(
        "image-response",
        (Request("GET", f"/images/{UUID}"),),
        (Refused(Request("GET", "/images/42"), ("path", "imageId")),),
    ),
    Construct(
        "octet-stream-response",
        (Request("GET", "/exports/2026-12-07"),),
        (Refused(Request("GET", "/exports/2026-12-7"), ("path", "day")),),
    ),
    Construct(
        "inline-request-body",
        (booking(), booking(has_bicycle=True)),
        (
            body_refusal(booking(trip_id="x"), "/trip_id"),
            body_refusal(booking(passenger_name=""), "/passenger_name"),
            body_refusal(booking(has_dog=True), "/has_dog"),
        ),
    ),
    Construct(
        "inline-allOf-response",
        (booking(passenger_name="Ada Lovelace"),),
        (body_refusal(booking(has_bicycle="yes"), "/has_bicycle"),),
    ),
    Construct(
        "multipart-file",
        (upload(), upload(("b.gif", b"GIF89a", "image/gif"), note="n"), upload(("c.png", bytes(4096), "image/png"))),
        (
            body_refusal(upload(("a.jpg", b"\xff\xd8", "image/jpeg")), "/picture"),
            body_refusal(upload(("big.png", bytes(4097), "image/png")), "/picture"),
            body_refusal(upload(None), "/picture"),
            body_refusal(upload(title=""), "/title"),
            body_refusal(upload(other="x"), "/other"),
            body_refusal(
                Request("POST", "/uploads", form={"title": "t"}, files={"picture": (None, b"x", None)}), "/picture"
            ),
        ),
    ),
    Construct(
        "kebab-case-operationId",
        (Request("GET", f"/events/{UUID}/days/2026-01-31"),),
        (Refused(Request("GET", f"/events/{UUID}/days/2026-01-32"), ("path", "day")),),
    ),
    Construct(
        "response-headers",
        (Request("GET", f"/images/{UUID}"),),
        (Refused(Request("GET", f"/images/{UUID[:-1]}g"), ("path", "imageId")),),
    ),
    Construct(
        "path-item-parameters",
        (Request("GET", f"/events/{UUID}/days/2026-12-31"),),
        (Refused(Request("GET", "/events/not-a-uuid/days/2026-12-31"), ("path", "eventId")),),
    ),
)
