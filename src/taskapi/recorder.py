"""The contract recorder: what the server answered, per operation, status and declared header, for the
contract coverage report (`python -m taskapi.testing.contract_coverage`; README, "Contract coverage").

Off unless TASKAPI_CONTRACT_RECORD_DIR names a directory. Then `create_app` puts `ContractRecorder` outside
every other middleware, where it sees the final status and every header the client gets (X-Request-ID and
the constant fields included), and `taskapi serve`'s protocol records the answers it makes itself
(taskapi.serving: 431 and 503 under their operation; 400 for bytes that are not HTTP, and 414, whose path
is not known, under none). Off, it costs nothing: no middleware, one `is None` in the protocol's refusals.

Counted per (operationId, status): responses; for each request header the operation declares
(`OperationInfo.request_headers`: its header parameters, Authorization when secured), how many of those
requests sent it; for each header declared on that response (`OperationInfo.responses`), how many of them
carried it. Only declared names: clients send whatever headers they like. A request that is no
operation's (an unknown path, a method its path lacks, a CORS preflight, the documentation) is counted by
status under no operation. The operation is the one `Dispatch` chose, or, for a request refused before
dispatch (413, 414, 431 of `RequestLimits`), the one its method and path match (`runtime.Routes`).

Counts accumulate in memory per process and directory (`Recording`): every app of a process that records
to one directory adds to the same counts (tests build an app per test), and each app's lifespan end
rewrites the process's file there, `<pid>-<random>.json`, atomically (write, then rename), as does the
process's exit. A killed process loses what it counted since its last write, and never leaves a partial
file. Each process has a file of its own: uvicorn's workers (spawned), a forked child (which starts from
no counts), a later process that happens to get the same pid (the random part differs). The format:

    {"format": "taskapi-contract-recording/1", "pid": 4242,
     "answers": [{"operation": "getTask", "status": 304, "count": 3,
                  "request_headers": {"Authorization": 3, "If-None-Match": 3},
                  "response_headers": {"ETag": 3, "X-Request-ID": 3, ...}},
                 {"operation": null, "status": 404, "count": 1, "request_headers": {}, "response_headers": {}}]}
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskapi import runtime
from taskapi.generated import server

FORMAT = "taskapi-contract-recording/1"

logger = logging.getLogger("taskapi.recorder")

Headers = Iterable[tuple[bytes, bytes]]


class _Tally:
    """The answers of one operation with one status."""

    __slots__ = ("count", "request_headers", "response_headers")

    def __init__(self) -> None:
        self.count = 0
        self.request_headers: dict[str, int] = {}
        self.response_headers: dict[str, int] = {}


class Recording:
    """What this process's servers answered, to be written to `directory` (see the module docstring).
    Get the process's one with `recording(directory)`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._begin()

    def _begin(self) -> None:
        """No counts, a file name of this process's own, a fresh lock: when made, and in a forked child (the
        counts it inherits are its parent's; a lock held by another thread at the fork would stay held)."""
        self._lock = threading.Lock()  # in-thread servers (tests) answer beside the event loop's thread
        self.pid = os.getpid()
        self.path = self.directory / f"{self.pid}-{secrets.token_hex(6)}.json"
        self._tallies: dict[tuple[str | None, int], _Tally] = {}
        self._unwritten = False

    def add(
        self, operation: str | None, status: int, request_headers: Iterable[str], response_headers: Iterable[str]
    ) -> None:
        """Count one answer, with the declared headers its request sent and it carried."""
        with self._lock:
            tally = self._tallies.get((operation, status))
            if tally is None:
                tally = self._tallies[(operation, status)] = _Tally()
            tally.count += 1
            self._unwritten = True
            for name in request_headers:
                tally.request_headers[name] = tally.request_headers.get(name, 0) + 1
            for name in response_headers:
                tally.response_headers[name] = tally.response_headers.get(name, 0) + 1

    def document(self) -> dict[str, Any]:
        """The counts so far, as the file holds them."""
        with self._lock:
            return self._document()

    def _document(self) -> dict[str, Any]:
        answers = [
            {
                "operation": operation,
                "status": status,
                "count": tally.count,
                "request_headers": dict(sorted(tally.request_headers.items())),
                "response_headers": dict(sorted(tally.response_headers.items())),
            }
            for (operation, status), tally in sorted(
                self._tallies.items(), key=lambda item: (item[0][0] or "", item[0][1])
            )
        ]
        return {"format": FORMAT, "pid": self.pid, "answers": answers}

    def write(self) -> Path | None:
        """Replace this process's file with the counts so far; its path (None: nothing new to write)."""
        # Under the lock: two apps of one process ending at once (in-thread servers) write one after the
        # other, the later with the later counts.
        with self._lock:
            if not self._unwritten:
                return None
            text = json.dumps(self._document(), indent=1) + "\n"
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.partial")
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, self.path)
            self._unwritten = False
        return self.path

    def save(self) -> None:
        """`write()`, a failure logged, not raised: the server is shutting down (the coverage report will
        miss these answers, and say so)."""
        try:
            path = self.write()
        except OSError as exc:
            logger.error("could not write the contract recording to %s: %s", self.directory, exc)
            return
        if path is not None:
            logger.debug("contract recording written to %s", path)


_recordings: dict[str, Recording] = {}
_recordings_lock = threading.Lock()
_hooks_installed = False


def recording(directory: Path) -> Recording:
    """This process's recording for `directory` (one per directory, shared by every app and protocol)."""
    global _hooks_installed
    key = os.path.abspath(directory)
    with _recordings_lock:
        found = _recordings.get(key)
        if found is None:
            found = _recordings[key] = Recording(Path(key))
        if not _hooks_installed:
            os.register_at_fork(after_in_child=_forget_the_parents_counts)
            # Answers given after the last lifespan ended (a test's requests to an app it has shut down).
            atexit.register(_write_all)
            _hooks_installed = True
        return found


def _forget_the_parents_counts() -> None:
    global _recordings_lock
    _recordings_lock = threading.Lock()
    for each in _recordings.values():
        each._begin()


def _write_all() -> None:
    for each in list(_recordings.values()):
        each.save()


@dataclass(frozen=True, slots=True)
class _Declared:
    """One operation's declared header names, by the lowercase bytes they arrive as."""

    request: dict[bytes, str]
    responses: dict[int, tuple[tuple[bytes, str], ...]]

    @classmethod
    def of(cls, op: runtime.OperationInfo) -> _Declared:
        return cls(
            request={name.lower().encode("latin-1"): name for name in op.request_headers},
            responses={
                status: tuple((name.lower().encode("latin-1"), name) for name in names)
                for status, names in op.responses.items()
            },
        )


class Recorder:
    """Counts answers into this process's `Recording` for `directory`, by the operations of the spec. The
    app's `ContractRecorder` and `taskapi serve`'s protocol each hold one. uvicorn's workers are spawned
    processes, which unpickle the protocol's: it is made again there, from its directory, and so records
    into the worker's own counts, which the worker's app writes at its shutdown."""

    def __init__(self, directory: Path, operations: Iterable[runtime.OperationInfo] = server.OPERATIONS) -> None:
        self.directory = directory
        self._operations = tuple(operations)
        self.recording = recording(directory)
        self._declared = {op.operation_id: _Declared.of(op) for op in self._operations}
        self._routes = runtime.Routes((op, op.operation_id) for op in self._operations)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Recorder, (self.directory, self._operations))

    def operation(self, method: str, path: str) -> str | None:
        """The operation a request for `method` and `path` (below the root path) is for; None if none."""
        matched = self._routes.match(path)
        return None if matched is None else matched[0].methods.get(method)

    def record(self, operation: str | None, status: int, request_headers: Headers, response_headers: Headers) -> None:
        """Count one answer of `operation` (None: of no operation) with the declared headers among these."""
        declared = self._declared.get(operation) if operation is not None else None
        if declared is None:
            self.recording.add(operation, status, (), ())
            return
        request = declared.request
        sent = {name for raw, _ in request_headers if (name := request.get(raw)) is not None}
        response = declared.responses.get(status)
        if response:
            present = {raw.lower() for raw, _ in response_headers}
            carried = [name for raw, name in response if raw in present]
        else:
            carried = []
        self.recording.add(operation, status, sent, carried)

    def save(self) -> None:
        """Write the process's counts: `Recording.save`."""
        self.recording.save()


class ContractRecorder:
    """Pure ASGI middleware, outermost: counts every HTTP answer with `recorder` (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, recorder: Recorder) -> None:
        self.app = app
        self._recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recorder = self._recorder

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                operation = scope.get(runtime.OPERATION_ID)
                if operation is None and runtime.ROUTE_TEMPLATE not in scope:
                    # Refused before dispatch (413, 414, 431), or no path of the spec (Dispatch matched none).
                    operation = recorder.operation(scope["method"], runtime.route_path(scope))
                recorder.record(operation, message["status"], scope["headers"], message.get("headers", ()))
            await send(message)

        await self.app(scope, receive, recording_send)
