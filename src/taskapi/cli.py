"""`taskapi serve|migrate|check-routes`."""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from taskapi.settings import Settings, root_path


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `taskapi` command."""
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="taskapi", description="A contract-first Task Management API.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API with uvicorn")
    serve.add_argument("--host", default=defaults.host, help="address to bind (TASKAPI_HOST)")
    serve.add_argument("--port", type=int, default=defaults.port, help="port to bind (TASKAPI_PORT)")
    serve.add_argument("--workers", type=int, default=defaults.workers, help="worker processes (TASKAPI_WORKERS)")
    serve.add_argument(
        "--root-path",
        type=root_path,
        default=defaults.root_path,
        help="behind a reverse proxy that strips a path prefix: that prefix, e.g. /api (TASKAPI_ROOT_PATH)",
    )
    serve.add_argument(
        "--fd",
        type=int,
        default=None,
        help="serve on this inherited file descriptor, a listening TCP socket (systemd socket activation, or a "
        "test that bound the port itself), instead of binding --host and --port",
    )
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="behind a reverse proxy: the proxy addresses whose X-Forwarded-For/-Proto headers to trust",
    )

    commands.add_parser("migrate", help="apply the database migrations (TASKAPI_DATABASE_URL)")
    commands.add_parser("check-routes", help="fail when the app serves a route that openapi.yaml does not declare")

    args = parser.parse_args(argv)
    if args.command == "migrate":
        from taskapi.storage.migrate import upgrade

        upgrade(defaults.database_url)
        return 0
    if args.command == "check-routes":
        return _check_routes(defaults)
    return _serve(defaults, args)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from taskapi.logs import AccessLog
    from taskapi.recorder import Recorder
    from taskapi.serving import ConnectionLimits, connection_cap, http_protocol, raise_open_files_limit

    # Workers inherit the raised limit; the cap keeps each below it (serving.connection_cap says why).
    max_connections = connection_cap(settings, raise_open_files_limit())
    limits = ConnectionLimits.from_settings(settings, max_connections=max_connections)
    access_log = AccessLog(enabled=settings.log_level in ("debug", "info"))
    recorder = Recorder(settings.contract_record_dir) if settings.contract_record_dir is not None else None
    http = http_protocol(settings.http_protocol, limits, access_log, recorder)
    with _metrics_directory(args.workers):
        _run_uvicorn(uvicorn, settings, args, http, max_connections)
    return 0


@contextmanager
def _metrics_directory(workers: int) -> Iterator[None]:
    """Several workers share their metrics through files (prometheus-client's multiprocess mode): a fresh
    directory for this run, named to the workers before they start; PROMETHEUS_MULTIPROC_DIR when the
    operator sets one (its old files removed, as prometheus-client asks). One worker keeps them in memory."""
    from taskapi.metrics import MULTIPROCESS_DIR

    given = os.environ.get(MULTIPROCESS_DIR)
    if workers <= 1 and not given:
        yield
        return
    directory = Path(given) if given else Path(tempfile.mkdtemp(prefix="taskapi-metrics-"))
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.db"):
        old.unlink()
    os.environ[MULTIPROCESS_DIR] = str(directory)
    try:
        yield
    finally:
        if not given:  # ours: gone with the run, and no longer named to anything started after it
            os.environ.pop(MULTIPROCESS_DIR, None)
            shutil.rmtree(directory, ignore_errors=True)


def _run_uvicorn(uvicorn: Any, settings: Settings, args: argparse.Namespace, http: Any, max_connections: int) -> None:
    from taskapi.logs import log_config

    options: dict[str, Any] = {
        "factory": True,
        "workers": args.workers,
        "root_path": args.root_path,
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level, queue_lines=settings.log_queue_lines),
        "access_log": False,  # taskapi.middleware writes the access log, one JSON line per request
        "timeout_graceful_shutdown": settings.shutdown_timeout_seconds,
        "loop": "taskapi.serving:EventLoop" if settings.event_loop == "asyncio" else settings.event_loop,
        "http": http,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        # Stock uvicorn's cap (a text/plain 503); the single-write protocol applies its own (problem+json).
        "limit_concurrency": max_connections if isinstance(http, str) else None,
        "proxy_headers": args.forwarded_allow_ips is not None,
        "forwarded_allow_ips": args.forwarded_allow_ips,
    }
    if args.fd is None:
        uvicorn.run("taskapi.asgi:app", host=args.host, port=args.port, **options)
        return
    _run_on_socket(uvicorn, socket.socket(fileno=args.fd), options)


def _run_on_socket(uvicorn: Any, sock: socket.socket, options: dict[str, Any]) -> None:
    """What `uvicorn.run` does, on a socket that is already listening. uvicorn's own `fd` option would take
    it for a Unix socket (`socket.fromfd(fd, AF_UNIX, …)`), and the client addresses of a TCP socket would
    then be lost: the access log's and the per-address rate limits'. `socket.socket(fileno=…)` reads the
    family from the descriptor."""
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("taskapi.asgi:app", **options)
    if config.workers > 1:
        Multiprocess(config, sockets=[sock]).run()
        return
    config.load_app()
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE, as `uvicorn.run` exits


def _check_routes(settings: Settings) -> int:
    from taskapi.app import create_app
    from taskapi.docs import undeclared_routes

    # The app is only built, never served: a throwaway key stands in for the real one.
    throwaway = settings.model_copy(update={"jwt_secret": SecretStr(secrets.token_urlsafe(48))})
    problems = undeclared_routes(create_app(throwaway).routes)
    for problem in problems:
        print(f"taskapi: the router serves {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
