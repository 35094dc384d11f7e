# DO NOT EDIT. Generated from openapi.yaml by codegen/ (`make generate`); `make check` fails when stale.

"""The operations of taskapi 0.1.0: response types, handler interfaces and routes.

Implement each `...Handlers` protocol (one per tag) and pass the objects to `build_routes()`: mypy proves
every operation has a handler with the right types, and `build_routes()` refuses to start without one.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from . import models, runtime


@dataclasses.dataclass(frozen=True, slots=True)
class ListTasks200Response:
    """The 200 response of listTasks."""

    body: models.TaskPage

    def render(self) -> Response:
        """This response on the wire."""
        return runtime.json_response(self.body, 200)


ListTasksResponse = ListTasks200Response


@dataclasses.dataclass(frozen=True, slots=True)
class CreateTask201Response:
    """The 201 response of createTask."""

    body: models.Task
    location: str
    """The `Location` header."""

    def render(self) -> Response:
        """This response on the wire."""
        headers: dict[str, str] = {}
        headers["Location"] = str(self.location)
        return runtime.json_response(self.body, 201, headers)


CreateTaskResponse = CreateTask201Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetTask200Response:
    """The 200 response of getTask."""

    body: models.Task

    def render(self) -> Response:
        """This response on the wire."""
        return runtime.json_response(self.body, 200)


GetTaskResponse = GetTask200Response


@dataclasses.dataclass(frozen=True, slots=True)
class DeleteTask204Response:
    """The 204 response of deleteTask."""

    def render(self) -> Response:
        """This response on the wire."""
        return runtime.empty_response(204)


DeleteTaskResponse = DeleteTask204Response


@dataclasses.dataclass(frozen=True, slots=True)
class UpdateTask200Response:
    """The 200 response of updateTask."""

    body: models.Task

    def render(self) -> Response:
        """This response on the wire."""
        return runtime.json_response(self.body, 200)


UpdateTaskResponse = UpdateTask200Response


@dataclasses.dataclass(frozen=True, slots=True)
class CompleteTask200Response:
    """The 200 response of completeTask."""

    body: models.Task

    def render(self) -> Response:
        """This response on the wire."""
        return runtime.json_response(self.body, 200)


CompleteTaskResponse = CompleteTask200Response


@dataclasses.dataclass(frozen=True, slots=True)
class GetHealth200Response:
    """The 200 response of getHealth."""

    body: models.Health

    def render(self) -> Response:
        """This response on the wire."""
        return runtime.json_response(self.body, 200)


GetHealthResponse = GetHealth200Response


class TasksHandlers(Protocol):
    """The operations tagged `tasks`."""

    async def list_tasks(self, params: models.ListTasksParams) -> ListTasksResponse:
        """listTasks: GET /tasks — List tasks."""
        ...

    async def create_task(self, body: models.TaskCreate) -> CreateTaskResponse:
        """createTask: POST /tasks — Create a task."""
        ...

    async def get_task(self, params: models.GetTaskParams) -> GetTaskResponse:
        """getTask: GET /tasks/{task_id} — Get a task."""
        ...

    async def delete_task(self, params: models.DeleteTaskParams) -> DeleteTaskResponse:
        """deleteTask: DELETE /tasks/{task_id} — Delete a task."""
        ...

    async def update_task(self, params: models.UpdateTaskParams, body: models.TaskUpdate) -> UpdateTaskResponse:
        """updateTask: PATCH /tasks/{task_id} — Update a task."""
        ...

    async def complete_task(self, params: models.CompleteTaskParams) -> CompleteTaskResponse:
        """completeTask: PATCH /tasks/{task_id}/complete — Mark a task completed."""
        ...


class MetaHandlers(Protocol):
    """The operations tagged `meta`."""

    async def get_health(self) -> GetHealthResponse:
        """getHealth: GET /healthz — Liveness check."""
        ...


OPERATIONS: tuple[runtime.OperationInfo, ...] = (
    runtime.OperationInfo("listTasks", "GET", "/tasks", "tasks", "list_tasks"),
    runtime.OperationInfo("createTask", "POST", "/tasks", "tasks", "create_task"),
    runtime.OperationInfo("getTask", "GET", "/tasks/{task_id}", "tasks", "get_task"),
    runtime.OperationInfo("deleteTask", "DELETE", "/tasks/{task_id}", "tasks", "delete_task"),
    runtime.OperationInfo("updateTask", "PATCH", "/tasks/{task_id}", "tasks", "update_task"),
    runtime.OperationInfo("completeTask", "PATCH", "/tasks/{task_id}/complete", "tasks", "complete_task"),
    runtime.OperationInfo("getHealth", "GET", "/healthz", "meta", "get_health"),
)
"""Every operation of the spec, in document order."""


def build_routes(*, tasks: TasksHandlers, meta: MetaHandlers) -> list[BaseRoute]:
    """One route per path of the spec, each method bound to its handler."""
    runtime.require_handlers(
        {
            "tasks": tasks,
            "meta": meta,
        },
        OPERATIONS,
    )

    async def list_tasks(request: Request) -> Response:
        params = runtime.parse_parameters(
            models.ListTasksParams,
            (
                ("limit", "query", "integer", request.query_params.get("limit")),
                ("cursor", "query", "string", request.query_params.get("cursor")),
                ("completed", "query", "boolean", request.query_params.get("completed")),
                ("priority", "query", "integer", request.query_params.get("priority")),
            ),
        )
        result = await tasks.list_tasks(params)
        return result.render()

    async def create_task(request: Request) -> Response:
        body = runtime.validate_body(
            models.TaskCreate,
            await runtime.read_json_body(request),
            min_properties=None,
            max_properties=None,
        )
        result = await tasks.create_task(body)
        return result.render()

    async def get_task(request: Request) -> Response:
        params = runtime.parse_parameters(
            models.GetTaskParams,
            (("task_id", "path", "integer", request.path_params.get("task_id")),),
        )
        result = await tasks.get_task(params)
        return result.render()

    async def delete_task(request: Request) -> Response:
        params = runtime.parse_parameters(
            models.DeleteTaskParams,
            (("task_id", "path", "integer", request.path_params.get("task_id")),),
        )
        result = await tasks.delete_task(params)
        return result.render()

    async def update_task(request: Request) -> Response:
        params = runtime.parse_parameters(
            models.UpdateTaskParams,
            (("task_id", "path", "integer", request.path_params.get("task_id")),),
        )
        body = runtime.validate_body(
            models.TaskUpdate,
            await runtime.read_json_body(request),
            min_properties=1,
            max_properties=None,
        )
        result = await tasks.update_task(params, body)
        return result.render()

    async def complete_task(request: Request) -> Response:
        params = runtime.parse_parameters(
            models.CompleteTaskParams,
            (("task_id", "path", "integer", request.path_params.get("task_id")),),
        )
        result = await tasks.complete_task(params)
        return result.render()

    async def get_health(request: Request) -> Response:
        result = await meta.get_health()
        return result.render()

    return [
        runtime.OperationRoute(
            "/tasks",
            {
                "GET": (OPERATIONS[0], list_tasks),
                "POST": (OPERATIONS[1], create_task),
            },
        ),
        runtime.OperationRoute(
            "/tasks/{task_id}",
            {
                "GET": (OPERATIONS[2], get_task),
                "DELETE": (OPERATIONS[3], delete_task),
                "PATCH": (OPERATIONS[4], update_task),
            },
        ),
        runtime.OperationRoute(
            "/tasks/{task_id}/complete",
            {
                "PATCH": (OPERATIONS[5], complete_task),
            },
        ),
        runtime.OperationRoute(
            "/healthz",
            {
                "GET": (OPERATIONS[6], get_health),
            },
        ),
    ]
