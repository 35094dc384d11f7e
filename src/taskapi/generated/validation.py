# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.
"""The spec's schemas, unabridged, as the server validates requests against them (runtime.validation):
components.schemas and each operation's parameters, by name, referring to one another as `#/$defs/<name>`."""

from typing import Any

DEFINITIONS: dict[str, Any] = {
    "Title": {
        "type": "string",
        "description": "A short summary of the task. Must not contain NUL characters.",
        "minLength": 1,
        "maxLength": 200,
        "pattern": "^[^\\u0000]*$",
    },
    "Description": {
        "type": ["string", "null"],
        "description": "Free text about the task, or null. Must not contain NUL characters.",
        "maxLength": 2000,
        "pattern": "^[^\\u0000]*$",
    },
    "Priority": {
        "type": "integer",
        "description": "1 is the lowest priority, 5 the highest.",
        "minimum": 1,
        "maximum": 5,
    },
    "TaskCreate": {
        "type": "object",
        "description": "A new task.",
        "additionalProperties": False,
        "required": ["title"],
        "properties": {
            "title": {"$ref": "#/$defs/Title"},
            "description": {"$ref": "#/$defs/Description"},
            "priority": {"$ref": "#/$defs/Priority", "default": 1},
        },
    },
    "TaskUpdate": {
        "type": "object",
        "description": "The properties to change; at least one.",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "title": {"$ref": "#/$defs/Title"},
            "description": {"$ref": "#/$defs/Description"},
            "priority": {"$ref": "#/$defs/Priority"},
            "completed": {"type": "boolean", "description": "Whether the task is done."},
        },
    },
    "Task": {
        "type": "object",
        "description": "A task.",
        "additionalProperties": False,
        "required": ["id", "title", "description", "priority", "completed", "created_at", "updated_at"],
        "properties": {
            "id": {
                "type": "integer",
                "format": "int64",
                "minimum": 1,
                "maximum": 9223372036854775807,
                "description": "The task's id, assigned by the server.",
            },
            "title": {"$ref": "#/$defs/Title"},
            "description": {"$ref": "#/$defs/Description"},
            "priority": {"$ref": "#/$defs/Priority"},
            "completed": {"type": "boolean", "description": "Whether the task is done."},
            "created_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the task was created (RFC 3339, UTC).",
            },
            "updated_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the task last changed (RFC 3339, UTC).",
            },
        },
    },
    "TaskPage": {
        "type": "object",
        "description": "One page of tasks, oldest first.",
        "additionalProperties": False,
        "required": ["items", "next_cursor"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": "#/$defs/Task"}},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` to read the next page; null on the last page.",
            },
        },
    },
    "Health": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"type": "string", "const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status", "checks"],
        "properties": {
            "status": {"type": "string", "const": "ready"},
            "checks": {
                "type": "object",
                "description": "What was checked; `rate_limit_store` only when rate limits count in Redis.",
                "additionalProperties": False,
                "required": ["database"],
                "properties": {
                    "database": {"type": "string", "const": "ok"},
                    "rate_limit_store": {
                        "type": "string",
                        "description": "`unreachable` "
                        "when Redis does "
                        "not answer and "
                        "the limiter "
                        "fails open "
                        "(still ready).",
                        "enum": ["ok", "unreachable"],
                    },
                },
            },
        },
    },
    "Username": {
        "type": "string",
        "description": "3 to 64 characters; lowercase letters, digits, `.`, `_` and `-`, starting with "
        "a letter or digit.",
        "minLength": 3,
        "maxLength": 64,
        "pattern": "^[a-z0-9][a-z0-9._-]*$",
    },
    "Password": {
        "type": "string",
        "description": "12 to 256 characters; never stored, never returned.",
        "minLength": 12,
        "maxLength": 256,
        "pattern": "^[^\\u0000]*$",
        "writeOnly": True,
    },
    "UserCreate": {
        "type": "object",
        "description": "A new user.",
        "additionalProperties": False,
        "required": ["username", "password"],
        "properties": {"username": {"$ref": "#/$defs/Username"}, "password": {"$ref": "#/$defs/Password"}},
    },
    "User": {
        "type": "object",
        "description": "A user.",
        "additionalProperties": False,
        "required": ["id", "username", "created_at"],
        "properties": {
            "id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807},
            "username": {"$ref": "#/$defs/Username"},
            "created_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the user signed up (RFC 3339, UTC).",
            },
        },
    },
    "PasswordGrant": {
        "type": "object",
        "description": "An OAuth2 password grant request (form-encoded).",
        "additionalProperties": False,
        "required": ["grant_type", "username", "password"],
        "properties": {
            "grant_type": {"type": "string", "const": "password"},
            "username": {"type": "string", "maxLength": 64, "pattern": "^[^\\u0000]*$"},
            "password": {"type": "string", "maxLength": 256, "pattern": "^[^\\u0000]*$", "writeOnly": True},
            "scope": {"type": "string", "maxLength": 1000, "description": "Ignored; taskapi has no scopes."},
            "client_id": {
                "type": "string",
                "maxLength": 200,
                "description": "Ignored; taskapi has no registered clients.",
            },
            "client_secret": {"type": "string", "maxLength": 200, "description": "Ignored."},
        },
    },
    "Token": {
        "type": "object",
        "description": "A bearer token (RFC 6749, section 5.1).",
        "additionalProperties": False,
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string", "description": "Send it as `Authorization: Bearer <access_token>`."},
            "token_type": {"type": "string", "const": "bearer"},
            "expires_in": {"type": "integer", "minimum": 1, "description": "Seconds until the token expires."},
        },
    },
    "Problem": {
        "type": "object",
        "description": "An RFC 9457 problem document.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri-reference",
                "description": "Identifies the kind of problem; `about:blank` when the status code says it all.",
            },
            "title": {"type": "string", "description": "A short summary of the kind of problem."},
            "status": {
                "type": "integer",
                "minimum": 400,
                "maximum": 599,
                "description": "The HTTP status code of this response.",
            },
            "detail": {"type": "string", "description": "What went wrong with this request."},
            "instance": {
                "type": "string",
                "format": "uri-reference",
                "description": "The path of the request that failed.",
            },
            "errors": {
                "type": "array",
                "minItems": 1,
                "description": "For 400 and 422, which parts of the request are wrong, and how.",
                "items": {"$ref": "#/$defs/Violation"},
            },
        },
    },
    "ValidationProblem": {
        "description": "A problem document for a request that violates this document.",
        "allOf": [
            {"$ref": "#/$defs/Problem"},
            {
                "type": "object",
                "required": ["errors"],
                "properties": {"errors": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/Violation"}}},
            },
        ],
    },
    "ViolationLocation": {
        "type": "string",
        "enum": ["body", "path", "query", "header"],
        "description": "Which part of the request is wrong.",
    },
    "Violation": {
        "type": "object",
        "description": "One violation.",
        "additionalProperties": False,
        "required": ["location", "detail"],
        "properties": {
            "location": {"$ref": "#/$defs/ViolationLocation"},
            "pointer": {
                "type": "string",
                "description": 'For `body`, a JSON pointer (RFC 6901) to the offending value (`""` is the whole body).',
            },
            "parameter": {"type": "string", "description": "For `path`, `query` and `header`, the parameter's name."},
            "detail": {"type": "string", "description": "What is wrong with it."},
        },
    },
    "ListTasksParams": {
        "type": "object",
        "description": "The parameters of listTasks.",
        "additionalProperties": False,
        "required": [],
        "properties": {
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "cursor": {"type": "string", "pattern": "^[0-9]{1,19}$"},
            "completed": {"type": "boolean"},
            "priority": {"$ref": "#/$defs/Priority"},
        },
    },
    "CreateTaskParams": {
        "type": "object",
        "description": "The parameters of createTask.",
        "additionalProperties": False,
        "required": [],
        "properties": {"Idempotency-Key": {"type": "string", "pattern": "^[!-~]{1,255}$"}},
    },
    "GetTaskParams": {
        "type": "object",
        "description": "The parameters of getTask.",
        "additionalProperties": False,
        "required": ["task_id"],
        "properties": {
            "task_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807},
            "If-None-Match": {
                "type": "string",
                "maxLength": 256,
                "pattern": '^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
            },
        },
    },
    "DeleteTaskParams": {
        "type": "object",
        "description": "The parameters of deleteTask.",
        "additionalProperties": False,
        "required": ["task_id"],
        "properties": {
            "task_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807},
            "If-Match": {
                "type": "string",
                "maxLength": 256,
                "pattern": '^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
            },
        },
    },
    "UpdateTaskParams": {
        "type": "object",
        "description": "The parameters of updateTask.",
        "additionalProperties": False,
        "required": ["task_id"],
        "properties": {
            "task_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807},
            "If-Match": {
                "type": "string",
                "maxLength": 256,
                "pattern": '^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
            },
        },
    },
    "CompleteTaskParams": {
        "type": "object",
        "description": "The parameters of completeTask.",
        "additionalProperties": False,
        "required": ["task_id"],
        "properties": {
            "task_id": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9223372036854775807},
            "If-Match": {
                "type": "string",
                "maxLength": 256,
                "pattern": '^(\\*|(W/)?"[!#-~]*"([ \\t]*,[ \\t]*(W/)?"[!#-~]*")*)$',
            },
        },
    },
}
