"""The runtime the generated code runs on: hand-written, independent of any one spec, and the only
taskapi code that `taskapi.generated` imports (besides Starlette and Pydantic).

- `routing`: `Dispatch`, the middleware that matches requests to the spec's operations (405 + Allow), by
  `Routes`, which the contract recorder matches with too;
- `requests`: bodies (JSON, forms), text parameters, the bearer token;
- `validation`: the spec's own schemas, which every body and parameter is validated against;
- `responses`: rendering the generated response types;
- `ratelimits`: the `RateLimiter` the glue awaits, `TooManyRequests` (429), the `RateLimit` fields;
- `errors`: `HttpError` and the refusals above, which the application renders as problem+json.
"""

from taskapi.runtime.conditions import EntityTag, EntityTags, entity_tags, if_none_match
from taskapi.runtime.errors import (
    HttpError,
    InvalidRequest,
    MalformedBody,
    MalformedHeader,
    MethodNotAllowed,
    MissingCredentials,
    UnsupportedMediaType,
)
from taskapi.runtime.ratelimits import (
    RATE_LIMITS,
    PolicyState,
    RateLimiter,
    TooManyRequests,
    client_address,
    record,
)
from taskapi.runtime.requests import (
    FilePart,
    bearer_token,
    header_parameter,
    parse_parameters,
    read_form_body,
    read_json_body,
    read_multipart_body,
    validate_body,
)
from taskapi.runtime.responses import binary_response, empty_response, json_response, text_response, under_root
from taskapi.runtime.routing import (
    OPERATION_ID,
    PRINCIPAL,
    ROUTE_TEMPLATE,
    BoundOperation,
    Dispatch,
    Endpoint,
    ErrorRenderer,
    OperationInfo,
    Routes,
    require_authenticator,
    require_handlers,
    route_path,
)
from taskapi.runtime.validation import SchemaValidator, Validators

__all__ = [
    "OPERATION_ID",
    "PRINCIPAL",
    "RATE_LIMITS",
    "ROUTE_TEMPLATE",
    "BoundOperation",
    "Dispatch",
    "Endpoint",
    "EntityTag",
    "EntityTags",
    "ErrorRenderer",
    "FilePart",
    "HttpError",
    "InvalidRequest",
    "MalformedBody",
    "MalformedHeader",
    "MethodNotAllowed",
    "MissingCredentials",
    "OperationInfo",
    "PolicyState",
    "RateLimiter",
    "Routes",
    "SchemaValidator",
    "TooManyRequests",
    "UnsupportedMediaType",
    "Validators",
    "bearer_token",
    "binary_response",
    "client_address",
    "empty_response",
    "entity_tags",
    "header_parameter",
    "if_none_match",
    "json_response",
    "parse_parameters",
    "read_form_body",
    "read_json_body",
    "read_multipart_body",
    "record",
    "require_authenticator",
    "require_handlers",
    "route_path",
    "text_response",
    "under_root",
    "validate_body",
]
