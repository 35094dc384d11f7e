"""The tests see no `TASKAPI_*` setting from the environment they were started in (.ci/run starts them with
one set, as a developer's shell may have), but the one the run gives them: where to record what servers
answer (`make test`)."""

from __future__ import annotations

import os

from taskapi.settings import Settings
from taskapi.testing.liveserver import recording_settings
from tests.conftest import setting_variables


def test_no_setting_reaches_the_tests_from_the_environment() -> None:
    assert setting_variables() & os.environ.keys() == recording_settings().keys()
    assert Settings().database_url == Settings.model_fields["database_url"].default
