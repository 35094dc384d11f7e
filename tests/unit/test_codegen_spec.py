"""codegen refuses specs whose rules the generated server would silently drop."""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from codegen.spec import Spec, SpecError, class_prefix, load, load_document, parse_yaml, snake_case

from taskapi.runtime.validation import Validators
from tests.conftest import ROOT
from tests.lab.app import SPEC as LAB_SPEC

Mutation = Callable[[dict[str, Any]], object]
MutatedSpec = Callable[[Mutation], Path]


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    """openapi.yaml, parsed once for the module; a test mutates a deep copy of it."""
    parsed: dict[str, Any] = parse_yaml((ROOT / "openapi.yaml").read_text(encoding="utf-8"))
    return parsed


@pytest.fixture(scope="module")
def contract() -> Spec:
    """The real spec, loaded once for the tests that only read it."""
    return load(ROOT / "openapi.yaml")


@pytest.fixture
def mutated_spec(tmp_path: Path, document: dict[str, Any]) -> MutatedSpec:
    """Writes openapi.yaml changed by a mutation to the test's directory, for `load` to read."""

    def write(mutate: Mutation) -> Path:
        changed = copy.deepcopy(document)
        mutate(changed)
        path = tmp_path / "openapi.yaml"
        path.write_text(yaml.dump(changed, Dumper=yaml.CSafeDumper), encoding="utf-8")
        return path

    return write


METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def test_the_real_spec_loads(contract: Spec, document: dict[str, Any]) -> None:
    # Every operation of the document, in document order (path by path, methods in codegen's order).
    assert [op.operation_id for op in contract.operations] == [
        item[method]["operationId"] for item in document["paths"].values() for method in METHODS if method in item
    ]
    create = next(op for op in contract.operations if op.operation_id == "createTask")
    assert create.body_model == "TaskCreate"
    assert [h.name for h in create.responses[0].headers] == ["Location", "ETag", "Idempotent-Replayed"]
    assert [p.name for p in create.parameters] == ["Idempotency-Key"]
    get = next(op for op in contract.operations if op.operation_id == "getTask")
    assert [r.status for r in get.responses] == [200, 304]
    assert 400 in get.error_statuses
    assert create.security == ("bearerAuth", "passwordGrant")
    token = next(op for op in contract.operations if op.operation_id == "createToken")
    assert token.security == ()
    assert token.body_media_type == "application/x-www-form-urlencoded"


def test_every_declared_response_and_header_is_in_the_model(contract: Spec) -> None:
    """What the contract coverage report compares a run with: every status, with every header of its
    response (middleware's included), and the request headers (header parameters, Authorization)."""
    operations = {op.operation_id: op for op in contract.operations}
    create = operations["createTask"]
    declared = {response.status: response.headers for response in create.declared_responses}
    assert list(declared)[:2] == [201, 400]  # document order
    assert set(declared) == {r.status for r in create.responses} | set(create.error_statuses)
    assert declared[201] == (
        "X-Request-ID", "X-Content-Type-Options", "Cache-Control", "RateLimit-Policy", "RateLimit",
        "Location", "ETag", "Idempotent-Replayed",
    )  # fmt: skip
    assert "WWW-Authenticate" in declared[401]
    assert "Retry-After" in declared[503]
    assert create.request_headers == ("Idempotency-Key", "Authorization")
    assert operations["getTask"].request_headers == ("If-None-Match", "Authorization")
    assert operations["createToken"].request_headers == ()


def test_an_unenforceable_keyword_is_refused(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Title"]["contentSchema"] = {"type": "string"}

    with pytest.raises(SpecError, match=r"#/components/schemas/Title: .*cannot enforce contentSchema"):
        load(mutated_spec(mutate))


def test_every_refusal_is_reported_in_one_run_with_its_pointer(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Title"]["if"] = {"const": "x"}
        doc["components"]["schemas"]["TaskPage"]["properties"]["items"]["items"] = {"$dynamicRef": "#x"}
        doc["paths"]["/healthz"]["get"]["parameters"] = [{"name": "s", "in": "querystring", "schema": {}}]
        doc["paths"]["/tasks"]["get"]["parameters"].append(
            {"name": "q", "in": "query", "schema": {"type": "string", "contentSchema": {}}}
        )

    with pytest.raises(SpecError) as refused:
        load(mutated_spec(mutate))
    problems = refused.value.problems
    assert len(problems) == 4, problems
    assert "#/components/schemas/Title: the generated server cannot enforce if;" in "\n".join(problems)
    assert "#/components/schemas/TaskPage/properties/items/items: the generated server cannot enforce $dynamicRef;" in (
        "\n".join(problems)
    )
    assert any(p.startswith("#/paths/~1tasks/get/parameters/") and "contentSchema" in p for p in problems)
    assert "#/paths/~1healthz/get/parameters/0: parameter s is in querystring" in "\n".join(problems)


@pytest.mark.parametrize("keyword", [("uniqueItems", True), ("not", {"const": "x"}), ("minProperties", 1)])
def test_keywords_that_only_constrain_are_enforced_by_the_validator(
    mutated_spec: MutatedSpec, keyword: tuple[str, Any]
) -> None:
    name, value = keyword

    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["TaskPage"]["properties"]["items"][name] = value

    spec = load(mutated_spec(mutate))
    definitions = spec.validation_definitions()
    assert definitions["TaskPage"]["properties"]["items"][name] == value
    models = spec.models_document()["components"]["schemas"]
    assert name not in models["TaskPage"]["properties"]["items"]


def test_cookie_parameters_are_read_and_a_cookie_holds_one_value(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any], schema: dict[str, Any]) -> None:
        doc["paths"]["/healthz"]["get"]["parameters"] = [{"name": "s", "in": "cookie", "schema": schema}]

    spec = load(mutated_spec(lambda doc: mutate(doc, {"type": "string", "pattern": "^[a-z]+$"})))
    [health] = [op for op in spec.operations if op.operation_id == "getHealth"]
    [cookie] = health.parameters
    assert (cookie.location, cookie.parser, cookie.required) == ("cookie", "string", False)
    assert "s" not in health.request_headers  # the Cookie header carries it, not a header of its own
    array = {"type": "array", "items": {"type": "string"}}
    with pytest.raises(SpecError, match="/parameters/0/schema: cookie parameter s must be a scalar"):
        load(mutated_spec(lambda doc: mutate(doc, array)))
    styled = {"name": "s", "in": "cookie", "style": "simple", "schema": {"type": "string"}}
    with pytest.raises(SpecError, match="parameter s uses style simple"):
        load(mutated_spec(lambda doc: doc["paths"]["/healthz"]["get"].update(parameters=[styled])))


def test_a_header_parameter_needs_a_declared_400(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        del doc["paths"]["/tasks/{task_id}"]["delete"]["responses"]["400"]

    with pytest.raises(SpecError, match="deleteTask: has a header parameter, so it must declare 400"):
        load(mutated_spec(mutate))


def test_a_304_is_a_handler_response_but_not_a_success_on_its_own(mutated_spec: MutatedSpec, contract: Spec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        responses = doc["paths"]["/tasks/{task_id}"]["get"]["responses"]
        del responses["200"]

    with pytest.raises(SpecError, match="getTask: declares no 2xx response"):
        load(mutated_spec(mutate))
    get = next(op for op in contract.operations if op.operation_id == "getTask")
    [not_modified] = [r for r in get.responses if r.status == 304]
    assert (not_modified.body_model, not_modified.media_type) == (None, None)
    assert [(h.name, h.required) for h in not_modified.headers] == [("ETag", True)]


def test_a_304_with_a_body_is_refused(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        ok = doc["paths"]["/tasks/{task_id}"]["get"]["responses"]["200"]
        doc["paths"]["/tasks/{task_id}"]["get"]["responses"]["304"]["content"] = ok["content"]

    with pytest.raises(SpecError, match="getTask: a 304 response has no body"):
        load(mutated_spec(mutate))


def test_names() -> None:
    assert snake_case("createTask") == "create_task"
    assert snake_case("X-Request-ID") == "x_request_id"
    assert snake_case("Location") == "location"


def test_response_shapes_follow_the_schemas(contract: Spec) -> None:
    shapes = {shape.name: shape for shape in contract.response_shapes()}
    # A shape for the schema of every 2xx JSON body, each defined after the shapes its fields refer to.
    bodies = {r.body_model for op in contract.operations for r in op.responses if r.media_type == "application/json"}
    assert bodies <= set(shapes)
    for position, shape in enumerate(shapes.values()):
        referred = {name for f in shape.fields for name in re.findall(r"(\w+)Dict\b", f.annotation)}
        assert referred <= set(list(shapes)[:position]), (shape.name, referred)
    task = {f.name: (f.annotation, f.required) for f in shapes["Task"].fields}
    assert task["description"] == ("str | None", True)  # a $ref to a nullable scalar schema
    assert task["created_at"] == ("datetime", True)
    assert task["priority"] == ("int", True)
    page = {f.name: f.annotation for f in shapes["TaskPage"].fields}
    assert page == {"items": "list[TaskDict]", "next_cursor": "str | None"}
    assert {f.name: f.annotation for f in shapes["Token"].fields}["token_type"] == "Literal['bearer']"


def test_optional_response_properties_are_not_required(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Task"]["required"].remove("description")

    shapes = {shape.name: shape for shape in load(mutated_spec(mutate)).response_shapes()}
    assert ("description", False) in {(f.name, f.required) for f in shapes["Task"].fields}


def test_generated_code_imports_only_the_standard_library_starlette_pydantic_and_the_runtime() -> None:
    allowed = {"__future__", "dataclasses", "datetime", "enum", "typing", "starlette", "pydantic", "taskapi.runtime"}
    for path in sorted((ROOT / "src" / "taskapi" / "generated").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = (
                    [f"taskapi.{alias.name}" for alias in node.names] if node.module == "taskapi" else [node.module]
                )
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                assert any(module == ok or module.startswith(f"{ok}.") for ok in allowed), f"{path.name}: {module}"


def test_the_limits_come_from_the_spec(contract: Spec) -> None:
    assert contract.limits == {
        "max_body_bytes": 65536,
        "max_header_bytes": 16384,
        "max_url_bytes": 8192,
    }


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda doc: doc["x-taskapi-limits"].update({"max-cookies": 3}), "max-cookies: unknown limit"),
        (lambda doc: doc["x-taskapi-limits"].update({"max-url-bytes": 0}), "max-url-bytes: must be a positive"),
        (lambda doc: doc["x-taskapi-limits"].update({"max-url-bytes": True}), "max-url-bytes: must be a positive"),
        (
            lambda doc: doc["paths"]["/healthz"]["get"]["responses"].pop("431"),
            "getHealth: x-taskapi-limits.max-header-bytes is refused with 431: declare it",
        ),
        (
            lambda doc: doc["paths"]["/users"]["post"]["responses"].pop("413"),
            "createUser: x-taskapi-limits.max-body-bytes is refused with 413: declare it",
        ),
    ],
)
def test_limits_are_checked(mutated_spec: MutatedSpec, mutation: Mutation, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        load(mutated_spec(mutation))


def test_the_rate_limits_come_from_the_spec(contract: Spec) -> None:
    assert contract.rate_limit_policies == {
        "login-client": "20/minute",
        "login-username": "10/minute",
        "signup-client": "10/minute",
        "user": "1200/minute",
    }
    by_id = {op.operation_id: op for op in contract.operations}
    assert [(r.policy, r.key) for r in by_id["createToken"].rate_limits] == [
        ("login-client", "client"),
        ("login-username", "body.username"),
    ]
    assert [(r.policy, r.key) for r in by_id["createUser"].rate_limits] == [("signup-client", "client")]
    assert by_id["getHealth"].rate_limits == ()
    for op in contract.operations:
        if op.secured:
            assert [(r.policy, r.key) for r in op.rate_limits] == [("user", "user")], op.operation_id


def _token_limits(*items: dict[str, str]) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        doc["paths"]["/auth/token"]["post"]["x-taskapi-rate-limits"] = list(items)

    return mutate


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (
            _token_limits({"policy": "nope", "key": "client"}),
            "createToken: x-taskapi-rate-limits: unknown policy nope",
        ),
        (
            _token_limits({"policy": "login-client", "key": "header.authorization"}),
            "createToken: x-taskapi-rate-limits: unknown key header.authorization",
        ),
        (
            _token_limits({"policy": "login-client", "key": "user"}),
            "createToken: x-taskapi-rate-limits: policy login-client is keyed by user, but the operation is public",
        ),
        (
            _token_limits({"policy": "login-username", "key": "body.scope"}),
            "createToken: x-taskapi-rate-limits: body.scope must be a required string property of PasswordGrant",
        ),
        (
            _token_limits({"policy": "login-username", "key": "body.nobody"}),
            "body.nobody must be a required string property of PasswordGrant",
        ),
        (
            _token_limits({"policy": "login-client", "key": "client"}, {"policy": "login-client", "key": "client"}),
            "policy login-client is applied twice",
        ),
        (_token_limits({"policy": "login-client"}), "each item has exactly a policy and a key"),
        (
            lambda doc: doc["paths"]["/users/me"]["get"].update(
                {"x-taskapi-rate-limits": [{"policy": "user", "key": "body.username"}]}
            ),
            "getCurrentUser: x-taskapi-rate-limits: policy user is keyed by body.username, but the operation has no",
        ),
        (
            lambda doc: doc["paths"]["/auth/token"]["post"]["responses"].pop("429"),
            "createToken: x-taskapi-rate-limits: a rate-limited operation answers 429: declare it",
        ),
        (
            lambda doc: doc["paths"]["/healthz"]["get"].update(
                {"x-taskapi-rate-limits": [{"policy": "user", "key": "client"}]}
            ),
            "getHealth: x-taskapi-rate-limits: a rate-limited operation answers 429: declare it",
        ),
        (
            lambda doc: doc["x-taskapi-rate-limit-policies"].update({"user": "lots"}),
            "x-taskapi-rate-limit-policies.user: 'lots' is not one limit",
        ),
        (
            lambda doc: doc["x-taskapi-rate-limit-policies"].update({"Admin Policy": "1/day"}),
            "x-taskapi-rate-limit-policies.Admin Policy: a policy name is lowercase",
        ),
    ],
)
def test_rate_limits_are_checked(mutated_spec: MutatedSpec, mutation: Mutation, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        load(mutated_spec(mutation))


def test_the_glue_counts_each_policy_as_soon_as_its_key_is_known() -> None:
    source = (ROOT / "src" / "taskapi" / "generated" / "server.py").read_text(encoding="utf-8")
    token = source[source.rindex("async def create_token(") :]
    steps = [
        'await limiter.hit(request, "login-client", runtime.client_address(request))',
        "runtime.validate_body(",
        'await limiter.hit(request, "login-username", body.username)',
        "await auth.create_token(body)",
    ]
    assert [token.index(step) for step in steps] == sorted(token.index(step) for step in steps)
    task = source[source.rindex("async def get_task(") :]
    steps = [
        "security.authenticate_bearer(",
        'await limiter.hit(request, "user", limiter.user_key(principal))',
        "runtime.parse_parameters(",
    ]
    assert [task.index(step) for step in steps] == sorted(task.index(step) for step in steps)
    health = source[source.rindex("async def get_health(") :]
    assert "limiter" not in health[: health.index("return result")]


def test_an_all_of_response_schema_has_the_fields_of_its_members(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        schemas = doc["components"]["schemas"]
        task = schemas["Task"]
        first = {"id", "title"}
        schemas["TaskIdentity"] = {
            "type": "object",
            "required": [name for name in task["required"] if name in first],
            "properties": {name: sub for name, sub in task["properties"].items() if name in first},
        }
        rest = {
            "type": "object",
            "required": [name for name in task["required"] if name not in first],
            "properties": {name: sub for name, sub in task["properties"].items() if name not in first},
        }
        schemas["Task"] = {
            "description": task["description"],
            "additionalProperties": False,
            "allOf": [{"$ref": "#/components/schemas/TaskIdentity"}, rest],
        }

    before = {shape.name: shape for shape in load(ROOT / "openapi.yaml").response_shapes()}["Task"]
    after = {shape.name: shape for shape in load(mutated_spec(mutate)).response_shapes()}["Task"]
    assert after.fields and sorted(after.fields, key=lambda f: f.name) == sorted(before.fields, key=lambda f: f.name)


def test_what_the_server_would_not_serve_is_refused(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["webhooks"] = {"taskDone": {"post": {"responses": {"200": {"description": "ok"}}}}}
        doc["paths"]["/tasks"]["post"]["callbacks"] = {"done": {}}
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"] = {
            "text/event-stream": {"schema": {"type": "string"}}
        }
        ok = doc["paths"]["/healthz"]["get"]["responses"]["200"]
        ok["content"] = {"application/xml": {"schema": {"type": "object"}}}

    with pytest.raises(SpecError) as refused:
        load(mutated_spec(mutate))
    said = "\n".join(refused.value.problems)
    assert "#/webhooks: webhooks (requests the API would make) are not generated" in said
    assert "#/paths/~1tasks/post/callbacks: callbacks are not generated" in said
    assert "getHealth: the 200 response is application/xml; the generated server renders JSON, text and " in said
    assert "getMetrics: the 200 response is a stream (text/event-stream)" in said


def test_a_one_of_response_property_is_the_union_of_its_members(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        schemas = doc["components"]["schemas"]
        for kind in ("Weekly", "Daily"):
            schemas[kind] = {
                "type": "object",
                "required": ["kind"],
                "properties": {"kind": {"type": "string", "const": kind.lower()}},
            }
        schemas["Task"]["properties"]["recurrence"] = {
            "oneOf": [{"$ref": "#/components/schemas/Weekly"}, {"$ref": "#/components/schemas/Daily"}],
            "discriminator": {"propertyName": "kind"},
        }
        schemas["Task"]["properties"]["code"] = {"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]}

    shapes = {shape.name: shape for shape in load(mutated_spec(mutate)).response_shapes()}
    task = {f.name: f.annotation for f in shapes["Task"].fields}
    assert task["recurrence"] == "WeeklyDict | DailyDict"
    assert task["code"] == "str | int | None"
    assert list(shapes).index("Weekly") < list(shapes).index("Task")


def test_a_format_no_one_would_check_is_refused(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Title"]["format"] = "iso-country-code"

    with pytest.raises(SpecError, match=r"#/components/schemas/Title/format: format iso-country-code would be checked"):
        load(mutated_spec(mutate))


def test_openapi_integer_formats_are_the_bounds_they_mean(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["components"]["schemas"]["Priority"] = {"type": "integer", "format": "int32"}
        doc["components"]["schemas"]["TaskPage"]["properties"]["total"] = {
            "type": "integer",
            "format": "int64",
            "minimum": 0,
        }

    definitions = load(mutated_spec(mutate)).validation_definitions()
    assert definitions["Priority"] == {
        "type": "integer",
        "format": "int32",
        "minimum": -(2**31),
        "maximum": 2**31 - 1,
    }
    total = definitions["TaskPage"]["properties"]["total"]
    assert (total["minimum"], total["maximum"]) == (0, 2**63 - 1)


def test_a_discriminator_is_no_looser_than_its_one_of(mutated_spec: MutatedSpec) -> None:
    """Members that the mapping names but no `const` tells apart may both admit a value: the discriminator
    points at one, and the `oneOf` still refuses a value that matches both."""

    def mutate(doc: dict[str, Any]) -> None:
        schemas = doc["components"]["schemas"]
        schemas["Daily"] = {"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}}
        schemas["Weekly"] = {
            "type": "object",
            "required": ["kind", "weekday"],
            "properties": {"kind": {"type": "string"}, "weekday": {"type": "string"}},
        }
        schemas["Recurrence"] = {
            "oneOf": [{"$ref": "#/components/schemas/Daily"}, {"$ref": "#/components/schemas/Weekly"}],
            "discriminator": {
                "propertyName": "kind",
                "mapping": {"daily": "#/components/schemas/Daily", "weekly": "#/components/schemas/Weekly"},
            },
        }

    check = Validators(load(mutated_spec(mutate)).validation_definitions())["Recurrence"]
    assert check.violations({"kind": "daily"}) == []
    assert [e["loc"] for e in check.violations({"kind": "weekly"})] == [("weekday",)]  # into the member named
    assert [e["loc"] for e in check.violations({"kind": "hourly"})] == [("kind",)]
    both = check.violations({"kind": "daily", "weekday": "mon"})  # Daily and Weekly both admit it
    assert [(e["loc"], e["type"]) for e in both] == [((), "oneOf")]


def test_read_only_and_write_only_hold_in_their_direction() -> None:
    """The lab's Account goes both ways: requests may not send `id` (read-only) and must send `password`
    (write-only); responses carry `id` and never `password`; the model, which serves both, requires neither."""
    lab = load(LAB_SPEC)
    account = lab.validation_definitions()["Account"]
    assert account["properties"]["id"] is False
    assert account["required"] == ["username", "password"]
    assert lab.models_document()["components"]["schemas"]["Account"]["required"] == ["username"]
    assert lab.write_only_paths("Account") == (("password",),)
    [shape] = [shape for shape in lab.response_shapes() if shape.name == "Account"]
    assert [(f.name, f.required) for f in shape.fields] == [("id", True), ("username", True), ("created_at", True)]


def test_a_write_only_property_of_a_one_of_member_is_never_sent_either() -> None:
    document = parse_yaml(LAB_SPEC.read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    schemas["Card"]["properties"]["cvc"]["writeOnly"] = True
    schemas["Compositions"]["properties"]["accounts"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Account"},
    }
    lab = load_document(document, "lab")
    assert lab.write_only_paths("Compositions") == (("source", "cvc"), ("accounts", "*", "password"))


def test_a_write_only_property_of_a_request_only_schema_stays_required_to_its_model(contract: Spec) -> None:
    grant = contract.models_document()["components"]["schemas"]["PasswordGrant"]
    assert "password" in grant["required"]


def test_a_shape_with_names_that_are_no_identifiers_and_a_tuple() -> None:
    lab = load(LAB_SPEC)
    shapes = {shape.name: shape for shape in lab.response_shapes()}
    assert shapes["SearchEcho"].functional and not shapes["Formats"].functional
    assert {f.name: f.annotation for f in shapes["SearchEcho"].fields}["X-Trace"] == "str"
    document = parse_yaml(LAB_SPEC.read_text(encoding="utf-8"))
    ok = document["paths"]["/arrays"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]
    ok["$ref"] = "#/components/schemas/Arrays"  # a response with a tuple (prefixItems, no more items)
    [arrays] = [shape for shape in load_document(document, "lab").response_shapes() if shape.name == "Arrays"]
    assert {f.name: f.annotation for f in arrays.fields}["point"] == "list[float]"


def test_inline_bodies_become_models_and_are_refused_where_they_are_written() -> None:
    document = parse_yaml(LAB_SPEC.read_text(encoding="utf-8"))
    lab = load_document(copy.deepcopy(document), "lab")
    [booking] = [op for op in lab.operations if op.operation_id == "createBooking"]
    assert (booking.body_model, booking.responses[0].body_model) == ("CreateBookingRequest", "CreateBooking201Body")
    body = document["paths"]["/bookings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body["properties"]["seat"] = {"type": "string", "contentEncoding": "base64"}
    with pytest.raises(SpecError) as refused:
        load_document(copy.deepcopy(document), "lab")
    assert refused.value.problems == (
        "#/paths/~1bookings/post/requestBody/content/application~1json/schema/properties/seat: the generated "
        "server cannot enforce contentEncoding; express the rule with supported keywords or extend codegen/",
    )
    document["components"]["schemas"]["CreateBookingRequest"] = {"type": "object"}
    with pytest.raises(SpecError, match=r"schema would be components\.schemas\.CreateBookingRequest, which exists"):
        load_document(document, "lab")


def test_a_multipart_body_has_file_parts_and_bytes_go_nowhere_else() -> None:
    document = parse_yaml(LAB_SPEC.read_text(encoding="utf-8"))
    [upload] = [op for op in load_document(copy.deepcopy(document), "lab").operations if op.operation_id == "upload"]
    assert [(f.name, f.media_types, f.max_bytes) for f in upload.files] == [
        ("picture", ("image/png", "image/gif"), 4096)
    ]
    assert upload.body_schema == "Upload.multipart"
    text_only = copy.deepcopy(document)  # a multipart body of text parts only: its definition is there too
    del text_only["components"]["schemas"]["Upload"]["properties"]["picture"]
    text_only["components"]["schemas"]["Upload"]["required"] = ["title"]
    del text_only["paths"]["/uploads"]["post"]["requestBody"]["content"]["multipart/form-data"]["encoding"]
    assert "Upload.multipart" in load_document(text_only, "lab").validation_definitions()

    def refusals(change: Callable[[dict[str, Any]], None]) -> str:
        changed = copy.deepcopy(document)
        change(changed)
        with pytest.raises(SpecError) as refused:
            load_document(changed, "lab")
        return "\n".join(refused.value.problems)

    schemas = "components", "schemas"
    media = ("paths", "/uploads", "post", "requestBody", "content", "multipart/form-data")

    def at(doc: dict[str, Any], path: tuple[str, ...]) -> Any:
        for key in path:
            doc = doc[key]
        return doc

    said = refusals(
        lambda doc: at(doc, schemas)["Formats"]["properties"].update(blob={"type": "string", "format": "binary"})
    )
    assert "#/components/schemas/Formats/properties/blob/format: format binary would be checked by no one" in said
    said = refusals(lambda doc: at(doc, media)["encoding"].update(title={"contentType": "text/plain"}))
    assert "upload: encoding.title names no file part (format: binary) of the body" in said
    said = refusals(lambda doc: at(doc, schemas)["Upload"]["properties"].update(count={"type": "integer"}))
    assert "upload: multipart field count must be a string, or a file (format: binary)" in said
    said = refusals(lambda doc: at(doc, media)["encoding"]["picture"].update(contentType="image*"))
    assert "upload: part picture: a media type range is `type/*`, not image*" in said


@pytest.mark.parametrize(
    ("operation_id", "python", "prefix"),
    [("createTask", "create_task", "CreateTask"), ("get-stations", "get_stations", "GetStations"),
     ("list_users", "list_users", "ListUsers"), ("GetV2Thing", "get_v2_thing", "GetV2Thing")],
)  # fmt: skip
def test_operation_ids_in_any_common_case_name_the_handler(operation_id: str, python: str, prefix: str) -> None:
    assert (snake_case(operation_id), class_prefix(operation_id)) == (python, prefix)


def test_an_operation_id_python_cannot_name_or_two_of_one_name_are_refused(mutated_spec: MutatedSpec) -> None:
    def mutate(doc: dict[str, Any]) -> None:
        doc["paths"]["/healthz"]["get"]["operationId"] = "get-readiness"  # getReadiness is /readyz's
        doc["paths"]["/metrics"]["get"]["operationId"] = "class"

    with pytest.raises(SpecError) as refused:
        load(mutated_spec(mutate))
    said = "\n".join(refused.value.problems)
    assert "#/paths/~1metrics/get/operationId: needs an operationId of letters and digits" in said
    assert "operationId getReadiness is used twice (as get_readiness, in Python)" in said
