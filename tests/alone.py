"""Tests marked `serial` run alone, within make test's parallel run: while one runs, from the setup of its
fixtures to their teardown, no other test of the run does.

The workers of a pytest-xdist run share two lock files (flock), named after the run's id:
- every test holds `machine` shared (any number at once), a `serial` one holds it exclusively (alone);
- to take `machine`, a test first passes the `turnstile`, which a serial test holds while it waits for the
  tests running to end, and while it runs: the other worker's next test waits there, so a serial test is
  never kept waiting by a stream of others (flock alone would let them overtake it).
A process that dies releases its locks. Outside xdist (one process) nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

RUN_ID = "PYTEST_XDIST_TESTRUNUID"


@contextmanager
def _locked(path: Path, operation: int) -> Iterator[None]:
    with path.open("a") as file:
        fcntl.flock(file, operation)
        try:
            yield
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


@contextmanager
def turn(*, alone: bool) -> Iterator[None]:
    """Hold the machine for one test: with the other tests of the run (`alone` false), or without them."""
    run = os.environ.get(RUN_ID)
    if run is None:
        yield
        return
    base = Path(tempfile.gettempdir()) / f"taskapi-tests-{run}"
    machine, turnstile = base.with_suffix(".machine"), base.with_suffix(".turnstile")
    if alone:
        with _locked(turnstile, fcntl.LOCK_EX), _locked(machine, fcntl.LOCK_EX):
            yield
        return
    with _locked(turnstile, fcntl.LOCK_EX):
        shared = machine.open("a")
        fcntl.flock(shared, fcntl.LOCK_SH)
    try:
        yield
    finally:
        fcntl.flock(shared, fcntl.LOCK_UN)
        shared.close()
