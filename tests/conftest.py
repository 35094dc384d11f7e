"""Fixtures shared by every kind of test: databases of the run's backend (see taskapi/testing/databases.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskapi.settings import Settings
from taskapi.storage.migrate import upgrade
from taskapi.testing.databases import Databases, backend_under_test, postgres_reachable, reset
from taskapi.testing.liveserver import recording_settings
from tests import alone

ROOT = Path(__file__).resolve().parent.parent


def pytest_report_header() -> str:
    return f"taskapi test backend: {backend_under_test()}"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked `slow` first, then the rest, then those marked `serial`, each in collection order:
    make test hands them out in this order (`--no-loadscope-reorder`), so the long ones start while the
    short ones can still fill the other worker, and the ones that run alone (tests/alone.py) come when
    little is left to wait for them. The serial ones are one xdist group: one worker runs them in turn,
    with the servers they share."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("serial") is not None:
            return 2
        return 0 if item.get_closest_marker("slow") is not None else 1

    for item in items:
        if item.get_closest_marker("serial") is not None:
            item.add_marker(pytest.mark.xdist_group("serial"))
    items.sort(key=rank)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Each test holds the machine while it runs, fixtures included: alone if it is marked `serial`, with the
    others' tests if not (tests/alone.py; nothing is locked outside pytest-xdist)."""
    with alone.turn(alone=item.get_closest_marker("serial") is not None):
        return (yield)


def setting_variables() -> frozenset[str]:
    """The environment variables `Settings()` reads (`TASKAPI_DATABASE_URL`, …)."""
    return frozenset(f"TASKAPI_{name.upper()}" for name in Settings.model_fields)


@pytest.fixture(scope="session", autouse=True)
def no_settings_from_the_environment() -> Iterator[None]:
    """A developer's (or a CI runner's) `TASKAPI_*` settings must not reach the tests: an app made in-process
    reads `Settings()` from the environment, and so do the commands tests run. The run's own variables
    (`TASKAPI_TEST_*`) are not settings and stay. One setting comes from the run: where every app and server
    records what it answers, when `make test` asks for the contract coverage report."""
    with pytest.MonkeyPatch.context() as patch:
        for name in setting_variables() & os.environ.keys():
            patch.delenv(name)
        for name, value in recording_settings().items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Fresh databases on demand; PostgreSQL ones are dropped when the run ends."""
    if backend_under_test() == "postgresql" and (why := postgres_reachable()) is not None:
        pytest.fail(f"TASKAPI_TEST_BACKEND=postgresql but the server is unreachable: {why}", pytrace=False)
    made = Databases(tmp_path_factory.mktemp("databases"))
    yield made
    made.drop_all()


@pytest.fixture(scope="session")
def migrated_template(databases: Databases) -> str:
    """A database at the newest migration, made once per run."""
    url = databases.fresh()
    upgrade(url)
    return url


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    """A migrated database with no rows, for one test: a copy of the SQLite file, or the run's
    PostgreSQL database emptied."""
    if backend_under_test() == "postgresql":
        reset(migrated_template)
        return migrated_template
    path = tmp_path / "taskapi.db"
    shutil.copyfile(migrated_template.removeprefix("sqlite:///"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def empty_database_url(databases: Databases) -> str:
    """A database with no schema at all."""
    return databases.fresh()
