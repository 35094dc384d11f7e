"""taskapi.metrics without a server: what a worker that died leaves behind, and metrics turned off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from taskapi.metrics import Metrics, _forget_dead_workers


def test_the_in_flight_gauge_of_a_dead_worker_leaves_the_sum(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid names no process now
    dead = tmp_path / f"gauge_livesum_{gone.pid}.db"
    alive = tmp_path / f"gauge_livesum_{os.getpid()}.db"
    counts = tmp_path / f"histogram_{gone.pid}.db"
    for path in (dead, alive, counts):
        path.write_bytes(b"")
    _forget_dead_workers(str(tmp_path))
    assert not dead.exists()  # its in-flight requests ended with it
    assert alive.exists()
    assert counts.exists()  # what it counted stays counted


def test_metrics_off_measure_nothing_and_expose_nothing() -> None:
    metrics = Metrics(enabled=False)
    metrics.observe_request("getTask", "GET", 200, 0.01)
    metrics.rate_limited("user")
    metrics.wait_observer(0.5)
    assert metrics.exposition() == ""


def test_methods_outside_http_are_one_label() -> None:
    metrics = Metrics()
    for n in range(50):
        metrics.observe_request("", f"X{n}", 405, 0.001)
    exposition = metrics.exposition()
    assert 'method="other",operation="",status="405"} 50.0' in exposition
    assert "X1" not in exposition
