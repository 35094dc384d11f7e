"""What the client tests share: the server they talk to, and the SDKs `make sdk` generates, made once."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from taskapi.settings import Settings
from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import in_process_server
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def base_url(databases: Databases) -> Iterator[str]:
    """The app served by uvicorn with `taskapi serve`'s protocol (in this process: the clients test HTTP,
    not the server's process), on a fresh database of the run's backend. Each client signs up a user of
    its own."""
    settings = Settings(database_url=databases.migrated(), jwt_secret=SecretStr(secrets.token_urlsafe(48)))
    with in_process_server(settings) as server:
        yield server.base_url


@dataclass(frozen=True)
class Sdks:
    """What `make sdk` (python -m codegen.sdk) wrote, and what it printed."""

    out: Path
    result: subprocess.CompletedProcess[str]

    @property
    def python(self) -> Path:
        return self.out / "python"

    @property
    def typescript(self) -> Path:
        return self.out / "typescript" / "schema.d.ts"


@pytest.fixture(scope="session")
def sdks(tmp_path_factory: pytest.TempPathFactory) -> Sdks:
    """`python -m codegen.sdk --out DIR` on openapi.yaml, run once: both SDKs, for every client test."""
    out = tmp_path_factory.mktemp("sdk")
    command = [sys.executable, "-m", "codegen.sdk", "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)
    return Sdks(out, result)
