"""codegen's model of openapi.yaml: the few facts the generators need, and a refusal of what they cannot honour.

Everything the server enforces must come from the spec. When the spec uses a JSON Schema keyword or a
parameter style that the generated code would silently ignore, generation fails and names it, instead
of producing a server that accepts more than the contract allows.
"""

from __future__ import annotations

import copy
import keyword
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Keywords that the generated models (datamodel-code-generator + pydantic) enforce faithfully.
SUPPORTED_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "allOf",
        "oneOf",
        "anyOf",
        "discriminator",
        "format",
        "default",
        "description",
        "title",
        "examples",
        "example",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
# Keywords that constrain values without changing their shape: the validator of the spec's schemas
# (runtime.validation) enforces them, anywhere; the models, which only convert, are generated without them.
VALIDATION_ONLY_KEYWORDS = frozenset(
    {
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "not",
        "contains",
        "minContains",
        "maxContains",
        "dependentRequired",
        "propertyNames",
        "prefixItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "patternProperties",
        "dependentSchemas",
    }
)

PARAMETER_TYPES = frozenset({"integer", "number", "string", "boolean"})
# Where a parameter may be, and the one style the generated parser reads there (OpenAPI's default for it).
PARAMETER_STYLES = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
JSON = "application/json"
# A response header component marked with this is set outside the handler (request ids on every response,
# the RateLimit fields on the responses of rate-limited operations), so it is no field of the handler's
# response type. MIDDLEWARE_HEADERS lists them with their patterns.
MIDDLEWARE_EXTENSION = "x-taskapi-middleware"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
# A file part of a multipart body: a property `{type: string, format: binary}` of its schema, whose media
# types are the part's `encoding.<name>.contentType` (OpenAPI's default for bytes: application/octet-stream).
FILE_FORMAT = "binary"
DEFAULT_FILE_MEDIA_TYPE = "application/octet-stream"
BODY_MEDIA_TYPES = (JSON, FORM, MULTIPART)
# The server-wide limits (bytes): top-level `x-taskapi-limits`, each with the status that answers it and
# the operations that must declare that status.
LIMITS_EXTENSION = "x-taskapi-limits"
LIMIT_STATUSES = {"max-body-bytes": 413, "max-header-bytes": 431, "max-url-bytes": 414}
# Rate limits: top-level `x-taskapi-rate-limit-policies` (name -> default limit in the `limits` notation,
# `20/minute`), and per operation `x-taskapi-rate-limits`, the policies it applies and what each counts by.
RATE_LIMIT_POLICIES_EXTENSION = "x-taskapi-rate-limit-policies"
RATE_LIMITS_EXTENSION = "x-taskapi-rate-limits"
# A policy's name goes into the RateLimit fields as a structured-field string: keep it plain.
_POLICY_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
# The statuses a limited operation answers besides its own: 429 over the limit, 503 when the limiter's
# store is unreachable and the deployment fails closed.
RATE_LIMIT_STATUSES = (429, 503)


# Handlers answer 304 (a conditional GET) like a success: a response type of its own, no body.
NOT_MODIFIED = 304
# A header parameter that violates its schema is a malformed request (400), not a semantic one (422).
BAD_HEADER_STATUS = 400
# Where a bearer scheme's token goes (RFC 6750): a request header of every secured operation.
AUTHORIZATION = "Authorization"


# The formats the validator asserts (JSON Schema 2020-12's, by jsonschema-rs), and OpenAPI's own: int32 and
# int64 are made the bounds they mean, float, double and password only document. Another format would be
# an annotation no one checks, a looser contract than the spec reads: refused.
ASSERTED_FORMATS = frozenset(
    {
        "date-time", "date", "time", "duration", "uuid", "email", "idn-email", "uri", "uri-reference", "iri",
        "iri-reference", "hostname", "idn-hostname", "ipv4", "ipv6", "json-pointer", "relative-json-pointer",
        "regex", "uri-template",
    }
)  # fmt: skip
INTEGER_FORMATS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
DOCUMENTING_FORMATS = frozenset({"float", "double", "password"})


class SpecError(Exception):
    """The spec asks for something the generators cannot enforce: every such place, one per line."""

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def escape(token: str) -> str:
    """A JSON pointer token (RFC 6901): `/tasks/{id}` -> `~1tasks~1{id}`."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) into the document, as a URI fragment: `#/components/schemas/Task`."""
    return "#" + "".join("/" + escape(str(part)) for part in parts)


@dataclass(frozen=True)
class Parameter:
    """A path, query or header parameter of one operation."""

    name: str
    location: str
    required: bool
    json_type: str
    schema: dict[str, Any]
    item_type: str | None = None
    """An array's: the JSON type of its items (a scalar)."""
    exploded: bool = False
    """An array in the query, `style: form` with `explode: true`: one `name=value` pair per item."""

    @property
    def python_name(self) -> str:
        return snake_case(self.name)

    @property
    def parser(self) -> str:
        """How the runtime reads the text (`runtime.parse_parameters`): the JSON type of a scalar; for an
        array `array:<item type>:multi` (a pair per item) or `array:<item type>:csv` (comma-separated)."""
        if self.item_type is None:
            return self.json_type
        return f"array:{self.item_type}:{'multi' if self.exploded else 'csv'}"


@dataclass(frozen=True)
class FilePart:
    """A file part of a multipart/form-data body: the media types it may be, and its size limit in bytes
    (the property's `maxLength`, which for bytes counts bytes)."""

    name: str
    media_types: tuple[str, ...]
    max_bytes: int | None


@dataclass(frozen=True)
class Header:
    """A response header declared on a success response."""

    name: str
    required: bool
    json_type: str
    const: str | int | None = None
    uri_reference: bool = False
    """`format: uri-reference`: an absolute path in it is sent under the app's root path."""

    @property
    def python_name(self) -> str:
        return snake_case(self.name)

    @property
    def python_type(self) -> str:
        if self.const is not None:
            return f"Literal[{self.const!r}]"
        base = "str" if self.json_type == "string" else "int"
        return base if self.required else f"{base} | None"

    @property
    def default(self) -> str | None:
        """The field default in the response type: the const value, None when optional, else none."""
        if self.const is not None:
            return repr(self.const)
        return None if self.required else "None"


@dataclass(frozen=True)
class SuccessResponse:
    """A response the handler returns (2xx, or 304): its status, body model (if any) and declared headers."""

    status: int
    body_model: str | None
    media_type: str | None
    headers: tuple[Header, ...]

    @property
    def binary(self) -> bool:
        """A body of bytes (neither JSON nor text): an image, a download."""
        return self.media_type is not None and self.body_model is None and not self.media_type.startswith("text/")


@dataclass(frozen=True)
class DeclaredResponse:
    """A status an operation declares, with the name of every header its response declares (those that
    middleware sets included): what the contract recorder counts and the coverage report checks."""

    status: int
    headers: tuple[str, ...]


@dataclass(frozen=True)
class ShapeField:
    """One property of a response shape, with its Python annotation."""

    name: str
    annotation: str
    required: bool


@dataclass(frozen=True)
class Shape:
    """A response body's schema as a TypedDict: the JSON its model renders, built without a model."""

    name: str
    description: str
    fields: tuple[ShapeField, ...]

    @property
    def class_name(self) -> str:
        return f"{self.name}Dict"

    @property
    def functional(self) -> bool:
        """Whether a property's name is no Python identifier (`X-Trace`, `class`): the TypedDict is then
        declared with the functional syntax, `TypedDict("NameDict", {"X-Trace": str})`."""
        return any(not f.name.isidentifier() or keyword.iskeyword(f.name) for f in self.fields)


@dataclass(frozen=True)
class RateLimit:
    """One policy an operation applies, and what it counts by: `client` (the client's address), `user`
    (the authenticated caller) or `body.<property>` (a required string property of the body)."""

    policy: str
    key: str

    @property
    def stage(self) -> str:
        """When the glue can count it: `client` first, `user` after authentication, `body` after validation."""
        return self.key.split(".", 1)[0]

    @property
    def body_property(self) -> str | None:
        return self.key.split(".", 1)[1] if self.stage == "body" else None


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, as the glue generator sees it."""

    operation_id: str
    method: str
    path: str
    tag: str
    summary: str
    parameters: tuple[Parameter, ...]
    security: tuple[str, ...]
    body_model: str | None
    body_media_type: str | None
    responses: tuple[SuccessResponse, ...]
    error_statuses: tuple[int, ...]
    rate_limits: tuple[RateLimit, ...] = ()
    declared_responses: tuple[DeclaredResponse, ...] = ()
    """Every response the operation declares, in document order, with its headers."""
    files: tuple[FilePart, ...] = ()
    """A multipart body's file parts."""

    @property
    def body_schema(self) -> str | None:
        """The name of the definition the body is validated against (`validation_definitions`): its model's,
        or for a multipart body `<model>.multipart`, whose file parts are bytes the validator does not see."""
        if self.body_model is not None and self.body_media_type == MULTIPART:
            return f"{self.body_model}.multipart"
        return self.body_model

    def rate_limits_at(self, stage: str) -> tuple[RateLimit, ...]:
        """The policies counted at one stage of the glue (`client`, `user` or `body`)."""
        return tuple(limit for limit in self.rate_limits if limit.stage == stage)

    @property
    def python_name(self) -> str:
        return snake_case(self.operation_id)

    @property
    def class_prefix(self) -> str:
        return class_prefix(self.operation_id)

    @property
    def params_model(self) -> str | None:
        return f"{self.class_prefix}Params" if self.parameters else None

    @property
    def secured(self) -> bool:
        """Whether a caller must present a bearer token (every scheme here is a bearer scheme)."""
        return bool(self.security)

    @property
    def request_headers(self) -> tuple[str, ...]:
        """The request headers the operation declares: its header parameters, and `Authorization` when it
        is secured (its schemes are all bearer schemes, which send the token there)."""
        names = tuple(p.name for p in self.parameters if p.location == "header")
        return (*names, AUTHORIZATION) if self.secured else names


@dataclass
class Spec:
    """The parsed spec plus the operations in document order."""

    document: dict[str, Any]
    operations: list[Operation] = field(default_factory=list)
    limits: dict[str, int] = field(default_factory=dict)
    """`x-taskapi-limits`, by Python name (`max_body_bytes`): what the server accepts at most."""
    rate_limit_policies: dict[str, str] = field(default_factory=dict)
    """`x-taskapi-rate-limit-policies`: each policy's default limit, in the `limits` notation."""

    @property
    def rate_limited(self) -> bool:
        """Whether any operation applies a rate limit (the glue then needs a limiter)."""
        return any(op.rate_limits for op in self.operations)

    @property
    def tags(self) -> list[str]:
        seen: list[str] = []
        for op in self.operations:
            if op.tag not in seen:
                seen.append(op.tag)
        return seen

    @staticmethod
    def operations_protocol(tag: str) -> str:
        """The generated protocol of a tag's operations (`tasks` -> `TasksOperations`); the handler class
        that implements it is named `TasksHandlers`."""
        return "".join(part.capitalize() for part in snake_case(tag).split("_")) + "Operations"

    @property
    def secured_tags(self) -> list[str]:
        """Tags with at least one operation that needs a bearer token."""
        return [tag for tag in self.tags if any(op.secured for op in self.operations if op.tag == tag)]

    @property
    def middleware_headers(self) -> dict[str, str]:
        """Response headers that middleware sets, by name, with the pattern of their values."""
        headers: dict[str, str] = {}
        for response in _all_responses(self.document):
            for name, node in response.get("headers", {}).items():
                header = Resolver(self.document).resolve(node)
                if header.get(MIDDLEWARE_EXTENSION):
                    schema = Resolver(self.document).resolve(header.get("schema", {}))
                    const = schema.get("const")
                    pattern = f"^{re.escape(str(const))}$" if const is not None else schema.get("pattern", ".*")
                    headers[name] = str(pattern)
        return dict(sorted(headers.items()))

    @property
    def constant_headers(self) -> dict[str, str]:
        """Middleware headers of one value (`const`): the server sets them on every response, so every
        response of the spec must declare them (SpecError naming the first that does not)."""
        resolver = Resolver(self.document)
        responses = _responses_by_place(self.document)
        constant: dict[str, str] = {}
        for response in responses.values():
            for name, node in response.get("headers", {}).items():
                header = resolver.resolve(node)
                const = resolver.resolve(header.get("schema", {})).get("const")
                if header.get(MIDDLEWARE_EXTENSION) and const is not None:
                    constant[name] = str(const)
        for place, response in responses.items():
            declared = {name.lower() for name in response.get("headers", {})}
            for name in constant:
                if name.lower() not in declared:
                    raise SpecError(
                        f"{place}: does not declare the {name} header, which the server sets on every response"
                    )
        return dict(sorted(constant.items()))

    def response_shapes(self) -> list[Shape]:
        """A shape for every schema a 2xx response body is, or holds, in the order they can be defined."""
        resolver = Resolver(self.document)
        shapes: dict[str, Shape | None] = {}

        def visit(name: str) -> str:
            if name not in shapes:
                shapes[name] = None  # being visited
                schema = flattened(resolver.resolve({"$ref": f"#/components/schemas/{name}"}), resolver)
                required = set(schema.get("required", []))
                fields = tuple(
                    ShapeField(
                        prop,
                        annotation(sub, pointer("components", "schemas", name, "properties", prop)),
                        prop in required,
                    )
                    for prop, sub in schema.get("properties", {}).items()
                    if _one_way(sub) != "writeOnly"  # never sent
                )
                del shapes[name]  # defined after the shapes it refers to
                shapes[name] = Shape(name, str(schema.get("description", "")).strip(), fields)
            return f"{name}Dict"

        def annotation(node: dict[str, Any] | bool, where: str) -> str:
            if isinstance(node, bool):
                return "Any"
            if "$ref" in node:
                target = resolver.resolve(node)
                if target.get("type") == "object" or "properties" in target or "allOf" in target:
                    return visit(str(node["$ref"]).rsplit("/", 1)[1])
                return annotation(target, where)
            for key in ("oneOf", "anyOf"):
                if key in node:
                    members = [annotation(member, f"{where}/{key}/{i}") for i, member in enumerate(node[key])]
                    return " | ".join(dict.fromkeys(members))
            if "const" in node or "enum" in node:
                values = [node["const"]] if "const" in node else list(node["enum"])
                literal = f"Literal[{', '.join(repr(value) for value in values if value is not None)}]"
                return f"{literal} | None" if None in values else literal
            declared = node.get("type")
            types = [declared] if isinstance(declared, str) else list(declared or [])
            nullable = "null" in types
            types = [t for t in types if t != "null"]
            if nullable and not types:
                return "None"
            if not types or any(t not in _PYTHON_TYPES for t in types):
                raise SpecError(f"{where}: a response shape needs a JSON type (or a list of them)")
            parts = []
            for json_type in types:
                if json_type == "array" and "prefixItems" in node:
                    members = [annotation(m, f"{where}/prefixItems/{i}") for i, m in enumerate(node["prefixItems"])]
                    if node.get("items", True) is not False:
                        members.append(annotation(node.get("items", True), where + "/items"))
                    parts.append(f"list[{' | '.join(dict.fromkeys(members))}]")
                elif json_type == "array":
                    parts.append(f"list[{annotation(node.get('items', {}), where + '/items')}]")
                elif json_type == "string" and node.get("format") == "date-time":
                    parts.append("datetime")
                else:
                    parts.append(_PYTHON_TYPES[json_type])
            base = " | ".join(parts)
            return f"{base} | None" if nullable else base

        for op in self.operations:
            for response in op.responses:
                if response.body_model is not None and response.media_type == "application/json":
                    visit(response.body_model)
        return [shape for shape in shapes.values() if shape is not None]

    def parameter_schemas(self) -> dict[str, dict[str, Any]]:
        """One object schema per operation with parameters, by its model's name: the parameters by name."""
        schemas: dict[str, dict[str, Any]] = {}
        existing = self.document.get("components", {}).get("schemas", {})
        for op in self.operations:
            name = op.params_model
            if name is None:
                continue
            if name in existing:
                raise SpecError(f"{op.operation_id}: components.schemas.{name} clashes with its parameter model")
            schemas[name] = {
                "type": "object",
                "description": f"The parameters of {op.operation_id}.",
                "additionalProperties": False,
                "required": [p.name for p in op.parameters if p.required],
                "properties": {p.name: p.schema for p in op.parameters},
            }
        return schemas

    def models_document(self) -> dict[str, Any]:
        """The spec plus one object schema per operation's parameters, for the model generator; each schema
        as the models take it (`for_models`): the validator (`validation_definitions`) enforces the rest."""
        doc = copy.deepcopy(self.document)
        schemas: dict[str, Any] = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(copy.deepcopy(self.parameter_schemas()))
        requested, responded = self._reachable(requests=True), self._reachable(requests=False)
        for name in list(schemas):
            # A property required in one direction only is optional to the model of a schema that goes both
            # ways (the validator requires it of requests, the response type of responses).
            one_way = {"readOnly"} if name in requested else set()
            one_way |= {"writeOnly"} if name in responded else set()
            schemas[name] = for_models(schemas[name], frozenset(one_way))
        return doc

    def _reachable(self, *, requests: bool) -> set[str]:
        """The names of the component schemas a request body (or a response body) is or holds."""
        schemas = self.document.get("components", {}).get("schemas", {})
        if requests:
            pending = [op.body_model for op in self.operations if op.body_model is not None]
        else:  # every response's, errors' included
            pending = [
                str(media["schema"]["$ref"])[len(COMPONENT_SCHEMAS) :]
                for response in _all_responses(self.document)
                for media in response.get("content", {}).values()
                if str(media.get("schema", {}).get("$ref", "")).startswith(COMPONENT_SCHEMAS)
            ]
        found: set[str] = set()
        while pending:
            name = pending.pop()
            if name in found or name not in schemas:
                continue
            found.add(name)
            pending.extend(
                str(node["$ref"])[len(COMPONENT_SCHEMAS) :]
                for node in _mappings(schemas[name])
                if str(node.get("$ref", "")).startswith(COMPONENT_SCHEMAS)
            )
        return found

    def validation_definitions(self) -> dict[str, Any]:
        """The schemas the server validates requests against, by name (components.schemas and the
        parameter objects), referring to one another as `#/$defs/<name>`: the spec's own, unabridged."""
        definitions = {**self.document.get("components", {}).get("schemas", {}), **self.parameter_schemas()}
        resolver = Resolver(self.document)
        for op in self.operations:
            if op.body_media_type == MULTIPART and op.body_model is not None and op.body_schema is not None:
                body = copy.deepcopy(resolver.resolve({"$ref": COMPONENT_SCHEMAS + op.body_model}))
                for file in op.files:  # bytes, which the runtime checks (media type, size)
                    body["properties"][file.name] = True
                definitions[op.body_schema] = body
        return {name: _rebased(_discriminated(_request_side(schema), resolver)) for name, schema in definitions.items()}

    def write_only_paths(self, model: str) -> tuple[tuple[str, ...], ...]:
        """Where a response of `model` may hold a `writeOnly` property, which the server never sends: each a
        path of property names, `*` standing for any item of an array (`("members", "*", "password")`)."""
        resolver = Resolver(self.document)
        found: list[tuple[str, ...]] = []

        def visit(node: Any, path: tuple[str, ...], seen: frozenset[str]) -> None:
            if not isinstance(node, dict):
                return
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref in seen:
                    return
                seen = seen | {ref}
            node = flattened(resolver.resolve(node), resolver)
            for name, sub in node.get("properties", {}).items():
                if _one_way(sub) == "writeOnly":
                    found.append((*path, name))
                else:
                    visit(sub, (*path, name), seen)
            if isinstance(node.get("items"), dict):
                visit(node["items"], (*path, "*"), seen)
            for key in ("oneOf", "anyOf"):  # a member's writeOnly property is where the member's would be
                for member in node.get(key) or []:
                    visit(member, path, seen)

        visit({"$ref": COMPONENT_SCHEMAS + model}, (), frozenset())
        return tuple(dict.fromkeys(found))


# Formats whose models convert the string for the handler (datetime, date, time, UUID): the validator checks
# the string first, strictly, so what pydantic's types would refuse of a string that passed is nothing, and
# what they would drop (a pattern, a length) is the validator's.
CONVERTED_FORMATS = frozenset({"date-time", "date", "time", "uuid"})
_STRING_KEYWORDS = ("pattern", "minLength", "maxLength")
COMPONENT_SCHEMAS = "#/components/schemas/"


_SCALARS = ("string", "integer", "number", "boolean")
_SCALAR_CONSTRAINTS = frozenset(
    {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern"}
)
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMAS = (
    "items", "additionalProperties", "not", "contains", "propertyNames", "unevaluatedProperties", "unevaluatedItems",
    "if", "then", "else",
)  # fmt: skip


def _mappings(node: Any) -> list[dict[str, Any]]:
    """Every mapping in a schema, itself included."""
    found: list[dict[str, Any]] = []
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            found.append(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def for_models(schema: Any, one_way: frozenset[str] = frozenset()) -> Any:
    """A schema as the model generator takes it: without the keywords only the validator enforces, a string
    of a converted format without the string keywords the generator would drop with a warning, and any
    other format a plain string (pydantic's `EmailStr` needs a package of its own, `AnyUrl` rewrites the
    value). The validator (`Spec.validation_definitions`) enforces the schema as the spec has it.
    `one_way`: `readOnly` when the schema is (in) a request body, `writeOnly` when it is (in) a response
    body: a required property so marked is optional to the model, which serves both directions."""
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in VALIDATION_ONLY_KEYWORDS:
            continue
        if key == "items" and "prefixItems" in schema:
            continue  # a tuple's items: a list of any value to the model, each checked by the validator
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            result[key] = {name: for_models(sub, one_way) for name, sub in value.items()}
        elif key in ("oneOf", "anyOf") and isinstance(value, list):
            result[key] = [_plain_scalar(for_models(sub, one_way)) for sub in value]
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            result[key] = [for_models(sub, one_way) for sub in value]
        elif key == "items":
            result[key] = _plain_scalar(for_models(value, one_way))
        elif key in _SUBSCHEMAS:
            result[key] = for_models(value, one_way)
        else:
            result[key] = value
    optional = {name for name, sub in schema.get("properties", {}).items() if _one_way(sub) in one_way}
    if optional and isinstance(result.get("required"), list):
        result["required"] = [name for name in result["required"] if name not in optional]
    fmt = result.get("format")
    if isinstance(fmt, str):
        if fmt in CONVERTED_FORMATS or fmt == FILE_FORMAT:  # a file part's bytes: their size is the runtime's
            for key in _STRING_KEYWORDS:
                result.pop(key, None)
        else:
            del result["format"]
    return result


def _one_way(schema: Any) -> str | None:
    """`readOnly` or `writeOnly` when a property's schema (its own node, beside any `$ref`) is marked so."""
    if isinstance(schema, dict):
        for direction in ("readOnly", "writeOnly"):
            if schema.get(direction) is True:
                return direction
    return None


def _request_side(node: Any) -> Any:
    """A schema as requests must satisfy it: a `readOnly` property is the server's to set, so a request
    that sends one is refused (it is `false`), and one that omits it is not (it is not required)."""
    if isinstance(node, list):
        return [_request_side(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _request_side(value) for key, value in node.items()}
    properties = node.get("properties")
    if isinstance(properties, dict):
        read_only = {name for name, sub in properties.items() if _one_way(sub) == "readOnly"}
        if read_only:
            result["properties"] = {
                name: False if name in read_only else sub for name, sub in result["properties"].items()
            }
            if isinstance(node.get("required"), list):
                result["required"] = [name for name in node["required"] if name not in read_only]
    return result


def flattened(schema: dict[str, Any], resolver: Resolver) -> dict[str, Any]:
    """An object schema with the properties and `required` of its `allOf` members (followed through
    `$ref`s, flattened themselves) merged into its own: the object a value of it is, as a response shape
    and the breaking gate see it. A property that several members declare is the `allOf` of their schemas.
    The other keywords of the members stay in `allOf`, without what was merged."""
    members = schema.get("allOf")
    if not isinstance(members, list):
        return schema
    properties: dict[str, Any] = {}
    required: list[str] = []
    rest: list[Any] = []
    for member in members:
        flat = flattened(resolver.resolve(member), resolver) if isinstance(member, dict) else member
        if not isinstance(flat, dict) or not ("properties" in flat or flat.get("type") == "object"):
            rest.append(member)  # not an object's part: a constraint of its own, kept as written
            continue
        for name, sub in flat.get("properties", {}).items():
            properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
        required.extend(name for name in flat.get("required", []) if name not in required)
        remaining = {k: v for k, v in flat.items() if k not in _MERGED}
        if remaining:
            rest.append(remaining)
    result = {key: value for key, value in schema.items() if key != "allOf"}
    if len(rest) < len(members):  # objects were merged: the value is an object
        result.setdefault("type", "object")
    for name, sub in schema.get("properties", {}).items():
        properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
    if properties:
        result["properties"] = properties
    required.extend(name for name in schema.get("required", []) if name not in required)
    if required:
        result["required"] = required
    if rest:
        result["allOf"] = rest
    return result


# What `flattened` takes from an allOf member into the object (annotations of the member go with it).
_MERGED = frozenset({"properties", "required", "type", "description", "title", "additionalProperties"})


def _plain_scalar(schema: Any) -> Any:
    """An inline scalar schema (an array's items, a member of a oneOf) without its constraints: with them it
    would become a model of its own (`list[Id]`, `Id` a RootModel), and the handler would get wrapped values.
    The validator enforces the constraints."""
    if isinstance(schema, dict) and "$ref" not in schema and schema.get("type") in _SCALARS:
        return {key: value for key, value in schema.items() if key not in _SCALAR_CONSTRAINTS}
    return schema


def _discriminated(node: Any, resolver: Resolver) -> Any:
    """`node` with each `oneOf` that has a `discriminator` turned into the chain of `if`/`then` it means: the
    member the discriminating property names is the one the value is validated against, so an error points
    into it (`/recurrence/weekday`), and a value that names no member is refused at that property. A value
    the chain admits must still match exactly one member (the `oneOf` applies as JSON Schema says: members
    that do not fix the property with a `const` may overlap); that error, at the object, comes only then."""
    if isinstance(node, list):
        return [_discriminated(item, resolver) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _discriminated(value, resolver) for key, value in node.items()}
    discriminator, members = node.get("discriminator"), node.get("oneOf")
    if not isinstance(discriminator, dict) or not isinstance(members, list):
        return result
    name = str(discriminator.get("propertyName"))
    mapping = discriminator.get("mapping", {})
    chosen: list[tuple[Any, Any]] = []
    for member, original in zip(result["oneOf"], members, strict=True):
        ref = original.get("$ref") if isinstance(original, dict) else None
        target = resolver.resolve(original) if isinstance(original, dict) else {}
        const = resolver.resolve(target.get("properties", {}).get(name, {})).get("const")
        named = [value for value, target_ref in mapping.items() if target_ref == ref]
        values = named or ([const] if const is not None else [ref.rsplit("/", 1)[1]] if ref else [])
        chosen.extend((value, member) for value in values)
    chain: dict[str, Any] = {"required": [name], "properties": {name: {"enum": [value for value, _ in chosen]}}}
    for value, member in reversed(chosen):
        chain = {"if": {"properties": {name: {"const": value}}, "required": [name]}, "then": member, "else": chain}
    exact = {"if": chain, "then": {"oneOf": result.pop("oneOf")}, "else": chain}
    del result["discriminator"]
    return {**result, **exact} if "if" not in result else {**result, "allOf": [*result.get("allOf", []), exact]}


def _rebased(node: Any) -> Any:
    """`node` with its references to components.schemas made references to `$defs`, and OpenAPI's integer
    formats made the bounds they mean (an `int64` field never takes a number its column cannot hold)."""
    if isinstance(node, list):
        return [_rebased(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: _rebased(value) for key, value in node.items()}
    ref = result.get("$ref")
    if isinstance(ref, str) and ref.startswith(COMPONENT_SCHEMAS):
        result["$ref"] = "#/$defs/" + ref[len(COMPONENT_SCHEMAS) :]
    bounds = INTEGER_FORMATS.get(str(result.get("format")))
    if bounds is not None:  # the stricter of the format's bounds and the schema's own
        low, high = bounds
        result["minimum"] = max(result["minimum"], low) if isinstance(result.get("minimum"), int | float) else low
        result["maximum"] = min(result["maximum"], high) if isinstance(result.get("maximum"), int | float) else high
    return result


_PYTHON_TYPES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "object": "dict[str, Any]",
    "array": "list[Any]",
}


def class_prefix(operation_id: str) -> str:
    """The start of the generated classes' names of an operation: `createTask` -> `CreateTask`, and the
    same from kebab or snake case (`get-stations`, `get_stations` -> `GetStations`)."""
    return "".join(part[0].upper() + part[1:] for part in re.split(r"[-_]+", operation_id) if part)


# An operationId codegen takes: camelCase, kebab-case or snake_case, letters and digits otherwise.
OPERATION_ID = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_][A-Za-z0-9]+)*")


def snake_case(name: str) -> str:
    """`createTask` -> `create_task`, `Location` -> `location`, `X-Request-ID` -> `x_request_id`."""
    name = re.sub(r"[^0-9A-Za-z]+", "_", name)
    name = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return name.strip("_").lower()


# libyaml's parser (PyYAML's C binding) reads openapi.yaml many times faster than the pure-Python one and
# builds the same document; the PyYAML wheels we lock ship it, a build without it falls back.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """`yaml.safe_load(text)`, by libyaml when PyYAML has it: codegen reads every YAML document through here."""
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader (SafeLoader's C twin)


def load(path: Path) -> Spec:
    """Parse the spec and collect its operations, failing on anything the generators cannot enforce."""
    return load_document(parse_yaml(path.read_text(encoding="utf-8")), str(path))


def load_document(document: Any, source: str) -> Spec:
    """`load` of a document already parsed (e.g. an older revision read from git); `source` names it in errors."""
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        raise SpecError(f"{source}: expected an OpenAPI 3.1 document")
    document, origins = _hoisted(document)
    spec = Spec(document=document)
    resolver = Resolver(document)
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    schemes = _bearer_schemes(document)
    default_security = document.get("security", [])
    seen_ids: set[str] = set()
    # Every refusal of the document, reported together: one run names them all.
    problems: list[str] = []
    if document.get("webhooks"):
        problems.append(f"{pointer('webhooks')}: webhooks (requests the API would make) are not generated")
    for path_template, path_item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            if isinstance(path_item.get(method), dict) and path_item[method].get("callbacks"):
                problems.append(f"{pointer('paths', path_template, method, 'callbacks')}: callbacks are not generated")
    multipart = _multipart_bodies(document)
    for name, schema in schemas.items():
        where = origins.get(name) or pointer("components", "schemas", name)
        if isinstance(schema, dict) and schema.get("type") == "string" and schema.get("format") == FILE_FORMAT:
            # Bytes, as a whole (the Museum API's PNG: `{type: string, format: binary}`): a body of its own.
            schema = {key: value for key, value in schema.items() if key != "format"}
        _check_schema(schema, where, problems, file_parts=name in multipart)
    for path_template, path_item in document.get("paths", {}).items():
        shared = path_item.get("parameters", [])
        for method in HTTP_METHODS:
            raw = path_item.get(method)
            if raw is None:
                continue
            try:
                security = _security(raw, default_security, schemes)
                op = _operation(path_template, method, raw, shared, resolver, security, problems)
            except SpecError as exc:
                problems.extend(exc.problems)
                continue
            if op.python_name in seen_ids:
                problems.append(f"operationId {op.operation_id} is used twice (as {op.python_name}, in Python)")
            seen_ids.add(op.python_name)
            spec.operations.append(op)
    if problems:
        raise SpecError(*problems)
    spec.limits = _limits(document, spec.operations)
    spec.rate_limit_policies = _rate_limit_policies(document)
    spec.operations = [_with_rate_limits(op, document, spec.rate_limit_policies, resolver) for op in spec.operations]
    spec.constant_headers  # noqa: B018 - checks that every response declares them (SpecError otherwise)
    return spec


def _multipart_bodies(document: dict[str, Any]) -> set[str]:
    """The component schemas that are a multipart/form-data request body."""
    names: set[str] = set()
    resolver = Resolver(document)
    for item in document.get("paths", {}).values():
        for method in HTTP_METHODS:
            raw = item.get(method) if isinstance(item, dict) else None
            if not isinstance(raw, dict) or "requestBody" not in raw:
                continue
            media = resolver.resolve(raw["requestBody"]).get("content", {}).get(MULTIPART, {})
            ref = media.get("schema", {}).get("$ref") if isinstance(media, dict) else None
            if isinstance(ref, str) and ref.startswith(COMPONENT_SCHEMAS):
                names.add(ref[len(COMPONENT_SCHEMAS) :])
    return names


def _hoisted(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The document with each body schema written inline in an operation (a request body's, a success
    response's) moved to components.schemas under a name of its own, and referred to there: every body the
    generated code handles is a model. `createTask`'s request body becomes `CreateTaskRequest`, its 201
    response's `CreateTask201Body`. A name that is taken already is refused. The served spec is unchanged.
    Also returned: where each moved schema is in the document (a JSON pointer), to name it in refusals."""
    hoisted = copy.deepcopy(document)
    schemas: dict[str, Any] = {}
    origins: dict[str, str] = {}
    problems: list[str] = []

    def hoist(media: Any, name: str, where: str) -> None:
        if not isinstance(media, dict) or not isinstance(media.get("schema"), dict) or "$ref" in media["schema"]:
            return
        if name in schemas or name in hoisted.get("components", {}).get("schemas", {}):
            problems.append(f"{where}: its schema would be components.schemas.{name}, which exists: name the schema")
            return
        schemas[name] = media["schema"]
        origins[name] = where
        media["schema"] = {"$ref": COMPONENT_SCHEMAS + name}

    for path, item in hoisted.get("paths", {}).items():
        for method in HTTP_METHODS:
            raw = item.get(method) if isinstance(item, dict) else None
            if not isinstance(raw, dict) or not isinstance(raw.get("operationId"), str) or not raw["operationId"]:
                continue
            operation_id = raw["operationId"]
            prefix = class_prefix(operation_id) if OPERATION_ID.fullmatch(operation_id) else operation_id
            body = raw.get("requestBody")
            if isinstance(body, dict) and "$ref" not in body and len(body.get("content") or {}) == 1:
                for media_type, media in body["content"].items():
                    where = pointer("paths", path, method, "requestBody", "content", media_type, "schema")
                    hoist(media, f"{prefix}Request", where)
            for status, response in (raw.get("responses") or {}).items():
                if not isinstance(response, dict) or "$ref" in response or not str(status).isdigit():
                    continue
                if not (200 <= int(status) < 300):
                    continue
                for media_type, media in (response.get("content") or {}).items():
                    if media_type == JSON or media_type.endswith("+json"):
                        where = pointer("paths", path, method, "responses", status, "content", media_type, "schema")
                        hoist(media, f"{prefix}{status}Body", where)
    if problems:
        raise SpecError(*problems)
    if schemas:
        hoisted.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
    return hoisted, origins


def _limits(document: dict[str, Any], operations: list[Operation]) -> dict[str, int]:
    """`x-taskapi-limits`, checked: known names, positive integers, and every operation declares the
    status that refuses each limit (any request may carry a body, headers and a target that are too long,
    whether or not the operation reads them)."""
    declared = document.get(LIMITS_EXTENSION, {})
    if not isinstance(declared, dict):
        raise SpecError(f"{LIMITS_EXTENSION} must be a mapping of {', '.join(LIMIT_STATUSES)}")
    limits: dict[str, int] = {}
    for name, value in declared.items():
        if name not in LIMIT_STATUSES:
            raise SpecError(f"{LIMITS_EXTENSION}.{name}: unknown limit (known: {', '.join(LIMIT_STATUSES)})")
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise SpecError(f"{LIMITS_EXTENSION}.{name}: must be a positive integer")
        status = LIMIT_STATUSES[name]
        for op in operations:
            if status not in op.error_statuses:
                raise SpecError(f"{op.operation_id}: {LIMITS_EXTENSION}.{name} is refused with {status}: declare it")
        limits[snake_case(name)] = value
    return limits


def _rate_limit_policies(document: dict[str, Any]) -> dict[str, str]:
    """`x-taskapi-rate-limit-policies`, checked: plain names, each with one limit that `limits` parses."""
    from limits import parse_many  # the notation is the one the server's limiter reads

    declared = document.get(RATE_LIMIT_POLICIES_EXTENSION, {})
    if not isinstance(declared, dict):
        raise SpecError(f"{RATE_LIMIT_POLICIES_EXTENSION} must map policy names to limits such as 20/minute")
    for name, value in declared.items():
        where = f"{RATE_LIMIT_POLICIES_EXTENSION}.{name}"
        if not isinstance(name, str) or not _POLICY_NAME.fullmatch(name):
            raise SpecError(f"{where}: a policy name is lowercase letters, digits and -, starting with a letter")
        try:
            parsed = parse_many(value) if isinstance(value, str) else []
        except ValueError:
            parsed = []
        if len(parsed) != 1:
            raise SpecError(f"{where}: {value!r} is not one limit such as 20/minute or 3 per 2 seconds")
    return {str(name): str(value) for name, value in declared.items()}


def _with_rate_limits(
    op: Operation, document: dict[str, Any], policies: dict[str, str], resolver: Resolver
) -> Operation:
    """The operation with its `x-taskapi-rate-limits`, checked: known policies, each once, keys the glue
    can know (`user` only when authenticated, `body.<p>` only for a required string property of the
    body), and the statuses a limited operation answers declared."""
    raw = document["paths"][op.path][op.method.lower()]
    declared = raw.get(RATE_LIMITS_EXTENSION, [])
    where = f"{op.operation_id}: {RATE_LIMITS_EXTENSION}"
    if not isinstance(declared, list):
        raise SpecError(f"{where} must be a list of {{policy, key}}")
    limits: list[RateLimit] = []
    for item in declared:
        if not isinstance(item, dict) or set(item) != {"policy", "key"}:
            raise SpecError(f"{where}: each item has exactly a policy and a key, not {item!r}")
        limit = RateLimit(policy=str(item["policy"]), key=str(item["key"]))
        if limit.policy not in policies:
            raise SpecError(f"{where}: unknown policy {limit.policy} (declared: {', '.join(policies) or 'none'})")
        if any(other.policy == limit.policy for other in limits):
            raise SpecError(f"{where}: policy {limit.policy} is applied twice")
        if limit.key not in ("client", "user") and limit.body_property is None:
            raise SpecError(f"{where}: unknown key {limit.key} (client, user or body.<property>)")
        if limit.key == "user" and not op.secured:
            raise SpecError(f"{where}: policy {limit.policy} is keyed by user, but the operation is public")
        if limit.body_property is not None:
            _check_body_key(op, limit, resolver, where)
        limits.append(limit)
    for status in RATE_LIMIT_STATUSES if limits else ():
        if status not in op.error_statuses:
            raise SpecError(f"{where}: a rate-limited operation answers {status}: declare it")
    return replace(op, rate_limits=tuple(limits))


def _check_body_key(op: Operation, limit: RateLimit, resolver: Resolver, where: str) -> None:
    name = str(limit.body_property)
    if op.body_model is None:
        raise SpecError(f"{where}: policy {limit.policy} is keyed by {limit.key}, but the operation has no body")
    body = resolver.resolve({"$ref": f"#/components/schemas/{op.body_model}"})
    prop = body.get("properties", {}).get(name)
    if name not in body.get("required", []) or prop is None or resolver.resolve(prop).get("type") != "string":
        raise SpecError(f"{where}: {limit.key} must be a required string property of {op.body_model}")
    if not name.isidentifier() or keyword.iskeyword(name):
        raise SpecError(f"{where}: {limit.key} must be a property whose name is a Python identifier")


def _bearer_schemes(document: dict[str, Any]) -> set[str]:
    """The security schemes, each of which must present a bearer token (`Authorization: Bearer …`)."""
    names: set[str] = set()
    for name, scheme in document.get("components", {}).get("securitySchemes", {}).items():
        bearer = scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() == "bearer"
        if not bearer and scheme.get("type") != "oauth2":
            raise SpecError(f"securitySchemes.{name}: only bearer schemes (http bearer, oauth2) are supported")
        names.add(name)
    return names


def _security(raw: dict[str, Any], default: list[dict[str, Any]], schemes: set[str]) -> tuple[str, ...]:
    requirements = raw.get("security", default)
    names: list[str] = []
    for requirement in requirements:
        if not requirement:
            # `{}` among the alternatives means anonymous access is allowed: the operation is public.
            return ()
        for name, scopes in requirement.items():
            if name not in schemes:
                raise SpecError(f"{raw.get('operationId')}: unknown security scheme {name}")
            if scopes:
                raise SpecError(f"{raw.get('operationId')}: scopes are not supported")
            if name not in names:
                names.append(name)
    return tuple(names)


def _all_responses(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(_responses_by_place(document).values())


def _responses_by_place(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every response object of the document (components' and operations' own), by where it is."""
    resolver = Resolver(document)
    found = {
        f"components.responses.{name}": resolver.resolve(r)
        for name, r in document.get("components", {}).get("responses", {}).items()
    }
    for path, item in document.get("paths", {}).items():
        for method in HTTP_METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                if "$ref" not in response:
                    found[f"{method.upper()} {path} {status}"] = resolver.resolve(response)
    return found


class Resolver:
    """Follows a document's local `$ref`s (`#/components/...`); other references are refused."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise SpecError(f"only local references are supported, not {ref!r}")
            target: Any = self.document
            for part in ref[2:].split("/"):
                key = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(target, dict) or key not in target:
                    raise SpecError(f"unresolvable reference {ref!r}")
                target = target[key]
            node = target
        return node

    @staticmethod
    def ref_name(node: dict[str, Any], where: str) -> str:
        ref = node.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/components/schemas/"):
            raise SpecError(f"{where}: bodies must be a $ref to components.schemas (keep shapes reusable)")
        return ref.rsplit("/", 1)[1]


def _check_schema(schema: Any, where: str, problems: list[str], *, file_parts: bool = False) -> None:
    """Add to `problems` every place under `schema` (at the JSON pointer `where`) that uses a keyword the
    generated server cannot honour. `file_parts`: the schema is a multipart body's, whose properties may be
    files (`format: binary`)."""
    if isinstance(schema, dict) and file_parts:
        for name, sub in (schema.get("properties") or {}).items():
            if isinstance(sub, dict) and sub.get("format") == FILE_FORMAT and sub.get("type") == "string":
                sub = {key: value for key, value in sub.items() if key != "format"}  # a file part
            _check_schema(sub, f"{where}/properties/{escape(name)}", problems)
        schema = {key: value for key, value in schema.items() if key != "properties"}
    if isinstance(schema, bool):
        return
    if not isinstance(schema, dict):
        problems.append(f"{where}: a schema must be an object")
        return
    fmt = schema.get("format")
    if fmt is not None and fmt not in ASSERTED_FORMATS | INTEGER_FORMATS.keys() | DOCUMENTING_FORMATS:
        problems.append(
            f"{where}/format: format {fmt} would be checked by no one; use a pattern (or a format the server "
            "checks: date-time, date, time, uuid, email, uri, ipv4, ipv6, …)"
        )
    unknown = sorted(set(schema) - SUPPORTED_KEYWORDS - VALIDATION_ONLY_KEYWORDS)
    if unknown:
        problems.append(
            f"{where}: the generated server cannot enforce {', '.join(unknown)}; "
            "express the rule with supported keywords or extend codegen/"
        )
    for key in _SCHEMA_MAPS:
        for name, sub in (schema.get(key) or {}).items():
            _check_schema(sub, f"{where}/{key}/{escape(name)}", problems)
    for key in _SUBSCHEMAS:
        if isinstance(schema.get(key), dict):
            _check_schema(schema[key], f"{where}/{key}", problems)
    for key in _SCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key) or []):
            _check_schema(sub, f"{where}/{key}/{index}", problems)
    discriminator = schema.get("discriminator")
    if discriminator is not None and (not isinstance(discriminator, dict) or "oneOf" not in schema):
        problems.append(f"{where}/discriminator: a discriminator goes beside a oneOf of object schemas")


def _operation(
    path: str,
    method: str,
    raw: dict[str, Any],
    shared: list[dict[str, Any]],
    resolver: Resolver,
    security: tuple[str, ...],
    problems: list[str],
) -> Operation:
    operation_id = raw.get("operationId")
    if (
        not isinstance(operation_id, str)
        or not OPERATION_ID.fullmatch(operation_id)
        or keyword.iskeyword(snake_case(operation_id))
    ):
        raise SpecError(
            f"{pointer('paths', path, method, 'operationId')}: needs an operationId of letters and digits "
            "(camelCase, kebab-case or snake_case), from which the handler's method is named"
        )
    where = operation_id
    tags = raw.get("tags") or []
    if len(tags) != 1:
        raise SpecError(f"{where}: needs exactly one tag (handlers are grouped by tag)")

    by_key: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    own = raw.get("parameters", [])
    places = [
        *((item, pointer("paths", path, "parameters", index)) for index, item in enumerate(shared)),
        *((item, pointer("paths", path, method, "parameters", index)) for index, item in enumerate(own)),
    ]
    for item, place in places:
        param = resolver.resolve(item)
        ref = item.get("$ref")
        by_key[(param["name"], param["in"])] = (param, ref if isinstance(ref, str) else place)
    found: list[Parameter] = []
    for param, place in by_key.values():
        try:
            found.append(_parameter(param, where, resolver, place, problems))
        except SpecError as exc:
            problems.extend(exc.problems)
    parameters = tuple(found)
    names = [p.python_name for p in parameters]
    if len(set(names)) != len(names):
        raise SpecError(f"{where}: two parameters share the Python name in {names}")

    body_model: str | None = None
    body_media_type: str | None = None
    files: tuple[FilePart, ...] = ()
    if "requestBody" in raw:
        body = resolver.resolve(raw["requestBody"])
        content = body.get("content", {})
        if len(content) != 1 or next(iter(content)) not in BODY_MEDIA_TYPES or not body.get("required", False):
            raise SpecError(
                f"{where}: a request body must be required and have one media type: {', '.join(BODY_MEDIA_TYPES)}"
            )
        body_media_type, media = next(iter(content.items()))
        schema_node = media["schema"]
        body_model = resolver.ref_name(schema_node, f"{where}.requestBody")
        target = resolver.resolve(schema_node)
        if body_media_type == FORM:
            _check_form(target, where, resolver)
        if body_media_type == MULTIPART:
            files = _file_parts(target, media.get("encoding") or {}, where, resolver)

    responses: list[SuccessResponse] = []
    errors: list[int] = []
    declared: list[DeclaredResponse] = []
    for status_text, response_node in raw.get("responses", {}).items():
        if not str(status_text).isdigit():
            raise SpecError(f"{where}: response {status_text!r}: declare explicit status codes, not ranges")
        status = int(status_text)
        response = resolver.resolve(response_node)
        declared.append(DeclaredResponse(status, tuple(str(name) for name in response.get("headers", {}))))
        if 200 <= status < 300 or status == NOT_MODIFIED:
            responses.append(_success(status, response, where, resolver))
        else:
            errors.append(status)
    if not any(200 <= response.status < 300 for response in responses):
        raise SpecError(f"{where}: declares no 2xx response")
    if any(p.location == "header" for p in parameters) and BAD_HEADER_STATUS not in errors:
        raise SpecError(
            f"{where}: has a header parameter, so it must declare {BAD_HEADER_STATUS}, the answer to a malformed one"
        )
    return Operation(
        operation_id=operation_id,
        method=method.upper(),
        path=path,
        tag=tags[0],
        summary=str(raw.get("summary", operation_id)),
        parameters=parameters,
        security=security,
        body_model=body_model,
        body_media_type=body_media_type,
        responses=tuple(responses),
        error_statuses=tuple(errors),
        declared_responses=tuple(declared),
        files=files,
    )


def _file_parts(
    schema: dict[str, Any], encoding: dict[str, Any], where: str, resolver: Resolver
) -> tuple[FilePart, ...]:
    """A multipart body's file parts (`format: binary` properties, with their `encoding`); its other
    parts are text, as a form's fields."""
    files: list[FilePart] = []
    for name, node in schema.get("properties", {}).items():
        prop = resolver.resolve(node)
        if prop.get("format") == FILE_FORMAT:
            declared = str(encoding.get(name, {}).get("contentType", DEFAULT_FILE_MEDIA_TYPE))
            media_types = tuple(part.strip().lower() for part in declared.split(",") if part.strip())
            if any("*" in media_type and not media_type.endswith("/*") for media_type in media_types):
                raise SpecError(f"{where}: part {name}: a media type range is `type/*`, not {declared}")
            max_length = prop.get("maxLength")
            files.append(FilePart(name, media_types, max_length if isinstance(max_length, int) else None))
        elif prop.get("type") != "string":
            raise SpecError(f"{where}: multipart field {name} must be a string, or a file (format: binary)")
    for name in encoding:
        if name not in {file.name for file in files}:
            raise SpecError(f"{where}: encoding.{name} names no file part (format: binary) of the body")
    return tuple(files)


def _check_form(schema: dict[str, Any], where: str, resolver: Resolver) -> None:
    # Form fields are text: only string properties arrive as what the schema says.
    for name, prop in schema.get("properties", {}).items():
        if resolver.resolve(prop).get("type") != "string":
            raise SpecError(f"{where}: form field {name} must be a string")


def _parameter(param: dict[str, Any], where: str, resolver: Resolver, place: str, problems: list[str]) -> Parameter:
    name, location = param["name"], param["in"]
    if location not in PARAMETER_STYLES:
        raise SpecError(f"{place}: parameter {name} is in {location}; only path, query, header and cookie are read")
    style = param.get("style", PARAMETER_STYLES[location])
    if style != PARAMETER_STYLES[location]:
        raise SpecError(
            f"{place}: parameter {name} uses style {style}; the generated parser reads form (query, cookie) and "
            "simple (path, header)"
        )
    if "content" in param:
        raise SpecError(f"{place}: parameter {name} has a content (a media type); the generated parser reads schemas")
    schema = param.get("schema", {})
    _check_schema(schema, f"{place}/schema", problems)
    resolved = resolver.resolve(schema)
    json_type = resolved.get("type")
    item_type: str | None = None
    if json_type == "array" and location == "cookie":
        raise SpecError(f"{place}/schema: cookie parameter {name} must be a scalar (a cookie holds one value)")
    if json_type == "array":
        item_type = resolver.resolve(resolved.get("items", {})).get("type")
        if item_type not in PARAMETER_TYPES:
            raise SpecError(
                f"{place}/schema/items: the items of parameter {name} must be of one scalar type "
                f"({', '.join(sorted(PARAMETER_TYPES))})"
            )
    elif json_type not in PARAMETER_TYPES:
        raise SpecError(
            f"{place}/schema: parameter {name} must be a scalar ({', '.join(sorted(PARAMETER_TYPES))}) "
            "or an array of them"
        )
    return Parameter(
        name=name,
        location=location,
        required=bool(param.get("required", location == "path")),
        json_type=str(json_type),
        schema=schema,
        item_type=item_type,
        exploded=location == "query" and bool(param.get("explode", True)),
    )


def _success(status: int, response: dict[str, Any], where: str, resolver: Resolver) -> SuccessResponse:
    content = response.get("content", {})
    if status == NOT_MODIFIED and content:
        raise SpecError(f"{where}: a 304 response has no body (RFC 9110, section 15.4.5)")
    body_model: str | None = None
    media_type: str | None = None
    if content:
        if len(content) != 1:
            raise SpecError(f"{where}: a {status} response must have one media type")
        media_type, media = next(iter(content.items()))
        if media_type == "text/event-stream":
            raise SpecError(
                f"{where}: the {status} response is a stream ({media_type}); the generated server renders whole bodies"
            )
        if media_type.startswith("text/"):
            # Text as it is (the Prometheus format, say): the handler returns a str.
            if resolver.resolve(media.get("schema", {})).get("type") != "string":
                raise SpecError(f"{where}: the {media_type} body of a {status} response must be a string")
        elif media_type == JSON or media_type.endswith("+json"):
            body_model = resolver.ref_name(media.get("schema", {}), f"{where}.responses.{status}")
        elif media_type.endswith(("/xml", "+xml")) or "*" in media_type or "," in media_type:
            raise SpecError(
                f"{where}: the {status} response is {media_type}; the generated server renders JSON, text and "
                "binary bodies of one declared media type (no XML)"
            )
        else:
            # Bytes as they are (an image/png, an application/pdf): the handler returns bytes. OpenAPI 3.1
            # spells such a body `type: string` with `contentMediaType`, or (3.0's way) `format: binary`.
            schema = resolver.resolve(media.get("schema", {"type": "string"}))
            if schema.get("type") != "string" or "contentEncoding" in schema:
                raise SpecError(
                    f"{where}: the {media_type} body of a {status} response must be raw bytes: "
                    "{type: string, contentMediaType: ...} (or format: binary)"
                )
    headers: list[Header] = []
    for name, header_node in response.get("headers", {}).items():
        header = resolver.resolve(header_node)
        if header.get(MIDDLEWARE_EXTENSION):
            continue  # set on every response by middleware, not by the handler
        schema = resolver.resolve(header.get("schema", {}))
        json_type = schema.get("type")
        if json_type not in ("string", "integer"):
            raise SpecError(f"{where}: response header {name} must be a string or an integer")
        headers.append(
            Header(
                name=name,
                required=bool(header.get("required", False)),
                json_type=str(json_type),
                const=schema.get("const"),
                uri_reference=schema.get("format") == "uri-reference",
            )
        )
    # Fields with defaults (const or optional headers) come last in the generated dataclass.
    headers.sort(key=lambda h: h.default is not None)
    return SuccessResponse(status=status, body_model=body_model, media_type=media_type, headers=tuple(headers))
