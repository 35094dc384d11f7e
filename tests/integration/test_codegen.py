"""codegen end to end on a copy of the project: drift detection, and spec changes reaching the server
with no hand edit (the designer's loop: edit openapi.yaml -> make generate -> the server enforces it).

codegen runs in-process (`python -m codegen` is its `main()`; `make generate` and `make check` run the
command itself in tests/toolchain/test_designer_guide.py)."""

from __future__ import annotations

import contextlib
import io
import itertools
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import codegen.__main__ as codegen_main
import httpx
import pytest
from codegen.spec import Spec
from fastapi import FastAPI

from taskapi import runtime
from taskapi.auth import Passwords, Tokens
from taskapi.errors import add_exception_handlers, render_error
from taskapi.handlers.auth import AuthHandlers
from taskapi.handlers.meta import MetaHandlers
from taskapi.handlers.security import SecurityHandlers
from taskapi.handlers.tasks import TasksHandlers
from taskapi.handlers.users import UsersHandlers
from taskapi.metrics import Metrics
from taskapi.ratelimit import Unlimited
from taskapi.storage import Database
from tests.conftest import ROOT
from tests.lab.app import import_package

# The module renders each input once (a module fixture): one xdist group, one worker.
pytestmark = pytest.mark.xdist_group("codegen")

GENERATED = Path("src") / "taskapi" / "generated"
_names = itertools.count()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The parts of the project codegen reads and writes, copied."""
    for name in ("openapi.yaml", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / GENERATED, tmp_path / GENERATED, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


@pytest.fixture(scope="module", autouse=True)
def render_each_input_once() -> Iterator[None]:
    """codegen renders each distinct input once in this module: a render is a datamodel-code-generator run
    and six ruff runs, and its output is a function of the spec and pyproject.toml. That it is reproducible
    is shown by the first test below, whose render must equal the committed files, which another run made."""
    rendered: dict[tuple[bytes, bytes], dict[str, bytes]] = {}
    render = codegen_main.render

    def render_once(spec: Spec, spec_bytes: bytes, root: Path = ROOT) -> dict[str, bytes]:
        key = (spec_bytes, (root / "pyproject.toml").read_bytes())
        if key not in rendered:
            rendered[key] = render(spec, spec_bytes, root)
        return dict(rendered[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codegen_main, "render", render_once)
        yield


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def codegen(project: Path, *args: str) -> Result:
    """This repository's codegen (`python -m codegen --root PROJECT ...`), run on the copy."""
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        status = codegen_main.main(["--root", str(project), *args])
    return Result(status, out.getvalue(), err.getvalue())


def edit_spec(project: Path, old: str, new: str) -> None:
    spec = project / "openapi.yaml"
    text = spec.read_text(encoding="utf-8")
    assert old in text
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")


def import_generated(project: Path) -> ModuleType:
    """Import the copy's generated package under a fresh name; return its `server` module."""
    return import_package(project / GENERATED, f"generated_copy_{next(_names)}")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


TOKENS = Tokens(b"codegen-tests-" + b"k" * 40, issuer="taskapi", audience="taskapi", ttl_seconds=600)


def handlers(db: Database) -> dict[str, Any]:
    passwords = Passwords()
    return {
        "tasks": TasksHandlers(db),
        "users": UsersHandlers(db, passwords),
        "auth": AuthHandlers(db, passwords, TOKENS),
        "meta": MetaHandlers(db, Unlimited(), Metrics(), timeout=1.0),
        "security": SecurityHandlers(db, TOKENS),
        "limiter": Unlimited(),  # rate limits are tested in tests/api and tests/contract
    }


async def client_for(server: Any, db: Database) -> httpx.AsyncClient:
    """The regenerated routes over the real handlers, signed in as a user."""
    user = await db.users.add(username="designer", password_hash="not-a-real-hash", now=datetime.now(UTC))
    assert user is not None
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.add_middleware(runtime.Dispatch, operations=server.build_operations(**handlers(db)), on_error=render_error)
    add_exception_handlers(app)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {TOKENS.issue(user.id)}"},
    )


def test_the_committed_code_is_what_the_spec_generates(project: Path) -> None:
    result = codegen(project, "--check")
    assert result.returncode == 0, result.stderr


def test_stale_and_stray_files_are_named(project: Path) -> None:
    (project / GENERATED / "models.py").write_text("# edited by hand\n", encoding="utf-8")
    (project / GENERATED / "stray.py").write_text("", encoding="utf-8")
    result = codegen(project, "--check")
    assert result.returncode == 1
    assert "stale: src/taskapi/generated/models.py" in result.stderr
    assert "not generated: src/taskapi/generated/stray.py" in result.stderr


def test_editing_the_spec_makes_the_code_stale_until_regenerated(project: Path) -> None:
    edit_spec(project, "description: A short summary of the task.", "description: A short summary.")
    assert codegen(project, "--check").returncode == 1
    assert codegen(project).returncode == 0
    assert codegen(project, "--check").returncode == 0


@pytest.mark.anyio
async def test_a_tighter_constraint_reaches_the_server_with_no_hand_edit(project: Path, db: Database) -> None:
    edit_spec(project, "minLength: 1\n      maxLength: 200", "minLength: 1\n      maxLength: 100")
    assert codegen(project).returncode == 0
    async with await client_for(import_generated(project), db) as client:
        rejected = await client.post("/tasks", json={"title": "x" * 101})
        assert rejected.status_code == 422
        assert rejected.json()["errors"][0]["pointer"] == "/title"
        assert (await client.post("/tasks", json={"title": "x" * 100})).status_code == 201


@pytest.mark.anyio
async def test_an_operation_without_a_handler_is_named(project: Path, db: Database) -> None:
    edit_spec(
        project,
        "  /healthz:\n",
        "  /tasks/{task_id}/archive:\n"
        "    post:\n"
        "      tags: [tasks]\n"
        "      operationId: archiveTask\n"
        "      parameters:\n"
        '        - $ref: "#/components/parameters/TaskId"\n'
        "      responses:\n"
        '        "204":\n'
        "          description: Archived.\n"
        "          headers:\n"
        "            X-Content-Type-Options:\n"
        '              $ref: "#/components/headers/NoSniff"\n'
        "            Cache-Control:\n"
        '              $ref: "#/components/headers/NoStore"\n'
        '        "413":\n'
        '          $ref: "#/components/responses/PayloadTooLarge"\n'
        '        "414":\n'
        '          $ref: "#/components/responses/UriTooLong"\n'
        '        "431":\n'
        '          $ref: "#/components/responses/RequestHeaderFieldsTooLarge"\n'
        "  /healthz:\n",
    )
    assert codegen(project).returncode == 0
    server = import_generated(project)
    with pytest.raises(NotImplementedError, match=r"archiveTask \(POST /tasks/\{task_id\}/archive\)"):
        server.build_operations(**handlers(db))


def test_a_response_without_the_fields_the_server_always_sets_is_refused(project: Path) -> None:
    # The server sends nosniff and no-store on every response: a response that does not say so is wrong.
    no_store = '            Cache-Control:\n              $ref: "#/components/headers/NoStore"\n'
    health_body = (
        "          content:\n"
        "            application/json:\n"
        "              schema:\n"
        '                $ref: "#/components/schemas/Health"\n'
    )
    edit_spec(project, no_store + health_body, health_body)
    result = codegen(project)
    assert result.returncode == 2
    assert "GET /healthz 200: does not declare the Cache-Control header" in result.stderr


def test_an_unenforceable_spec_is_refused(project: Path) -> None:
    edit_spec(
        project, "minLength: 1\n      maxLength: 200", "minLength: 1\n      maxLength: 200\n      contentSchema: {}"
    )
    result = codegen(project)
    assert result.returncode == 2
    assert "#/components/schemas/Title: the generated server cannot enforce contentSchema" in result.stderr


# Where a test adds properties to TaskCreate (after `properties:`) and schemas (before it): lines that the
# README's designer guide leaves as they are, so that these tests pass on the spec the guide leaves too.
TASK_CREATE = "    TaskCreate:\n"
TASK_CREATE_PROPERTIES = "      required: [title]\n      properties:\n"


def add_to_task_create(project: Path, properties: str, schemas: str = "") -> None:
    edit_spec(project, TASK_CREATE_PROPERTIES, TASK_CREATE_PROPERTIES + properties)
    if schemas:
        edit_spec(project, TASK_CREATE, schemas + TASK_CREATE)


FORMATTED_PROPERTIES = (
    "        due_at:\n"
    "          type: string\n"
    "          format: date-time\n"
    '          pattern: "Z$"\n'
    "        starts_on:\n"
    "          type: string\n"
    "          format: date\n"
    "        ref:\n"
    "          type: string\n"
    "          format: uuid\n"
    "        contact:\n"
    "          type: string\n"
    "          format: email\n"
    "          maxLength: 254\n"
)


@pytest.mark.anyio
async def test_string_formats_reach_the_server_in_their_rfc_forms_only(project: Path, db: Database) -> None:
    """A designer adds formatted properties to a body: the server starts (no package of pydantic's extras
    is needed for `email`) and admits exactly what the spec says, a `pattern` beside a format included."""
    add_to_task_create(project, FORMATTED_PROPERTIES)
    result = codegen(project)
    assert result.returncode == 0, result.stderr
    assert "EmailStr" not in (project / GENERATED / "models.py").read_text(encoding="utf-8")
    good = {
        "due_at": "2026-12-07T09:30:00Z",
        "starts_on": "2026-12-07",
        "ref": "0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a",
        "contact": "ada@example.com",
    }
    bad = [
        ("due_at", 0),
        ("due_at", "1767225600"),
        ("due_at", "2026-12-07T09:30:00"),  # no offset
        ("due_at", "2026-12-07T09:30:00+01:00"),  # a date-time, but not the pattern's
        ("starts_on", "2026-12-07T00:00:00Z"),
        ("ref", "0b2a4c1e5f0d4c899a530e0f8b1d2c3a"),
        ("contact", "ada@"),
        ("contact", "a" * 250 + "@example.com"),
    ]
    async with await client_for(import_generated(project), db) as client:
        assert (await client.post("/tasks", json={"title": "formats", **good})).status_code == 201
        for name, value in bad:
            refused = await client.post("/tasks", json={"title": "formats", **good, name: value})
            assert refused.status_code == 422, (name, value, refused.text)
            assert {error["pointer"] for error in refused.json()["errors"]} == {f"/{name}"}, (name, value)


def test_a_spec_codegen_cannot_read_gets_a_message_not_a_traceback(project: Path) -> None:
    """A parameter without a name is no valid OpenAPI (make check's validator says so), and no refusal of
    codegen names it: codegen still ends with a line, not a traceback."""
    edit_spec(project, "      name: If-Match\n", "")
    result = codegen(project)
    assert result.returncode == 2
    assert "codegen: openapi.yaml: cannot read this spec (KeyError: 'name'); nothing was generated." in result.stderr
    assert "Traceback" not in result.stderr


def test_a_warning_of_the_model_generator_fails_generation(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """datamodel-code-generator warns when it drops a keyword (none of our specs makes it, now that codegen
    hands it what it takes): codegen then refuses, naming the warning."""
    edit_spec(project, "description: A new task.", "description: A task to do.")
    real_run = subprocess.run

    def warning_generator(command: list[str], **kwargs: Any) -> Any:
        if "datamodel_code_generator" in command:
            command = [sys.executable, "-c", "import warnings; warnings.warn('Pydantic does not take pattern')"]
        return real_run(command, **kwargs)

    monkeypatch.setattr(subprocess, "run", warning_generator)
    result = codegen(project)
    assert result.returncode == 2
    assert "UserWarning: Pydantic does not take pattern" in result.stderr


ARRAY_PARAMETERS = (
    '        - $ref: "#/components/parameters/PriorityFilter"\n'
    "        - name: label\n"
    "          in: query\n"
    "          schema:\n"
    "            type: array\n"
    "            uniqueItems: true\n"
    "            maxItems: 3\n"
    "            items:\n"
    "              type: string\n"
    "              enum: [home, work, errand]\n"
    "        - name: ids\n"
    "          in: query\n"
    "          explode: false\n"
    "          schema:\n"
    "            type: array\n"
    "            items:\n"
    "              type: integer\n"
    "              minimum: 1\n"
)


@pytest.mark.anyio
async def test_query_arrays_are_read_in_both_form_styles_and_enforced(project: Path, db: Database) -> None:
    """`?label=a&label=b` (form, exploded) and `?ids=1,2` (form, explode: false), items parsed per their type and
    the array's keywords enforced; what the handler receives is the list."""
    edit_spec(project, '        - $ref: "#/components/parameters/PriorityFilter"\n', ARRAY_PARAMETERS)
    result = codegen(project)
    assert result.returncode == 0, result.stderr
    server = import_generated(project)
    async with await client_for(server, db) as client:
        for query in ("label=home&label=work", "label=errand", "ids=1,2,30", "ids=7", "label=home&ids=2", ""):
            assert (await client.get(f"/tasks?{query}")).status_code == 200, query
        refusals = {
            "label=home&label=home": "label",  # uniqueItems
            "label=home&label=work&label=errand&label=x": "label",  # maxItems and enum
            "label=gym": "label",
            "ids=1,x": "ids",
            "ids=0": "ids",
            "ids=1&ids=2": "ids",  # comma-separated: given once
        }
        for query, name in refusals.items():
            refused = await client.get(f"/tasks?{query}")
            assert refused.status_code == 422, (query, refused.text)
            assert {(e["location"], e["parameter"]) for e in refused.json()["errors"]} == {("query", name)}, query
    params = server.models.ListTasksParams.model_validate({"label": ["home", "work"], "ids": [1, 2]})
    assert (params.label, params.ids) == (["home", "work"], [1, 2])


def test_a_parameter_style_the_parser_does_not_read_is_refused_with_its_pointer(project: Path) -> None:
    piped = ARRAY_PARAMETERS.replace(
        "          in: query\n", "          in: query\n          style: pipeDelimited\n", 1
    )
    edit_spec(project, '        - $ref: "#/components/parameters/PriorityFilter"\n', piped)
    result = codegen(project)
    assert result.returncode == 2
    assert "#/paths/~1tasks/get/parameters/4: parameter label uses style pipeDelimited" in result.stderr


def test_an_enum_parameter_defaults_to_a_member_of_its_enum(project: Path) -> None:
    """Without codegen's own `--set-default-enum-member`, the default would be the plain string, which
    mypy refuses in the generated model (`sort: Sort = "created"`)."""
    edit_spec(
        project,
        '        - $ref: "#/components/parameters/PriorityFilter"\n',
        '        - $ref: "#/components/parameters/PriorityFilter"\n'
        "        - name: sort\n"
        "          in: query\n"
        "          schema: {type: string, enum: [created, priority], default: created}\n",
    )
    assert codegen(project).returncode == 0
    models = import_generated(project).models
    assert models.ListTasksParams().sort is models.Sort.created


COMPOSED_PROPERTIES = (
    "        recurrence:\n"
    '          $ref: "#/components/schemas/Recurrence"\n'
    "        code:\n"
    "          oneOf:\n"
    "            - {type: string, maxLength: 3}\n"
    "            - {type: integer, minimum: 0}\n"
    "        contact:\n"
    "          anyOf:\n"
    "            - {type: string, format: email}\n"
    "            - {type: string, format: uuid}\n"
)
COMPOSED_SCHEMAS = (
    "    Recurrence:\n"
    "      oneOf:\n"
    '        - $ref: "#/components/schemas/Weekly"\n'
    '        - $ref: "#/components/schemas/Daily"\n'
    "      discriminator:\n"
    "        propertyName: kind\n"
    "        mapping:\n"
    '          weekly: "#/components/schemas/Weekly"\n'
    '          daily: "#/components/schemas/Daily"\n'
    "\n"
    "    Weekly:\n"
    "      type: object\n"
    "      additionalProperties: false\n"
    "      required: [kind, weekday]\n"
    "      properties:\n"
    "        kind: {type: string, const: weekly}\n"
    "        weekday: {type: string, enum: [mon, tue, wed, thu, fri, sat, sun]}\n"
    "\n"
    "    Daily:\n"
    "      type: object\n"
    "      additionalProperties: false\n"
    "      required: [kind]\n"
    "      properties:\n"
    "        kind: {type: string, const: daily}\n"
    "        every: {type: integer, minimum: 1}\n"
    "\n"
)


@pytest.mark.anyio
async def test_one_of_and_any_of_are_enforced_and_a_discriminator_points_into_its_member(
    project: Path, db: Database
) -> None:
    add_to_task_create(project, COMPOSED_PROPERTIES, COMPOSED_SCHEMAS)
    result = codegen(project)
    assert result.returncode == 0, result.stderr
    server = import_generated(project)
    body = server.models.TaskCreate.model_validate({"title": "t", "recurrence": {"kind": "weekly", "weekday": "mon"}})
    assert isinstance(body.recurrence, server.models.Weekly)  # the handler gets the member's model
    assert server.models.TaskCreate.model_validate({"title": "t", "code": "ab"}).code == "ab"  # a plain str
    async with await client_for(server, db) as client:
        for good in (
            {"recurrence": {"kind": "weekly", "weekday": "sun"}},
            {"recurrence": {"kind": "daily"}},
            {"recurrence": {"kind": "daily", "every": 2}},
            {"code": "abc"},
            {"code": 7},
            {"contact": "ada@example.com"},
            {"contact": "0b2a4c1e-5f0d-4c89-9a53-0e0f8b1d2c3a"},
        ):
            created = await client.post("/tasks", json={"title": "composed", **good})
            assert created.status_code == 201, (good, created.text)
        refusals: dict[str, tuple[dict[str, Any], str]] = {
            "weekday outside its enum": (
                {"recurrence": {"kind": "weekly", "weekday": "someday"}},
                "/recurrence/weekday",
            ),
            "weekday missing": ({"recurrence": {"kind": "weekly"}}, "/recurrence/weekday"),
            "another member's property": ({"recurrence": {"kind": "daily", "weekday": "mon"}}, "/recurrence/weekday"),
            "no such kind": ({"recurrence": {"kind": "monthly"}}, "/recurrence/kind"),
            "no kind": ({"recurrence": {"every": 2}}, "/recurrence/kind"),
            "not an object": ({"recurrence": "weekly"}, "/recurrence"),
            "a string too long": ({"code": "abcd"}, "/code"),
            "a negative integer": ({"code": -1}, "/code"),
            "neither member": ({"contact": "nobody"}, "/contact"),
        }
        for why, (bad, pointer) in refusals.items():
            refused = await client.post("/tasks", json={"title": "composed", **bad})
            assert refused.status_code == 422, (why, refused.text)
            assert {e["pointer"] for e in refused.json()["errors"]} == {pointer}, (why, refused.json()["errors"])
