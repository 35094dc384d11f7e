"""The generated request parsing: text parameters per the spec, strict bodies."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import MISSING, BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from taskapi import runtime
from taskapi.generated import models, server, validation

# The spec's schemas, as the generated glue validates against them (compiled on first use).
SCHEMAS = runtime.Validators(validation.DEFINITIONS)


def _locs(exc: pytest.ExceptionInfo[runtime.InvalidRequest]) -> list[tuple[Any, ...]]:
    return [tuple(error["loc"]) for error in exc.value.errors]


def test_parameters_are_parsed_from_text() -> None:
    params = runtime.parse_parameters(
        models.ListTasksParams,
        SCHEMAS["ListTasksParams"],
        [
            ("limit", "query", "integer", "7"),
            ("cursor", "query", "string", "12"),
            ("completed", "query", "boolean", "false"),
            ("priority", "query", "integer", None),
        ],
    )
    assert params.limit == 7
    assert params.cursor == "12"
    assert params.completed is False
    assert params.priority is MISSING


def test_absent_parameters_take_the_spec_default() -> None:
    params = runtime.parse_parameters(
        models.ListTasksParams, SCHEMAS["ListTasksParams"], [("limit", "query", "integer", None)]
    )
    assert params.limit == 20


@pytest.mark.parametrize(
    ("json_type", "text"), [("integer", "1.0"), ("integer", " 1"), ("integer", "0x1"), ("boolean", "TRUE")]
)
def test_text_that_is_not_the_declared_type_is_rejected(json_type: str, text: str) -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(
            models.ListTasksParams,
            SCHEMAS["ListTasksParams"],
            [("limit" if json_type == "integer" else "completed", "query", json_type, text)],
        )
    assert len(_locs(exc)) == 1


def test_missing_required_parameters_are_named() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(models.GetTaskParams, SCHEMAS["GetTaskParams"], [("task_id", "path", "integer", None)])
    assert _locs(exc) == [("path", "task_id")]


def test_bodies_are_strict() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, {"title": "t", "priority": "5"}, SCHEMAS["TaskCreate"])
    assert _locs(exc) == [("body", "priority")]


def test_min_properties_is_enforced() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskUpdate, {}, SCHEMAS["TaskUpdate"])
    assert _locs(exc) == [("body",)]
    assert runtime.validate_body(models.TaskUpdate, {"completed": True}, SCHEMAS["TaskUpdate"]).completed is True


def test_a_shape_renders_exactly_as_its_model() -> None:
    created = datetime(2026, 11, 26, 9, 30, 0, 123456, tzinfo=UTC)
    task: server.TaskDict = {
        "id": 7,
        "title": 'Renew "the" TLS certificate \u00e9',
        "description": None,
        "priority": 4,
        "completed": False,
        "created_at": created,
        "updated_at": created,
    }
    page: server.TaskPageDict = {"items": [task, {**task, "id": 8, "description": "d"}], "next_cursor": "8"}
    model = models.TaskPage.model_validate(page)
    rendered = bytes(runtime.json_response(page, 200).body)
    assert rendered == bytes(runtime.json_response(model, 200).body)
    assert json.loads(rendered)["items"][0]["created_at"] == "2026-11-26T09:30:00.123456Z"


async def _ok(request: Request) -> Response:
    return Response(f"{request.scope[runtime.OPERATION_ID]} {dict(request.path_params)}")


async def _fails(request: Request) -> Response:
    raise runtime.MalformedBody("broken")


OPS = [
    runtime.OperationInfo("listThings", "GET", "/things", "things", "list_things"),
    runtime.OperationInfo("addThing", "POST", "/things", "things", "add_thing"),
    runtime.OperationInfo("getThing", "GET", "/things/{thing_id}", "things", "get_thing"),
    runtime.OperationInfo("getMine", "GET", "/things/mine", "things", "get_mine"),
]


class Served:
    """What one request produced: the messages sent, and whether the app behind dispatch saw it."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.fell_through: list[str] = []
        self.errors: list[Exception] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.fell_through.append(scope["path"])

    async def on_error(self, request: Request, exc: Exception) -> Response:
        self.errors.append(exc)
        headers = exc.headers if isinstance(exc, runtime.HttpError) else None
        return Response(type(exc).__name__, status_code=getattr(exc, "status", 500), headers=headers)

    async def send(self, message: Any) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.messages[1:])


def serve(
    method: str, path: str, root_path: str = "", *, endpoint: runtime.Endpoint = _ok
) -> tuple[Served, dict[str, Any]]:
    served = Served()
    dispatch = runtime.Dispatch(
        served.app, operations=[runtime.BoundOperation(info, endpoint) for info in OPS], on_error=served.on_error
    )
    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}
    asyncio.run(dispatch(scope, _no_receive, served.send))
    return served, scope


def test_an_operation_is_matched_by_path_and_method_and_runs_its_endpoint() -> None:
    served, scope = serve("GET", "/things/7")
    assert (served.status, served.body) == (200, b"getThing {'thing_id': '7'}")
    assert (scope[runtime.OPERATION_ID], scope[runtime.ROUTE_TEMPLATE]) == ("getThing", "/things/{thing_id}")
    assert served.fell_through == []


def test_a_literal_path_wins_over_a_template_that_also_matches() -> None:
    assert serve("GET", "/things/mine")[0].body == b"getMine {}"


def test_head_is_served_by_get() -> None:
    assert serve("HEAD", "/things")[0].body == b"listThings {}"


@pytest.mark.parametrize("path", ["/", "/things/", "/things/7/extra", "/thing", "/docs"])
def test_other_paths_go_on_to_the_app(path: str) -> None:
    served, scope = serve("GET", path)
    assert served.fell_through == [path]
    assert served.messages == []
    assert runtime.OPERATION_ID not in scope


def test_another_method_on_a_path_of_the_spec_is_405_with_allow() -> None:
    served, scope = serve("DELETE", "/things")
    assert served.status == 405
    assert [type(exc) for exc in served.errors] == [runtime.MethodNotAllowed]
    assert dict(served.messages[0]["headers"])[b"allow"] == b"GET, HEAD, POST"
    assert scope[runtime.ROUTE_TEMPLATE] == "/things"
    assert runtime.OPERATION_ID not in scope


def test_what_an_endpoint_raises_goes_to_the_error_renderer() -> None:
    served, scope = serve("GET", "/things/7", endpoint=_fails)
    assert (served.status, served.body) == (400, b"MalformedBody")
    assert scope[runtime.OPERATION_ID] == "getThing"


@pytest.mark.parametrize(
    ("path", "root_path", "expected"),
    [
        ("/api/things/7", "/api", "/things/7"),
        ("/api", "/api", ""),
        ("/apis/things/7", "/api", "/apis/things/7"),  # not below the prefix
        ("/things/7", "", "/things/7"),
    ],
)
def test_paths_are_matched_below_the_root_path(path: str, root_path: str, expected: str) -> None:
    scope = {"type": "http", "path": path, "root_path": root_path}
    assert runtime.route_path(scope) == expected
    served, _ = serve("GET", path, root_path)
    assert (served.fell_through == []) == (expected == "/things/7")


def test_other_kinds_of_scope_go_on_to_the_app() -> None:
    served = Served()
    dispatch = runtime.Dispatch(served.app, operations=[runtime.BoundOperation(OPS[0], _ok)], on_error=served.on_error)
    asyncio.run(dispatch({"type": "lifespan", "path": "/things"}, _no_receive, served.send))
    assert served.fell_through == ["/things"]


def test_an_operation_bound_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="GET /things is bound twice"):
        runtime.Dispatch(Served().app, operations=[runtime.BoundOperation(OPS[0], _ok)] * 2, on_error=_render)


async def _render(request: Request, exc: Exception) -> Response:
    raise AssertionError("not called")


@pytest.mark.parametrize(
    ("root_path", "reference", "sent"),
    [
        ("", "/tasks/1", "/tasks/1"),
        ("/api", "/tasks/1", "/api/tasks/1"),
        ("/api/", "/tasks/1", "/api/tasks/1"),
        ("/api", "https://example.com/x", "https://example.com/x"),
        ("/api", "//cdn.example/x", "//cdn.example/x"),
        ("/api", "tasks/1", "tasks/1"),
    ],
)
def test_absolute_paths_go_under_the_root_path(root_path: str, reference: str, sent: str) -> None:
    assert runtime.under_root(root_path, reference) == sent


async def _no_receive() -> Any:
    raise AssertionError("nothing to receive")


def _body_request(body: bytes, content_type: str) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-type", content_type.encode())]
    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}, receive)


def _refusal(read: Any) -> list[dict[str, Any]]:
    with pytest.raises(runtime.InvalidRequest) as exc:
        asyncio.run(read)
    return exc.value.errors


REPEATED = {"type": "repeated", "msg": "Appears more than once"}


def test_a_json_member_given_twice_is_refused_naming_it_wherever_it_is() -> None:
    body = b'{"title": "a", "tags": [{"x": 1, "x": 2}], "title": "b", "priority": 1, "priority": 2}'
    errors = _refusal(runtime.read_json_body(_body_request(body, "application/json")))
    assert errors == [
        {**REPEATED, "loc": ("body", "title")},
        {**REPEATED, "loc": ("body", "priority")},
        {**REPEATED, "loc": ("body", "tags", 0, "x")},
    ]
    nested = b'{"a": {"b": {"c": [1, {"d": null, "d": null}]}}}'
    assert _refusal(runtime.read_json_body(_body_request(nested, "application/json"))) == [
        {**REPEATED, "loc": ("body", "a", "b", "c", 1, "d")}
    ]
    assert asyncio.run(runtime.read_json_body(_body_request(b'{"a": {"a": {"a": 1}}}', "application/json"))) == {
        "a": {"a": {"a": 1}}
    }


def test_a_form_field_given_twice_is_refused_once_naming_it() -> None:
    form = b"username=a&password=b&username=a&username=c"
    errors = _refusal(runtime.read_form_body(_body_request(form, "application/x-www-form-urlencoded")))
    assert errors == [{**REPEATED, "loc": ("body", "username")}]


@pytest.mark.parametrize("given", [["abc", "2"], ["2", "2"], ["2", "3", "4"]])
def test_a_query_parameter_given_twice_is_refused_naming_it(given: list[str]) -> None:
    raw = [("limit", "query", "integer", given), ("completed", "query", "boolean", [])]
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(models.ListTasksParams, SCHEMAS["ListTasksParams"], raw)
    assert exc.value.errors == [{**REPEATED, "loc": ("query", "limit")}]


def test_a_query_parameter_given_once_or_not_at_all_is_parsed() -> None:
    raw: list[tuple[str, str, str, str | list[str] | None]] = [
        ("limit", "query", "integer", ["2"]),
        ("completed", "query", "boolean", []),
    ]
    params = runtime.parse_parameters(models.ListTasksParams, SCHEMAS["ListTasksParams"], raw)
    assert params.limit == 2
    assert params.completed is MISSING


@pytest.mark.parametrize(
    "number", ["1.5e99999999999999999999", "1e-99999999999999999999999", "9" * 5000, "1e401", "-1e999999999"]
)
def test_numbers_too_large_to_convert_reach_the_model_as_invalid(number: str) -> None:
    body = b'{"title": "t", "priority": %s}' % number.encode()
    data = asyncio.run(runtime.read_json_body(_body_request(body, "application/json")))
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, data, SCHEMAS["TaskCreate"])
    assert _locs(exc) == [("body", "priority")]


def test_conditional_writes_are_built_for_few_list_lengths() -> None:
    # A client may send any number of ETags in If-Match: statements are built per count rounded up to a
    # power of two, so counts 1..64 make seven of them, not sixty-four (each costs compiling and memory).
    from taskapi.storage import tasks as task_queries

    counts = {task_queries._conditions(range(1, n + 1))[0] for n in range(1, 65)}
    assert counts == {1, 2, 4, 8, 16, 32, 64}
    count, params = task_queries._conditions([5, 7, 5, 9])
    assert (count, list(params.values())) == (4, [5, 7, 9, 9])  # distinct, padded with the last
    assert task_queries._conditions([0, 2**40]) == (0, {})  # no task can be at these: nothing to bind
    assert task_queries._conditions(None) == (None, {})


def test_what_the_schema_admits_and_the_model_refuses_is_still_refused() -> None:
    # Never expected of generated code (the models follow the schemas); were they to disagree, the stricter wins.
    lenient = runtime.Validators({"Anything": {"type": "object"}})["Anything"]
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, {"priority": 3}, lenient)
    assert _locs(exc) == [("body", "title")]
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(models.GetTaskParams, lenient, [("task_id", "path", "integer", "0")])
    assert _locs(exc) == [("path", "task_id")]


def test_a_validator_failure_that_is_no_large_number_is_not_hidden() -> None:
    with pytest.raises(ValueError, match="Unsupported type"):
        runtime.validate_body(models.TaskCreate, {"title": object()}, SCHEMAS["TaskCreate"])


def test_text_no_validator_takes_is_refused_where_it_is() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, {"title": "\ud800", "description": "ok"}, SCHEMAS["TaskCreate"])
    assert exc.value.errors == [
        {"type": "string_unicode", "loc": ("body", "title"), "msg": "Is not valid Unicode (a lone surrogate)"}
    ]
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, {"title": "t", "\udc00": 1}, SCHEMAS["TaskCreate"])
    assert _locs(exc) == [("body",)]


def test_a_document_nested_past_the_validator_is_judged_by_the_model() -> None:
    data = asyncio.run(
        runtime.read_json_body(
            _body_request(b'{"title": "t", "priority": ' + b"[" * 500 + b"]" * 500 + b"}", "application/json")
        )
    )
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.validate_body(models.TaskCreate, data, SCHEMAS["TaskCreate"])
    assert _locs(exc) == [("body", "priority")]


class ArrayParams(BaseModel):
    tag: list[str] | None = None
    ids: list[int] | None = None


ARRAY_SCHEMA = runtime.Validators(
    {
        "ArrayParams": {
            "type": "object",
            "properties": {
                "tag": {"type": "array", "items": {"type": "string"}},
                "ids": {"type": "array", "items": {"type": "integer"}, "minItems": 1},
            },
        }
    }
)["ArrayParams"]


@pytest.mark.parametrize(
    ("tag", "ids", "parsed"),
    [
        (["a", "b"], "1,2", (["a", "b"], [1, 2])),
        ([], None, (None, None)),
        (["a,b"], "7", (["a,b"], [7])),  # exploded items keep their commas
    ],
)
def test_array_parameters_are_parsed_per_their_style(tag: list[str], ids: str | None, parsed: tuple[Any, Any]) -> None:
    raw = [("tag", "query", "array:string:multi", tag), ("ids", "query", "array:integer:csv", ids)]
    params = runtime.parse_parameters(ArrayParams, ARRAY_SCHEMA, raw)
    assert (params.tag, params.ids) == parsed


def test_array_items_that_do_not_parse_are_named_and_the_schema_still_applies() -> None:
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(ArrayParams, ARRAY_SCHEMA, [("ids", "query", "array:integer:csv", "1,x,3,y")])
    assert _locs(exc) == [("query", "ids", 1), ("query", "ids", 3)]
    with pytest.raises(runtime.InvalidRequest) as exc:
        runtime.parse_parameters(ArrayParams, ARRAY_SCHEMA, [("ids", "query", "array:integer:csv", "")])
    assert [(e["loc"], e["type"]) for e in exc.value.errors] == [(("query", "ids"), "minItems")]


class _Member(BaseModel):
    name: str
    secret: str | None = None


class _Team(BaseModel):
    lead: _Member
    members: list[_Member]
    secret: str


@pytest.mark.parametrize("as_dict", [False, True])
def test_write_only_properties_are_never_sent(as_dict: bool) -> None:
    team = _Team(lead=_Member(name="a", secret="s1"), members=[_Member(name="b", secret="s2")], secret="s0")
    body: Any = team.model_dump() if as_dict else team
    paths = (("secret",), ("lead", "secret"), ("members", "*", "secret"), ("absent", "x"))
    response = runtime.json_response(body, 200, write_only=paths)
    assert json.loads(bytes(response.body)) == {"lead": {"name": "a"}, "members": [{"name": "b"}]}
    assert team.secret == "s0" and team.lead.secret == "s1"  # the handler's value is left alone


def test_a_cookie_parameter_is_validated_and_located_in_the_cookie() -> None:
    schema = runtime.Validators(
        {"P": {"type": "object", "properties": {"s": {"type": "string", "pattern": "^[a-z]{3}$"}}}}
    )["P"]

    class P(BaseModel):
        s: str | None = None

    assert runtime.parse_parameters(P, schema, [("s", "cookie", "string", "abc")]).s == "abc"
    with pytest.raises(runtime.InvalidRequest) as refused:
        runtime.parse_parameters(P, schema, [("s", "cookie", "string", "ABC")])
    assert [error["loc"] for error in refused.value.errors] == [("cookie", "s")]
