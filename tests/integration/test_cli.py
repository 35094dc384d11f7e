"""`taskapi migrate` and `taskapi check-routes`, as `make migrate` and `make check` run them (the test servers
migrate in-process, so nothing else exercises these commands)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from starlette.responses import Response
from starlette.routing import Route

from taskapi import cli
from taskapi.storage.migrate import head_revision


def test_migrate_brings_a_new_database_to_the_newest_revision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "new.db"
    monkeypatch.setenv("TASKAPI_DATABASE_URL", f"sqlite:///{path}")
    assert cli.main(["migrate"]) == 0
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            [revision] = connection.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalars()
    finally:
        engine.dispose()
    assert revision == head_revision()
    assert cli.main(["migrate"]) == 0  # already there: nothing to do


def test_check_routes_passes_on_the_app_and_names_an_extra_route(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["check-routes"]) == 0
    from taskapi import app as app_module

    real = app_module.create_app

    def with_an_extra_route(*args: object, **kwargs: object) -> object:
        built = real(*args, **kwargs)  # type: ignore[arg-type]
        built.router.routes.append(Route("/admin", lambda _request: Response(), methods=["POST"]))
        return built

    monkeypatch.setattr(app_module, "create_app", with_an_extra_route)
    assert cli.main(["check-routes"]) == 1
    assert "taskapi: the router serves POST /admin (not in openapi.yaml)" in capsys.readouterr().err
