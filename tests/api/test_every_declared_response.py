"""Every operation answers, as the spec's problem document, the statuses it declares that no other part of
the suite produces for each: 413, 414 and 431 (the app's request limits); 415 (a body of another media
type); 500 (an unexpected exception in its
handler); 503 (a closed database, a rate limiter failing closed without its Redis, past the connection cap
of `taskapi serve`'s protocol); 429 (a spent rate limit). The operations and what each declares come from
the spec (`server.OPERATIONS`, codegen's model of openapi.yaml), not from a list kept here: a status the
spec adds to an operation is produced here, or the contract coverage report names it as missing."""

from __future__ import annotations

import dataclasses
import importlib
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from codegen.spec import Operation, Resolver, Spec, load
from fastapi import FastAPI

from taskapi.app import create_app
from taskapi.generated.server import LIMITS, OPERATIONS
from taskapi.recorder import Recorder
from taskapi.runtime import OperationInfo
from taskapi.serving import ConnectionLimits, http_protocol
from taskapi.settings import Settings
from taskapi.testing.clock import ManualClock
from taskapi.testing.liveserver import refused_port
from tests.api.conftest import User
from tests.api.problems import assert_problem
from tests.conftest import ROOT
from tests.integration.test_serving import exchange, serving

pytestmark = pytest.mark.anyio

SPEC = load(ROOT / "openapi.yaml")
MODEL = {op.operation_id: op for op in SPEC.operations}
RESOLVER = Resolver(SPEC.document)
# The liveness check and the metrics answer without the database (/readyz is the one that asks it).
WITHOUT_A_DATABASE = frozenset({"getHealth", "getMetrics"})


def declaring(status: int) -> list[Any]:
    """A parameter per operation that declares `status`, named after it."""
    return [pytest.param(op, id=op.operation_id) for op in OPERATIONS if status in op.responses]


def rate_limited() -> list[Any]:
    return [pytest.param(op, id=op.operation_id) for op in OPERATIONS if MODEL[op.operation_id].rate_limits]


def request_of(op: OperationInfo) -> tuple[str, str, dict[str, Any]]:
    """A request the operation accepts: its method, its path (every parameter 1), its body's first example."""
    model = MODEL[op.operation_id]
    path = re.sub(r"\{\w+\}", "1", op.path)
    if model.body_media_type is None:
        return op.method, path, {}
    content = SPEC.document["paths"][op.path][op.method.lower()]["requestBody"]["content"][model.body_media_type]
    example = next(iter(content["examples"].values()))["value"]
    return op.method, path, ({"json": example} if model.body_media_type == "application/json" else {"data": example})


def assert_declared(response: httpx.Response, op: OperationInfo, status: int) -> dict[str, Any]:
    """The response is the problem document of `status`, with every header the spec requires on it."""
    problem = assert_problem(response, status)
    raw = SPEC.document["paths"][op.path][op.method.lower()]["responses"][str(status)]
    for name, header in RESOLVER.resolve(raw).get("headers", {}).items():
        if RESOLVER.resolve(header).get("required"):
            assert name in response.headers, f"{op.operation_id} {status} lacks {name}: {dict(response.headers)}"
    return problem


def handler_class(model: Operation) -> type[Any]:
    """The class implementing the operation, by the naming rule (`tasks` -> taskapi.handlers.tasks.TasksHandlers)."""
    module = importlib.import_module(f"taskapi.handlers.{model.tag}")
    handlers: type[Any] = getattr(module, Spec.operations_protocol(model.tag).removesuffix("Operations") + "Handlers")
    return handlers


@pytest.mark.parametrize("op", declaring(413))
async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient, op: OperationInfo) -> None:
    method, path, _ = request_of(op)
    body = b"x" * (LIMITS.max_body_bytes + 1)  # whether or not the operation takes a body
    response = await client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert_declared(response, op, 413)


@pytest.mark.parametrize("op", declaring(414))
async def test_a_target_over_the_limit_is_414(client: httpx.AsyncClient, op: OperationInfo) -> None:
    method, path, body = request_of(op)
    assert_declared(await client.request(method, f"{path}?pad={'p' * LIMITS.max_url_bytes}", **body), op, 414)


@pytest.mark.parametrize("op", declaring(431))
async def test_header_fields_over_the_limit_are_431(client: httpx.AsyncClient, op: OperationInfo) -> None:
    method, path, body = request_of(op)
    padded = {"x-pad": "p" * LIMITS.max_header_bytes}
    assert_declared(await client.request(method, path, headers=padded, **body), op, 431)


@pytest.mark.parametrize("op", declaring(415))
async def test_a_body_of_another_media_type_is_415(client: httpx.AsyncClient, op: OperationInfo) -> None:
    method, path, _ = request_of(op)
    declared = MODEL[op.operation_id].body_media_type
    assert declared is not None, f"{op.operation_id} declares 415 but takes no body"
    response = await client.request(method, path, content=b"title=x", headers={"content-type": "text/plain"})
    assert_declared(response, op, 415)
    assert declared in response.json()["detail"]


@pytest.mark.parametrize("op", declaring(500))
async def test_an_unexpected_failure_in_the_handler_is_a_bare_500(
    client: httpx.AsyncClient, op: OperationInfo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "SELECT password_hash FROM users -- /srv/taskapi/secret.db"

    async def fails(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(secret)

    monkeypatch.setattr(handler_class(MODEL[op.operation_id]), op.handler, fails)
    method, path, body = request_of(op)
    response = await client.request(method, path, **body)
    problem = assert_declared(response, op, 500)
    assert problem["detail"] == "The server failed to handle the request."
    assert set(problem) == {"type", "title", "status", "detail", "instance"}
    assert "password" not in response.text and "secret" not in response.text
    assert any(record.exc_info and record.exc_info[1] is not None for record in caplog.records)  # the log has it


@pytest.mark.postgresql  # the database's own way of being closed
@pytest.mark.parametrize("op", declaring(503))
async def test_a_closed_database_is_503(settings: Settings, clock: ManualClock, alice: User, op: OperationInfo) -> None:
    """As a request that arrives while the server shuts down meets it (tests/api/test_failures.py)."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        pass  # started, then shut down: the database is closed
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {alice.token}"}
    method, path, body = request_of(op)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
        response = await http.request(method, path, **body)
    if op.operation_id in WITHOUT_A_DATABASE:
        assert response.status_code == 200
    else:
        assert_declared(response, op, 503)


@pytest.fixture
def failing_closed(settings: Settings, clock: ManualClock) -> Iterator[FastAPI]:
    """The app counting rate limits in a Redis that does not answer (a port that refuses), failing closed."""
    with refused_port() as port:
        redis = {"redis_url": f"redis://127.0.0.1:{port}/0", "rate_limit_fail_open": False}
        yield create_app(Settings(**{**settings.model_dump(), **redis}), clock=clock)


@pytest.mark.parametrize("op", rate_limited())
async def test_a_rate_limiter_failing_closed_is_503(failing_closed: FastAPI, alice: User, op: OperationInfo) -> None:
    method, path, body = request_of(op)
    async with failing_closed.router.lifespan_context(failing_closed):
        transport = httpx.ASGITransport(app=failing_closed, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {alice.token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
            response = await http.request(method, path, **body)
    assert_declared(response, op, 503)
    assert response.json()["detail"] == "The rate limiter is not available right now; retry in a moment."


@pytest.mark.parametrize("op", rate_limited())
async def test_a_spent_rate_limit_is_429(
    settings: Settings, clock: ManualClock, alice: User, op: OperationInfo
) -> None:
    one_each = dict.fromkeys(SPEC.rate_limit_policies, "1/minute")
    app = create_app(Settings(**{**settings.model_dump(), "rate_limits": one_each}), clock=clock)
    method, path, body = request_of(op)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        headers = {"Authorization": f"Bearer {alice.token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
            await http.request(method, path, **body)  # spends the quota, whatever it answers
            response = await http.request(method, path, **body)
    assert_declared(response, op, 429)
    assert "r=0" in response.headers["ratelimit"]


@pytest.mark.parametrize("op", declaring(503))
async def test_past_the_connection_cap_of_taskapi_serve_every_operation_is_503(
    app: FastAPI, settings: Settings, alice: User, op: OperationInfo
) -> None:
    """Answered by the protocol, before the app (taskapi.serving): recorded like `taskapi serve` records it."""
    limits = dataclasses.replace(ConnectionLimits.from_settings(settings), max_connections=1)
    recorder = Recorder(settings.contract_record_dir) if settings.contract_record_dir is not None else None
    method, path, _ = request_of(op)
    head = f"{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {alice.token}\r\n\r\n".encode()
    async with serving(app, http_protocol("single-write", limits, recorder=recorder)) as port:
        with socket.create_connection(("127.0.0.1", port)):  # the one connection the worker holds
            response = parsed(await exchange(port, head))
    assert_declared(response, op, 503)
    assert response.json()["detail"] == "This server has too many connections; retry in a moment."


def parsed(answer: bytes) -> httpx.Response:
    """One HTTP/1.1 response read off a socket (a problem document: its length is in its header)."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *fields = head.decode("latin-1").split("\r\n")
    headers = [(name, value) for name, _, value in (field.partition(": ") for field in fields)]
    return httpx.Response(int(status_line.split()[1]), headers=headers, content=body)
