"""The lab's server: the package codegen generated from tests/lab/openapi.yaml, served by the real runtime
(dispatch, validation, request limits, problem documents) with handlers that echo what they validated.

`python -m tests.lab --fd N` serves it, with TASKAPI_LAB_PACKAGE naming the generated package's directory
(`<root>/src/taskapi/generated` of a `python -m codegen --root <root>` run)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from codegen.spec import Spec, class_prefix, load
from fastapi import FastAPI
from pydantic import BaseModel

from taskapi import runtime
from taskapi.errors import NotFound, add_exception_handlers, render_error
from taskapi.middleware import RequestLimits

PACKAGE_VARIABLE = "TASKAPI_LAB_PACKAGE"
SPEC = Path(__file__).resolve().parent / "openapi.yaml"


def import_package(directory: Path, name: str = "lab_generated") -> ModuleType:
    """Import a generated package from its directory under `name`; return its `server` module."""
    if name not in sys.modules:
        found = importlib.util.spec_from_file_location(
            name, directory / "__init__.py", submodule_search_locations=[str(directory)]
        )
        assert found is not None and found.loader is not None
        package = importlib.util.module_from_spec(found)
        sys.modules[name] = package
        found.loader.exec_module(package)
    return importlib.import_module(f"{name}.server")


class LabHandlers:
    """Every operation of the lab: an echo of what was validated, converted to the response's model
    through JSON (so the response carries what the request's model held), and two that keep state
    (accounts: created with what only the server sets, read back by id)."""

    def __init__(self, spec: Spec, server: ModuleType) -> None:
        self._server = server
        self._accounts: dict[uuid.UUID, Any] = {}
        for op in spec.operations:
            if not hasattr(type(self), op.python_name):
                setattr(self, op.python_name, self._echo(op.operation_id, op.responses[0].status))

    def _response(self, operation_id: str, status: int) -> Any:
        return getattr(self._server, f"{class_prefix(operation_id)}{status}Response")

    def _echo(self, operation_id: str, status: int) -> Any:
        response = self._response(operation_id, status)
        model = response.__dataclass_fields__["body"].type.split(" | ")[0].removeprefix("models.")
        model_class = getattr(self._server.models, model)

        async def echo(*given: BaseModel) -> Any:
            source = given[-1]
            return response(body=model_class.model_validate(source.model_dump(mode="json", by_alias=True)))

        return echo

    async def create_account(self, body: Any) -> Any:
        models = self._server.models
        account = models.Account(
            id=uuid.uuid4(), username=body.username, password=body.password, created_at=datetime.now(UTC)
        )
        self._accounts[account.id] = account
        return self._response("createAccount", 201)(body=account, location=f"/accounts/{account.id}")

    async def get_account(self, params: Any) -> Any:
        account = self._accounts.get(params.account_id)
        if account is None:
            raise NotFound("No account has this id.")
        return self._response("getAccount", 200)(body=account)

    async def create_booking(self, body: Any) -> Any:
        booking = {"id": str(uuid.uuid4()), **body.model_dump(mode="json")}
        wrapped = {"links": {"self": f"/bookings/{booking['id']}"}, "data": booking}
        return self._response("createBooking", 201)(
            body=self._server.models.CreateBooking201Body.model_validate(wrapped)
        )

    async def upload(self, body: Any) -> Any:
        receipt = {
            **body.model_dump(mode="json", exclude={"picture"}),
            "bytes": len(body.picture),
            "sha256": hashlib.sha256(body.picture).hexdigest(),
        }
        return self._response("upload", 200)(body=self._server.models.UploadReceipt.model_validate(receipt))

    async def get_image(self, params: Any) -> Any:
        respond = self._response("getImage", 200)
        return respond(body=PNG, cache_control="max-age=3600", rate_limit="limit=100, remaining=99, reset=60")

    async def get_export(self, params: Any) -> Any:
        day = params.day.isoformat()
        disposition = f'attachment; filename="{day}.bin"'
        return self._response("getExport", 200)(body=day.encode() + bytes(range(256)), content_disposition=disposition)


# The smallest PNG: one transparent pixel.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def create_app() -> FastAPI:
    """The lab's application (uvicorn's factory)."""
    directory = Path(os.environ[PACKAGE_VARIABLE])
    server = import_package(directory)
    spec = load(directory / "openapi.yaml")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, redirect_slashes=False)
    operations = server.build_operations(lab=LabHandlers(spec, server))
    app.add_middleware(runtime.Dispatch, operations=operations, on_error=render_error)
    app.add_middleware(
        RequestLimits,
        max_body_bytes=server.LIMITS.max_body_bytes,
        max_header_bytes=server.LIMITS.max_header_bytes,
        max_url_bytes=server.LIMITS.max_url_bytes,
    )
    add_exception_handlers(app)
    return app
