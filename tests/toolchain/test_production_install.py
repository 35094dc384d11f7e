"""The locks and the lean production install (`make lock`, `make install-prod`).

requirements-pip.lock pins the installer (pip, setuptools) that replaces the interpreter's own in every venv;
requirements-dev.lock pins the runtime dependencies and the dev extra; requirements.lock pins the runtime
dependencies alone, at the versions and hashes of requirements-dev.lock (`make lock` resolves it constrained
by that file). The tests read the locks, re-run `make lock` on copies of them, and build a production venv
that must serve with nothing but what requirements.lock holds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from taskapi.testing.liveserver import listening_socket, server_process, taskapi_environment
from tests.conftest import ROOT

PIP_LOCK = "requirements-pip.lock"
DEV_LOCK = "requirements-dev.lock"
RUNTIME_LOCK = "requirements.lock"
LOCKS = (PIP_LOCK, DEV_LOCK, RUNTIME_LOCK)
# What a production venv must not be able to import (the dev extra's tools, by module name).
DEV_MODULES = ("pytest", "schemathesis", "mypy", "hypothesis", "httpx", "matplotlib", "playwright", "hatchling")
# Modules of taskapi that need more than the runtime lock: the tests' helpers, and the migration scripts,
# which only run inside Alembic (`taskapi migrate` runs them below).
NOT_RUNTIME = ("taskapi.testing", "taskapi.storage.migrations")
# Run by the production venv's python: the modules of argv that it can import; every module of taskapi but
# those under a prefix of argv imported, and where taskapi came from.
IMPORTABLE = "import importlib.util, sys; print(*[m for m in sys.argv[1:] if importlib.util.find_spec(m)])"
IMPORT_ALL = """import importlib, pkgutil, sys, taskapi
for module in pkgutil.walk_packages(taskapi.__path__, "taskapi."):
    if not module.name.startswith(tuple(sys.argv[1:])):
        importlib.import_module(module.name)
print(taskapi.__file__)"""


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: frozenset[str]


def read_lock(name: str, directory: Path = ROOT) -> dict[str, Pin]:
    """The pins of a lock file written by `uv pip compile --generate-hashes`, by canonical package name."""
    text = (directory / name).read_text(encoding="utf-8")
    pins: dict[str, Pin] = {}
    for line in text.replace("\\\n", " ").splitlines():
        fields = line.partition("#")[0].split()
        if not fields:
            continue
        requirement, *options = fields
        package, equals, version = requirement.partition("==")
        assert equals, f"{name}: {requirement} is not pinned with =="
        hashes = frozenset(option.removeprefix("--hash=") for option in options)
        assert all(option.startswith("--hash=sha256:") for option in options), f"{name}: {line}"
        pins[canonicalize_name(package)] = Pin(version, hashes)
    return pins


def project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        table = tomllib.load(file)["project"]
    assert isinstance(table, dict)
    return table


def requirements(section: object) -> list[Requirement]:
    assert isinstance(section, list)
    return [Requirement(line) for line in section]


def runtime_requirements() -> list[Requirement]:
    return requirements(project()["dependencies"])


def dev_requirements() -> list[Requirement]:
    extras = project()["optional-dependencies"]
    assert isinstance(extras, dict)
    return requirements(extras["dev"])


def make(*arguments: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a target of this checkout's Makefile in `cwd`, with the venv running the tests as its .venv, taken
    as installed (`--assume-old` its stamp): a test never rebuilds the venv it runs in. `env` adds to the
    environment."""
    venv = Path(sys.prefix)
    # As a developer would run it, not as part of an outer make (whose flags and level would leak in).
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")} | (env or {})
    command = ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), f"--assume-old={venv}/.installed-stamp"]
    result = subprocess.run(
        [*command, f"VENV={venv}", *arguments], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"make {' '.join(arguments)} exited {result.returncode}:\n{result.stderr[-4000:]}"


def test_every_pin_carries_hashes() -> None:
    for name in LOCKS:
        pins = read_lock(name)
        assert pins, f"{name} pins nothing"
        assert [package for package, pin in pins.items() if not pin.hashes] == [], f"{name}: pins without hashes"


def test_both_locks_pin_every_runtime_dependency_at_the_same_version() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    for requirement in runtime_requirements():
        package = canonicalize_name(requirement.name)
        assert package in runtime, f"{package} (pyproject.toml) is not in {RUNTIME_LOCK}: run make lock"
        assert runtime[package].version in requirement.specifier, f"{RUNTIME_LOCK}: {package} is not {requirement}"
        assert dev.get(package) == runtime[package], f"{package}: {DEV_LOCK} and {RUNTIME_LOCK} differ"


def test_the_runtime_lock_is_the_dev_lock_without_the_dev_tools() -> None:
    runtime, dev = read_lock(RUNTIME_LOCK), read_lock(DEV_LOCK)
    differing = {package: (pin, dev.get(package)) for package, pin in runtime.items() if dev.get(package) != pin}
    assert differing == {}, f"pinned otherwise (or only) in {RUNTIME_LOCK}: run make lock"
    tools = {canonicalize_name(requirement.name) for requirement in dev_requirements()}
    assert tools <= dev.keys(), f"{DEV_LOCK} lacks {tools - dev.keys()}"
    assert tools & runtime.keys() == set(), f"dev tools in {RUNTIME_LOCK}"


def test_pip_and_setuptools_are_pinned_once() -> None:
    installer = read_lock(PIP_LOCK)
    assert set(installer) == {"pip", "setuptools"}
    for name in (DEV_LOCK, RUNTIME_LOCK):
        pins = read_lock(name)
        # They are in no other lock today; should a dependency come to need one, it must be the same pin.
        assert all(pins.get(package, pin) == pin for package, pin in installer.items()), f"{name} vs {PIP_LOCK}"


def test_make_lock_reproduces_the_locks(tmp_path: Path) -> None:
    """`make lock` on copies of the inputs and the locks (uv keeps a lock's pins where the inputs allow):
    any difference means pyproject.toml changed since the last `make lock`. Needs the package index."""
    for name in ("pyproject.toml", *LOCKS):
        shutil.copyfile(ROOT / name, tmp_path / name)
    make("lock", cwd=tmp_path)
    for name in LOCKS:
        assert (tmp_path / name).read_text(encoding="utf-8") == (ROOT / name).read_text(encoding="utf-8"), (
            f"{name} is stale: run make lock"
        )


@pytest.mark.slow
def test_make_install_prod_serves_with_the_runtime_lock_alone(tmp_path: Path) -> None:
    venv, dist = tmp_path / "venv", tmp_path / "dist"
    # The checkout's own wheels (`make install-prod` there) are left as they are.
    checkout_dist = sorted((path, path.stat().st_mtime_ns) for path in (ROOT / "build" / "dist").glob("*"))
    # pip's byte-compiling of what it installs is for production, not for this one start: skipped here.
    make("install-prod", f"PROD_VENV={venv}", f"DIST={dist}", cwd=ROOT, env={"PIP_NO_COMPILE": "1"})
    assert [wheel.name for wheel in dist.iterdir()] == [f"taskapi-{project()['version']}-py3-none-any.whl"]
    assert sorted((path, path.stat().st_mtime_ns) for path in (ROOT / "build" / "dist").glob("*")) == checkout_dist
    python = str(venv / "bin" / "python")

    def output(*command: str) -> str:
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True).stdout

    pins = read_lock(RUNTIME_LOCK) | read_lock(PIP_LOCK)
    listed = json.loads(output(python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"))
    installed = {canonicalize_name(entry["name"]): entry["version"] for entry in listed}
    expected = {package: pin.version for package, pin in pins.items()} | {"taskapi": str(project()["version"])}
    assert installed == expected
    assert output(python, "-m", "pip", "--version").startswith(f"pip {pins['pip'].version} from {venv}/")

    assert output(python, "-c", IMPORTABLE, *DEV_MODULES).split() == []
    # Every module of taskapi's wheel (not the checkout's src/) imports with the runtime lock alone.
    assert output(python, "-c", IMPORT_ALL, *NOT_RUNTIME).startswith(f"{venv}/lib/")

    env = taskapi_environment(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    env.pop("PYTHONPATH", None)
    taskapi = str(venv / "bin" / "taskapi")
    subprocess.run([taskapi, "migrate"], cwd=tmp_path, env=env, capture_output=True, check=True)
    listening = listening_socket()
    serve = [taskapi, "serve", "--fd", str(listening.fileno())]
    with server_process(serve, listening=listening, log=tmp_path / "server.log", env=env, cwd=tmp_path) as server:
        response = httpx.get(f"{server.base_url}/healthz", timeout=10)
    assert response.status_code == 200, response.text
