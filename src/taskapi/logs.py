"""Logging: JSON lines for taskapi's own loggers and for the access log, uvicorn's as it has them."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any


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


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring_ascii(value)


class AccessLog:
    """The access log: one JSON line per request on standard output, in `JsonFormatter`'s shape
    (logger `taskapi.access`, message `request`), written and flushed whole.

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
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except (OSError, ValueError, AttributeError) as exc:
            # Standard output is gone (closed pipe, no collector): a request must not fail for its log line.
            self.enabled = False
            logging.getLogger("taskapi").error("access log off: standard output failed (%s)", exc)


def log_config(level: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for `taskapi serve`: taskapi.* as JSON on stdout, uvicorn unchanged."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {"()": "taskapi.logs.JsonFormatter"},
            "uvicorn": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(levelprefix)s %(message)s"},
        },
        "handlers": {
            "json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"},
            "uvicorn": {"class": "logging.StreamHandler", "formatter": "uvicorn", "stream": "ext://sys.stderr"},
        },
        "loggers": {
            "taskapi": {"handlers": ["json"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["uvicorn"], "level": level.upper(), "propagate": False},
            "uvicorn.error": {"level": level.upper()},
        },
    }
