"""A process that logs as `taskapi serve` configures it (`log_config`), run as a subprocess: the lines it
writes just before it exits, or before a SIGTERM ends it, reach the log; with a log that takes nothing it
still exits within the close timeout, and `dropped_lines()` has counted what it dropped."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskapi.logs import CLOSE_TIMEOUT_SECONDS

# argv: how it ends ("exit" or "sigterm"), the queues' size, how many access lines, where to report.
SCRIPT = """
import logging, logging.config, os, signal, sys, time
from pathlib import Path
from taskapi import logs

how, queue_lines, count, report = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
logging.config.dictConfig(logs.log_config("info", queue_lines=queue_lines))
access = logs.AccessLog(enabled=True)
for n in range(count):
    access.write(method="GET", path="/healthz", route="/healthz", operation_id="getHealth", status=200,
                 duration_ms=0.1, request_id=f"line-{n}", user_id=None, client="127.0.0.1")
report.write_text(f"{logs.dropped_lines()} {time.monotonic()}")
# The last lines, and at once the end: the writer thread has had no time to write them.
for n in range(100):
    logging.getLogger("taskapi.test").warning("last json line %d", n)
logging.getLogger("asyncio").error("a library's line")
logging.getLogger("uvicorn.error").info("last text line")
if how == "sigterm":
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
"""
TIMEOUT_SECONDS = 60


def _script(how: str, queue_lines: int, count: int, report: Path) -> list[str]:
    return [sys.executable, "-c", SCRIPT, how, str(queue_lines), str(count), str(report)]


def _report(report: Path) -> tuple[int, float]:
    dropped, at = report.read_text().split()
    return int(dropped), float(at)


@pytest.mark.parametrize(("how", "status"), [("exit", 0), ("sigterm", -signal.SIGTERM)])
def test_the_lines_written_just_before_the_end_reach_the_log(tmp_path: Path, how: str, status: int) -> None:
    count = 5000
    with (tmp_path / "stdout").open("wb") as out, (tmp_path / "stderr").open("wb") as err:
        ended = subprocess.run(
            _script(how, 10_000, count, tmp_path / "report"), stdout=out, stderr=err, timeout=TIMEOUT_SECONDS
        )
    assert ended.returncode == status, (tmp_path / "stderr").read_text()
    records = [json.loads(line) for line in (tmp_path / "stdout").read_text().splitlines()]
    assert [record["request_id"] for record in records[:count]] == [f"line-{n}" for n in range(count)]
    assert [record["message"] for record in records[count:]] == [f"last json line {n}" for n in range(100)]
    assert (tmp_path / "stderr").read_text().splitlines()[-2:] == [
        "ERROR:    a library's line",
        "INFO:     last text line",
    ]
    assert _report(tmp_path / "report")[0] == 0


def test_standard_output_and_error_to_one_file_keep_the_order_lines_were_made(tmp_path: Path) -> None:
    """`2>&1`: one queue for both streams, so a text line made after a JSON line is never written before it
    (a watcher of the log can then tell which lines came before a request of its own)."""
    count = 2000
    with (tmp_path / "log").open("wb") as out:
        ended = subprocess.run(
            _script("exit", 10_000, count, tmp_path / "report"),
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=TIMEOUT_SECONDS,
        )
    lines = (tmp_path / "log").read_text().splitlines()
    assert ended.returncode == 0, lines[-20:]
    made = [f"line-{n}" for n in range(count)] + [f"last json line {n}" for n in range(100)]
    assert [line if not line.startswith("{") else _said(line) for line in lines] == [
        *made,
        "ERROR:    a library's line",
        "INFO:     last text line",
    ]


def _said(line: str) -> str:
    record = json.loads(line)
    return str(record.get("request_id") or record["message"])


def test_a_log_that_takes_nothing_drops_and_counts_and_the_exit_is_bounded(tmp_path: Path) -> None:
    count, queue_lines = 5000, 500
    with (tmp_path / "stderr").open("wb") as err:
        process = subprocess.Popen(
            _script("exit", queue_lines, count, tmp_path / "report"), stdout=subprocess.PIPE, stderr=err
        )
        try:
            assert process.stdout is not None
            # Nobody reads standard output until the process has ended.
            assert process.wait(timeout=TIMEOUT_SECONDS) == 0
            ended = time.monotonic()
            written = process.stdout.read().decode().splitlines()
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            assert process.stdout is not None
            process.stdout.close()
    dropped, exiting = _report(tmp_path / "report")
    # A 64 KiB pipe took about 200 lines, the queue at most 500 more, the writer one write's worth (about a
    # dozen): the rest were dropped before the end, and counted (those left at the end, after the report,
    # are dropped too). How full the queue was when the report was taken depends on the machine's pace.
    assert count - queue_lines - len(written) - 20 <= dropped <= count - len(written)
    assert ended - exiting < CLOSE_TIMEOUT_SECONDS + 3  # the close timeout, and room for a slow machine
    for line in written:
        json.loads(line)  # whole lines only
