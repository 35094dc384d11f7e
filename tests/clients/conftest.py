"""The live server the client tests talk to."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from taskapi.testing.liveserver import live_server


@pytest.fixture
def base_url(tmp_path: Path, empty_database_url: str) -> Iterator[str]:
    """The real server (`taskapi serve`) on a fresh database of the run's backend."""
    with live_server(tmp_path / "server", database_url=empty_database_url) as server:
        yield server.base_url
