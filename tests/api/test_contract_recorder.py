"""The contract recorder in-process (TASKAPI_CONTRACT_RECORD_DIR): each answer counted under the operation
dispatch chose, or the one its method and path match when it was refused before dispatch; the declared
request and response headers counted, no other; written when the app's lifespan ends."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import anyio
import httpx
import pytest
from fastapi import FastAPI

from taskapi.app import create_app
from taskapi.auth import Tokens
from taskapi.generated.server import LIMITS
from taskapi.recorder import FORMAT, ContractRecorder, recording
from taskapi.settings import Settings
from taskapi.storage import database_at
from taskapi.testing.clock import ManualClock

pytestmark = pytest.mark.anyio

Answers = dict[tuple[str | None, int], dict[str, Any]]


@pytest.fixture
def record_dir(tmp_path: Path) -> Path:
    return tmp_path / "recordings"


@pytest.fixture
def settings(settings: Settings, record_dir: Path) -> Settings:
    return settings.model_copy(update={"contract_record_dir": record_dir})


@pytest.fixture
async def token(settings: Settings, tokens: Tokens, password_hash: str, clock: ManualClock) -> str:
    db = database_at(settings.database_url)
    await db.open()
    try:
        user = await db.users.add(username="alice", password_hash=password_hash, now=clock.now())
    finally:
        await db.close()
    assert user is not None
    return tokens.issue(user.id)


@asynccontextmanager
async def serving(
    settings: Settings, clock: ManualClock, token: str | None = None, root_path: str = ""
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a new app, whose lifespan ends (and recording is written) when the block does."""
    app = create_app(settings, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, root_path=root_path)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
            yield http


def recorded(directory: Path) -> Answers:
    """The one file of this process in `directory`, by (operation, status)."""
    [path] = directory.glob("*.json")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["format"] == FORMAT
    assert path.name.startswith(f"{document['pid']}-")
    return {(answer["operation"], answer["status"]): answer for answer in document["answers"]}


async def test_answers_are_counted_under_their_operation_with_their_declared_headers(
    settings: Settings, clock: ManualClock, token: str, record_dir: Path
) -> None:
    async with serving(settings, clock, token) as http:
        key = {"Idempotency-Key": "k-1", "X-Custom": "not declared", "If-Match": '"1"'}  # If-Match: not createTask's
        created = await http.post("/tasks", json={"title": "one"}, headers=key)
        assert created.status_code == 201
        assert (await http.post("/tasks", json={"title": "one"}, headers=key)).headers["idempotent-replayed"] == "true"
        etag = created.headers["etag"]
        assert (await http.get(created.headers["location"], headers={"If-None-Match": etag})).status_code == 304
        assert (await http.post("/tasks", json={"title": ""})).status_code == 422
        assert not await anyio.Path(record_dir).exists()  # written when the lifespan ends

    answers = recorded(record_dir)
    created_answers = answers[("createTask", 201)]
    assert created_answers["count"] == 2
    assert created_answers["request_headers"] == {"Authorization": 2, "Idempotency-Key": 2}
    assert created_answers["response_headers"] == {
        "Cache-Control": 2,
        "ETag": 2,
        "Idempotent-Replayed": 1,  # the replay's only
        "Location": 2,
        "RateLimit": 2,
        "RateLimit-Policy": 2,
        "X-Content-Type-Options": 2,
        "X-Request-ID": 2,
    }
    not_modified = answers[("getTask", 304)]
    assert not_modified["request_headers"] == {"Authorization": 1, "If-None-Match": 1}
    assert not_modified["response_headers"]["ETag"] == 1
    # The 422 carries the RateLimit fields too, but the spec does not declare them on it: not counted.
    invalid = answers[("createTask", 422)]
    assert invalid["count"] == 1
    assert invalid["request_headers"] == {"Authorization": 1}
    assert set(invalid["response_headers"]) == {"Cache-Control", "X-Content-Type-Options", "X-Request-ID"}


async def test_a_request_refused_before_dispatch_is_its_operations(
    settings: Settings, clock: ManualClock, token: str, record_dir: Path
) -> None:
    async with serving(settings, clock, token) as http:
        big = b"x" * (LIMITS.max_body_bytes + 1)
        assert (await http.post("/tasks", content=big, headers={"content-type": "application/json"})).status_code == 413
        assert (await http.get("/tasks", params={"cursor": "1" * LIMITS.max_url_bytes})).status_code == 414
        assert (await http.get("/tasks/7", headers={"x-pad": "p" * LIMITS.max_header_bytes})).status_code == 431
        assert (await http.head("/tasks/7", headers={"x-pad": "p" * LIMITS.max_header_bytes})).status_code == 431
        padded = {"If-Match": "p" * LIMITS.max_header_bytes}
        assert (await http.patch("/tasks/7/complete", headers=padded)).status_code == 431

    answers = recorded(record_dir)
    assert answers[("createTask", 413)]["count"] == 1
    assert answers[("listTasks", 414)]["count"] == 1
    assert answers[("getTask", 431)]["count"] == 2  # HEAD is GET's
    assert answers[("getTask", 431)]["request_headers"] == {"Authorization": 2}
    assert answers[("completeTask", 431)]["request_headers"] == {"Authorization": 1, "If-Match": 1}
    for answer in answers.values():
        assert set(answer["response_headers"]) == {"Cache-Control", "X-Content-Type-Options", "X-Request-ID"}
        assert set(answer["response_headers"].values()) == {answer["count"]}


async def test_below_a_root_path_the_operation_is_matched_on_the_path_below_it(
    settings: Settings, clock: ManualClock, token: str, record_dir: Path
) -> None:
    async with serving(settings, clock, token, root_path="/api") as http:
        assert (await http.get("/api/tasks/7", headers={"x-pad": "p" * LIMITS.max_header_bytes})).status_code == 431
        assert (await http.get("/api/tasks")).status_code == 200
    answers = recorded(record_dir)
    assert set(answers) == {("getTask", 431), ("listTasks", 200)}


async def test_requests_of_no_operation_are_counted_under_none(
    settings: Settings, clock: ManualClock, token: str, record_dir: Path
) -> None:
    async with serving(settings, clock, token) as http:
        assert (await http.get("/nowhere")).status_code == 404
        assert (await http.put("/tasks")).status_code == 405  # the path is the spec's, the method is not
        assert (await http.get("/openapi.json")).status_code == 200
        assert (await http.get("/nowhere", headers={"x-pad": "p" * LIMITS.max_header_bytes})).status_code == 431
    answers = recorded(record_dir)
    assert set(answers) == {(None, 404), (None, 405), (None, 200), (None, 431)}
    assert all(answer["request_headers"] == answer["response_headers"] == {} for answer in answers.values())


async def test_the_apps_of_a_process_add_to_one_file(
    settings: Settings, clock: ManualClock, token: str, record_dir: Path
) -> None:
    for _ in range(2):
        async with serving(settings, clock, token) as http:
            assert (await http.get("/healthz")).status_code == 200
        assert recorded(record_dir)[("getHealth", 200)]["count"] == _ + 1
    async with serving(settings, clock, token):
        pass  # an app that answered nothing leaves the file as it was
    assert recorded(record_dir)[("getHealth", 200)]["count"] == 2


async def test_requests_to_an_app_that_has_shut_down_are_written_by_the_next_to_end(
    settings: Settings, clock: ManualClock, token: str, record_dir: Path
) -> None:
    closed = create_app(settings, clock=clock)
    async with closed.router.lifespan_context(closed):
        pass
    transport = httpx.ASGITransport(app=closed, raise_app_exceptions=False)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as http:
        assert (await http.get("/tasks")).status_code == 503
    async with serving(settings, clock, token):
        pass
    assert recorded(record_dir)[("listTasks", 503)]["response_headers"]["Retry-After"] == 1


def test_recording_is_off_by_default(settings: Settings) -> None:
    def recorders(app: FastAPI) -> list[object]:
        return [middleware for middleware in app.user_middleware if cast(object, middleware.cls) is ContractRecorder]

    assert len(recorders(create_app(settings))) == 1
    assert Settings.model_fields["contract_record_dir"].default is None
    assert recorders(create_app(settings.model_copy(update={"contract_record_dir": None}))) == []
    assert Settings(contract_record_dir="").contract_record_dir is None


async def test_a_recording_that_cannot_be_written_is_logged_and_the_shutdown_goes_on(
    settings: Settings, clock: ManualClock, token: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    unwritable = settings.model_copy(update={"contract_record_dir": blocked})
    async with serving(unwritable, clock, token) as http:
        assert (await http.get("/healthz")).status_code == 200
    [logged] = [r.getMessage() for r in caplog.records if r.name == "taskapi.recorder"]
    assert logged.startswith(f"could not write the contract recording to {blocked}: ")
    # The counts are kept for the next write (another app's lifespan end, or the process's exit).
    blocked.unlink()
    recording(blocked).save()
    assert recorded(blocked)[("getHealth", 200)]["count"] == 1
