"""Logging: JSON lines for taskapi's own loggers and for the access log, uvicorn's as it has them.

Under `taskapi serve` no line is written where it is made: the event loop formats it and puts it on a
bounded queue (`LineSink.put`, which never blocks), and a thread of the worker's own writes the queue to
standard output (JSON lines) or standard error (uvicorn's lines). A log that stalls (a pipe nobody reads, a
full disk behind a collector) costs lines, never requests: when a queue is full its lines are dropped and
counted (`dropped_lines()`), and one warning says how many once the log takes lines again.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import select
import signal
import stat
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from types import FrameType
from typing import IO, Any, Literal

Stream = Literal["stdout", "stderr"]

# Lines a queue holds by default (TASKAPI_LOG_QUEUE_LINES): about 4 MB of access-log lines.
QUEUE_LINES = 10_000
# How long the process may spend, at exit, handing the queues' lines to a log that does not take them.
CLOSE_TIMEOUT_SECONDS = 2.0
# A write of at most this many bytes to a pipe is atomic: the lines of workers sharing one never interleave.
PIPE_BATCH_BYTES = select.PIPE_BUF
# A write to a regular file (or /dev/null) is atomic whatever its size, so fewer, larger writes: each write
# hands the GIL back and forth between the writer and the event loop (measured: bench/README.md).
FILE_BATCH_BYTES = 256 * 1024
# While the writer catches up on a backlog, the lines dropped meanwhile are reported at least this often.
_REPORT_EVERY_SECONDS = 10.0
# How long an idle writer sleeps before it looks at its queue again. put() wakes it sooner only once the
# queue is half full: waking a thread for every few lines costs the event loop a GIL hand-over each time
# (measured: about 10% of a small request's throughput, bench/README.md). A line reaches the log at most
# this much later than it was made.
LOOK_EVERY_SECONDS = 0.05

logger = logging.getLogger("taskapi.logs")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the record's `fields`, any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class LineSink:
    """A bounded queue of whole lines, and the thread that writes them with `write` (which may block).

    `put()` never blocks: with `capacity` lines waiting it drops the line and counts it (`dropped`). The
    thread looks at the queue every `LOOK_EVERY_SECONDS` (sooner once it is half full, and at `close()`),
    takes whole lines, as many as fit in `batch_bytes` (a longer line goes alone), and writes
    them; once a write has gone through after drops and the queue is empty (or every 10 s while a backlog
    lasts), it logs one warning, `taskapi.logs` "log sink stalled: N line(s) dropped", field `dropped`.
    """

    def __init__(
        self,
        write: Callable[[bytes], object],
        *,
        capacity: int,
        name: str,
        batch_bytes: int = PIPE_BATCH_BYTES,
        fd: int | None = None,
    ) -> None:
        self.name = name
        # The descriptor `write` writes to, when it is one (another stream going there shares this sink).
        self.fd = fd
        self._write = write
        self._batch_bytes = batch_bytes
        self._capacity = capacity
        # put() wakes a sleeping writer once this many lines wait (half the queue, at least one).
        self._wake_at = max(capacity // 2, 1)
        self._lines: deque[str] = deque()
        self._dropped = 0
        self._reported = 0
        self._count_lock = threading.Lock()
        # Held while the writer sleeps; released to wake it before its time (half a queue, or closing).
        self._wake = threading.Lock()
        self._wake.acquire()
        self._idle = False
        self._closing = False
        self._in_flight = 0
        self._failed = False
        self._backlog_since: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"taskapi-log-{name}", daemon=True)

    @property
    def closed(self) -> bool:
        """Whether `close()` has run: lines put now are dropped."""
        return self._closing

    @property
    def dropped(self) -> int:
        """Lines dropped so far: the queue was full, the write failed, or they were left at `close()`."""
        return self._dropped

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def put(self, line: str) -> None:
        """Queue one whole line (ending in a newline), or drop and count it when the queue is full."""
        lines = self._lines
        if len(lines) < self._capacity:
            lines.append(line)
            if self._idle and len(lines) >= self._wake_at:
                self._wake_writer()
        else:
            self._drop(1)

    def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> bool:
        """Write what is queued and stop the writer, within `timeout` s; whether everything was written. Lines
        left (the log does not take them) and any put afterwards are dropped and counted."""
        self._closing = True
        self._wake_writer()
        if self._thread.is_alive():
            self._thread.join(timeout)
        written = not self._thread.is_alive()
        self._capacity = 0
        self._drop(len(self._lines) + (0 if written else self._in_flight))
        self._lines.clear()
        return written

    def _wake_writer(self) -> None:
        self._idle = False
        try:  # noqa: SIM105  (on the request path: contextlib.suppress costs several times more)
            self._wake.release()
        except RuntimeError:
            pass  # already awake

    def _drop(self, count: int) -> None:
        if count:
            with self._count_lock:
                self._dropped += count

    def _run(self) -> None:
        lines = self._lines
        while True:
            if not lines:
                if self._closing:
                    return
                self._idle = True
                # A put() before the flag was set did not wake the writer: look again before sleeping.
                if len(lines) < self._wake_at and not self._closing:
                    self._wake.acquire(timeout=LOOK_EVERY_SECONDS)
                self._idle = False
                continue
            self._write_batch(lines)

    def _write_batch(self, lines: deque[str]) -> None:
        # Only this thread takes lines out: the first one stays there between the look and the take.
        batch = [lines.popleft()]
        size, limit = _encoded_size(batch[0]), self._batch_bytes
        while lines and size + (next_size := _encoded_size(lines[0])) <= limit:
            size += next_size
            batch.append(lines.popleft())
        self._in_flight = len(batch)
        try:
            self._write("".join(batch).encode("utf-8", "backslashreplace"))
        except Exception as exc:  # a closed pipe or file, most often: the writer must outlive any of it
            self._drop(len(batch))
            if not self._failed:
                self._failed = True
                logger.error("log sink %s failed: %s", self.name, exc, extra={"fields": {"stream": self.name}})
            return
        finally:
            self._in_flight = 0
        self._failed = False
        self._report_drops(backlog=bool(lines))

    def _report_drops(self, *, backlog: bool) -> None:
        if backlog:
            now = time.monotonic()
            if self._backlog_since is None:
                self._backlog_since = now
            if now - self._backlog_since < _REPORT_EVERY_SECONDS:
                return
        self._backlog_since = None
        dropped = self._dropped - self._reported
        if dropped:
            self._reported += dropped
            logger.warning(
                "log sink stalled: %d line(s) dropped",
                dropped,
                extra={"fields": {"dropped": dropped, "stream": self.name, "pid": os.getpid()}},
            )


def _encoded_size(line: str) -> int:
    """The line's length in bytes as it is written (UTF-8; ASCII, the usual case, needs no encoding)."""
    return len(line) if line.isascii() else len(line.encode("utf-8", "backslashreplace"))


def fd_writer(fd: int) -> Callable[[bytes], None]:
    """A `write` for `LineSink`: all of the bytes to the file descriptor `fd`, however many writes it takes.
    Straight to the descriptor: a thread blocked here holds no lock of `sys.stdout`'s (Python aborts at exit
    when a daemon thread holds one)."""

    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]

    return write


def batch_bytes_for(fd: int) -> int:
    """How many bytes of lines one write to `fd` may carry and stay whole beside other processes' writes to
    it: any number for a regular file or a device that is not a terminal (/dev/null), PIPE_BUF for a pipe,
    a socket (journald's) or a terminal."""
    mode = os.fstat(fd).st_mode
    if stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)):
        return FILE_BATCH_BYTES
    return PIPE_BATCH_BYTES


def _stream_writer(stream: IO[str]) -> Callable[[bytes], None]:
    def write(data: bytes) -> None:
        stream.write(data.decode("utf-8"))
        stream.flush()

    return write


# This process's sinks (each uvicorn worker configures its logging, and so starts its own), the stdout one
# also where `AccessLog` finds it on every request, and the drops of sinks since replaced.
_sinks: dict[Stream, LineSink] = {}
_stdout_sink: LineSink | None = None
_retired_drops = 0
_hooks_installed = False


def start_sink(stream: Stream, capacity: int, *, write: Callable[[bytes], object] | None = None) -> LineSink:
    """This process's running sink for `stream` (sys.stdout or sys.stderr, or `write`), started if it has none.

    The first start also makes the process write its queues out before it exits (`close_sinks`): at exit,
    and on a SIGTERM that would otherwise end it at once, as uvicorn's does once it has shut down gracefully.
    """
    global _retired_drops
    sink = _sinks.get(stream)
    if sink is not None and not sink.closed:
        return sink
    if sink is not None:  # closed: its drops stay counted (once, should both streams have shared it)
        del _sinks[stream]
        if sink not in _sinks.values():
            _retired_drops += sink.dropped
    _install_hooks()
    batch_bytes = PIPE_BATCH_BYTES
    fd: int | None = None
    if write is None:
        target: IO[str] = getattr(sys, stream)
        try:
            fd = target.fileno()
        except (AttributeError, OSError, ValueError):  # no descriptor (a test's StringIO)
            write = _stream_writer(target)
        else:
            shared = _sink_writing_to(fd)
            if shared is not None:
                # Standard output and standard error go to the same place (`2>&1`, one journal): one queue
                # and one writer keep their lines in the order they were made.
                return _register(stream, shared)
            write, batch_bytes = fd_writer(fd), batch_bytes_for(fd)
    sink = LineSink(write, capacity=capacity, name=stream, batch_bytes=batch_bytes, fd=fd)
    sink.start()
    return _register(stream, sink)


def _register(stream: Stream, sink: LineSink) -> LineSink:
    global _stdout_sink
    _sinks[stream] = sink
    if stream == "stdout":
        _stdout_sink = sink
    return sink


def _sink_writing_to(fd: int) -> LineSink | None:
    """A running sink of this process that writes to the same file, pipe or socket as `fd`."""
    try:
        wanted = os.fstat(fd)
    except OSError:
        return None
    for sink in _sinks.values():
        if sink.fd is None or sink.closed:
            continue
        try:
            theirs = os.fstat(sink.fd)
        except OSError:
            continue
        if (theirs.st_dev, theirs.st_ino) == (wanted.st_dev, wanted.st_ino):
            return sink
    return None


def _running_sinks() -> list[LineSink]:
    """Each of this process's sinks once (two streams may share one), standard error's first."""
    unique: dict[int, LineSink] = {}
    for stream in sorted(_sinks, key=lambda name: name == "stdout"):
        unique.setdefault(id(_sinks[stream]), _sinks[stream])
    return list(unique.values())


def close_sinks(timeout: float = CLOSE_TIMEOUT_SECONDS) -> None:
    """Write out this process's queues and stop their writers, all within `timeout` s (a stalled log's
    lines are dropped and counted). Standard error's first: its writer may report drops on standard output."""
    deadline = time.monotonic() + timeout
    for sink in _running_sinks():
        sink.close(max(deadline - time.monotonic(), 0.0))


def dropped_lines() -> int:
    """Log lines this process has dropped because the log did not take them (`taskapi_log_lines_dropped_total`)."""
    return _retired_drops + sum(sink.dropped for sink in _running_sinks())


def _install_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(close_sinks)
    os.register_at_fork(after_in_child=_forget_sinks)
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is not threading.main_thread() or previous in (signal.SIG_IGN, None):
        return

    def close_then_terminate(signum: int, frame: FrameType | None) -> None:
        # Python runs no atexit hook when a signal ends the process: write the queues out first, then do
        # what SIGTERM did before (end the process, or the handler that was there: coverage's, say).
        close_sinks()
        signal.signal(signum, previous)
        if callable(previous):
            previous(signum, frame)
        else:
            signal.raise_signal(signum)

    signal.signal(signal.SIGTERM, close_then_terminate)


def _forget_sinks() -> None:
    # A forked child has the parent's queues but not its threads.
    global _stdout_sink, _retired_drops
    _sinks.clear()
    _stdout_sink = None
    _retired_drops = 0


class QueuedHandler(logging.Handler):
    """A logging handler that formats the record in the caller's thread and puts the line on this process's
    sink for `stream` (`start_sink`, which it starts when the handler is made: logging is configured in each
    uvicorn worker). A full queue drops the line and counts it; nothing here blocks or raises."""

    def __init__(
        self, stream: Stream = "stdout", capacity: int = QUEUE_LINES, level: int | str = logging.NOTSET
    ) -> None:
        super().__init__(level)
        self._stream: Stream = stream
        self._capacity = capacity
        start_sink(stream, capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
        except Exception:
            self.handleError(record)
            return
        sink = _sinks.get(self._stream) or start_sink(self._stream, self._capacity)
        sink.put(line)


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


class AccessLog:
    """The access log: one JSON line per request on standard output, in `JsonFormatter`'s shape
    (logger `taskapi.access`, message `request`), written whole: through this process's stdout sink when
    it has one (`taskapi serve`: the line is queued, never waited for), else straight to `sys.stdout`.

    Not a `logging.Logger`: making a LogRecord and running it through the handler chain and the formatter
    cost a large share of a small request (measured: bench/README.md); this builds the line directly. A log
    level above `info` turns it off, as it turns off every info line.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        # The worker that served the request (each worker builds its own app, so its own log).
        self._pid = os.getpid()
        self._second = -1
        self._second_text = ""

    def __setstate__(self, state: dict[str, Any]) -> None:
        # `taskapi serve`'s protocol carries its access log to each spawned worker, pickled: the pid is the
        # worker's, not the supervisor's that made it.
        self.__dict__.update(state)
        self._pid = os.getpid()

    def write(
        self,
        *,
        method: str,
        path: str,
        route: str | None,
        operation_id: str | None,
        status: int,
        duration_ms: float,
        request_id: str,
        user_id: int | None,
        client: str | None,
    ) -> None:
        """Write the line of one request (nothing when the access log is off)."""
        if not self.enabled:
            return
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        millis = int((now - second) * 1000)
        line = (
            f'{{"time": "{self._second_text}.{millis:03d}+00:00", "level": "info", "logger": "taskapi.access", '
            f'"message": "request", "method": {_text(method)}, "path": {_text(path)}, "route": {_text(route)}, '
            f'"operation_id": {_text(operation_id)}, "status": {status}, "duration_ms": {duration_ms}, '
            f'"request_id": {_text(request_id)}, "user_id": {"null" if user_id is None else user_id}, '
            f'"client": {_text(client)}, "pid": {self._pid}}}\n'
        )
        sink = _stdout_sink
        if sink is not None:
            sink.put(line)
            return
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except (OSError, ValueError, AttributeError) as exc:
            # Standard output is gone (closed pipe, no collector): a request must not fail for its log line.
            self.enabled = False
            logging.getLogger("taskapi").error("access log off: standard output failed (%s)", exc)


def log_config(level: str, *, queue_lines: int = QUEUE_LINES) -> dict[str, Any]:
    """A `logging.config.dictConfig` for `taskapi serve`: taskapi.* as JSON on stdout, uvicorn's lines (and
    other libraries' warnings) as uvicorn formats them on stderr, each stream through this process's bounded
    queue of `queue_lines` lines."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "taskapi.logs.JsonFormatter"},
            "uvicorn": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
        },
        "handlers": {
            "json": {
                "()": "taskapi.logs.QueuedHandler",
                "formatter": "json",
                "stream": "stdout",
                "capacity": queue_lines,
            },
            "uvicorn": {
                "()": "taskapi.logs.QueuedHandler",
                "formatter": "uvicorn",
                "stream": "stderr",
                "capacity": queue_lines,
            },
        },
        "loggers": {
            "taskapi": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["uvicorn"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
        # Other libraries' warnings (asyncio's, say), on stderr as Python's last-resort handler put them.
        "root": {"handlers": ["uvicorn"], "level": "WARNING"},
    }
