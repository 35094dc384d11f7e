"""The directory `taskapi serve --workers N` gives prometheus-client's multiprocess mode
(`cli._metrics_directory`): a fresh one per run, or PROMETHEUS_MULTIPROC_DIR with its old files cleared."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from taskapi.cli import _metrics_directory
from taskapi.metrics import MULTIPROCESS_DIR


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No directory given, and temporary directories made under the test's own."""
    monkeypatch.delenv(MULTIPROCESS_DIR, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_one_worker_keeps_its_metrics_in_memory() -> None:
    with _metrics_directory(1):
        assert MULTIPROCESS_DIR not in os.environ


def test_several_workers_get_a_fresh_directory_for_each_run_removed_after_it(tmp_path: Path) -> None:
    seen = []
    for _ in range(2):
        with _metrics_directory(2):
            directory = Path(os.environ[MULTIPROCESS_DIR])
            assert directory.is_dir()
            assert directory.parent == tmp_path
            assert list(directory.iterdir()) == []
            (directory / "counter_4242.db").write_bytes(b"\0" * 16)  # what a worker writes there
            seen.append(directory)
        assert not directory.exists()
    assert seen[0] != seen[1]


@pytest.mark.parametrize("workers", [1, 4])
def test_a_directory_the_operator_sets_is_used_and_its_old_files_cleared(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: int
) -> None:
    given = tmp_path / "metrics"
    given.mkdir()
    old = [given / name for name in ("counter_101.db", "histogram_102.db", "gauge_livesum_103.db")]
    for path in old:
        path.write_bytes(b"\0" * 16)  # a previous run's counts: they must not be summed into this one's
    (given / "README").write_text("the operator's own file")
    monkeypatch.setenv(MULTIPROCESS_DIR, str(given))
    with _metrics_directory(workers):
        assert os.environ[MULTIPROCESS_DIR] == str(given)
        assert sorted(path.name for path in given.iterdir()) == ["README"]
        (given / "counter_104.db").write_bytes(b"\0" * 16)
    assert given.is_dir()  # the operator's: kept, with this run's files
    assert sorted(path.name for path in given.iterdir()) == ["README", "counter_104.db"]


def test_a_directory_the_operator_sets_is_made_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    given = tmp_path / "not" / "yet"
    monkeypatch.setenv(MULTIPROCESS_DIR, str(given))
    with _metrics_directory(2):
        assert given.is_dir()
