"""`make bench`: taskapi against the tutorial app (the peer) and a raw ASGI app (the limit).

Each server runs alone, one worker pinned to core 0, while wrk (pinned to core 1) drives it with 64
connections: warm-up, then several timed repetitions per scenario; the median is reported with its
spread. Then the scale check: a page deep into 100,000 tasks against a page of 1,000, per backend.
Ratios are computed within this one run, never against numbers from elsewhere. Then the rate limiter's
cost: `GET /tasks/{id}` served with no limiter, the default one (memory) and the Redis one, all three up
at once and `wrk` alternating between them round after round. Results go to build/bench/results.json and
build/bench/results.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from taskapi.generated.server import RATE_LIMIT_POLICIES
from taskapi.testing.databases import Backend, Databases, on_connection, postgres_reachable
from taskapi.testing.liveserver import ServerProcess, free_port, live_server, server_process
from taskapi.testing.redis import key_prefix, redis_reachable, redis_url

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "lua"
OUT = ROOT / "build" / "bench"
PASSWORD = "bench password 123"
SERVER_CORE, LOAD_CORE = 0, 1
SEEDED = 1000
# taskapi as deployed counts every request against the spec's rate limits; one user at wrk's pace is far
# over them, so the benchmark raises them beyond anything it sends (nothing is refused, everything counted).
RAISED_RATE_LIMITS = json.dumps(dict.fromkeys(RATE_LIMIT_POLICIES, "1000000000/minute"))
# The rate-limit comparison: the budget of the Redis limiter, as a share of the req/s without a limiter.
RATE_LIMIT_BUDGET = 0.85
# The metrics comparison (issue 12): metrics on keep this share of the req/s with them off.
METRICS_BUDGET = 0.95
# The idempotency comparison (issue 13): a POST with an Idempotency-Key keeps this share of a plain one.
IDEMPOTENCY_BUDGET = 0.8


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    script: str
    env: dict[str, str] = field(default_factory=dict)


SCENARIOS = (
    Scenario("get", "GET /tasks/{id}", "get_task.lua", {"BENCH_IDS": str(SEEDED)}),
    Scenario("list", "GET /tasks?limit=50", "get_path.lua", {"BENCH_PATH": "/tasks?limit=50"}),
    Scenario("post", "POST /tasks", "post_task.lua"),
)
IDEMPOTENT_POST = Scenario("post-idempotent", "POST /tasks + Idempotency-Key", "post_task_idempotent.lua")


@dataclass
class Target:
    """A server under test: how to start it (given a working directory) and whether it needs a token."""

    name: str
    start: Callable[[Path], AbstractContextManager[ServerProcess]]
    authenticated: bool


@dataclass
class Measurement:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


# ---------------------------------------------------------------- processes


def peak_rss_mb(pid: int) -> float:
    """The process's high-water resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- wrk

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    return float(match.group(1)) * _UNITS[match.group(2)] if match else float("nan")


def wrk(url: str, scenario: Scenario, *, token: str, seconds: float, connections: int) -> Measurement:
    env = {**os.environ, **scenario.env, "BENCH_TOKEN": token}
    command = [
        *(["taskset", "-c", str(LOAD_CORE)] if shutil.which("taskset") else []),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(LUA / scenario.script),
        url,
    ]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    return Measurement(
        rps=float(rps.group(1)) if rps else 0.0,
        p50_ms=_latency(output, "50"),
        p99_ms=_latency(output, "99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    )


# ---------------------------------------------------------------- seeding


def sign_up_and_seed(base_url: str, *, authenticated: bool, tasks: int) -> str:
    """Sign a user up (taskapi), create `tasks` tasks through the API; the bearer token, or ""."""

    async def run() -> str:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            token = ""
            if authenticated:
                created = await http.post("/users", json={"username": "bench", "password": PASSWORD})
                assert created.status_code == 201, created.text
                granted = await http.post(
                    "/auth/token", data={"grant_type": "password", "username": "bench", "password": PASSWORD}
                )
                token = granted.json()["access_token"]
                http.headers["Authorization"] = f"Bearer {token}"
            gate = asyncio.Semaphore(16)

            async def one(n: int) -> None:
                async with gate:
                    response = await http.post("/tasks", json={"title": f"seed {n}", "priority": n % 5 + 1})
                    assert response.status_code == 201, response.text

            # In order, so ids 1..tasks exist: the GET scenario walks them.
            for start in range(0, tasks, 100):
                await asyncio.gather(*(one(n) for n in range(start, min(tasks, start + 100))))
            return token

    return asyncio.run(run())


async def _bulk_seed(database_url: str, count: int, password_hash: str) -> None:
    """Insert one user and `count` tasks straight into a migrated database (for the scale check)."""
    from sqlalchemy import insert
    from sqlalchemy.engine import Connection

    from taskapi.storage.tables import tasks, users

    now = datetime.now(UTC)

    def seed(connection: Connection) -> None:
        user = connection.execute(
            insert(users).values(username="bench", password_hash=password_hash, created_at=now).returning(users.c.id)
        )
        owner = user.scalar_one()
        rows = [
            {
                "owner_id": owner,
                "title": f"task {n}",
                "description": None,
                "priority": n % 5 + 1,
                "completed": n % 3 == 0,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ]
        for start in range(0, count, 10_000):
            connection.execute(insert(tasks), rows[start : start + 10_000])

    await on_connection(database_url, seed)


# ---------------------------------------------------------------- servers


def taskapi_target(name: str, database_url: str, extra_env: dict[str, str] | None = None) -> Target:
    """taskapi as deployed (`taskapi serve`), the access log on, pinned to the server's core; `extra_env`
    changes its settings."""

    def start(work: Path) -> AbstractContextManager[ServerProcess]:
        # The access log stays on, as deployed; so does the rate limiter (in memory), its limits raised.
        env = {"TASKAPI_LOG_LEVEL": "info", "TASKAPI_RATE_LIMITS": RAISED_RATE_LIMITS, **(extra_env or {})}
        return live_server(work / name, database_url=database_url, env=env, pin_to_core=SERVER_CORE)

    return Target(name=name, start=start, authenticated=True)


def uvicorn_target(name: str, app: str) -> Target:
    """A peer app on uvicorn's defaults (uvloop, httptools), pinned to the server's core."""

    def start(work: Path) -> AbstractContextManager[ServerProcess]:
        port = free_port()
        command = [
            sys.executable, "-m", "uvicorn", app, "--port", str(port), "--workers", "1",
            "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        return server_process(
            command,
            port=port,
            log=work / f"{name}.log",
            ready_path="/tasks/1",
            ready_status=None,
            pin_to_core=SERVER_CORE,
            cwd=ROOT,
        )

    return Target(name=name, start=start, authenticated=False)


# ---------------------------------------------------------------- the run


@dataclass
class Args:
    seconds: float
    warmup: float
    repeat: int
    connections: int
    scale_tasks: int
    only: str
    rate_limit_rounds: int


def measure(target: Target, args: Args, work: Path) -> dict[str, Any]:
    result: dict[str, Any] = {"scenarios": {}}
    with target.start(work) as server:
        base_url, process = server.base_url, server.process
        token = sign_up_and_seed(base_url, authenticated=target.authenticated, tasks=SEEDED)
        for scenario in SCENARIOS:
            wrk(base_url, scenario, token=token, seconds=args.warmup, connections=args.connections)
            runs = [
                wrk(base_url, scenario, token=token, seconds=args.seconds, connections=args.connections)
                for _ in range(args.repeat)
            ]
            result["scenarios"][scenario.key] = summarise(runs)
            print(f"  {target.name:16} {scenario.label:20} {fmt(result['scenarios'][scenario.key])}", flush=True)
        result["peak_rss_mb"] = round(peak_rss_mb(process.pid), 1)
    return result


def alternate(
    servers: dict[str, tuple[str, str]], scenario: Scenario, *, rounds: int, seconds: float, connections: int
) -> dict[str, list[float]]:
    """`wrk` against each server (name -> base URL, token) in turn, round after round, the order reversed
    every other round, so that the machine's drift hits them alike; every run's req/s, by server. Any
    non-2xx response or socket error fails it: a refused request is not a measurement."""
    for base_url, token in servers.values():
        wrk(base_url, scenario, token=token, seconds=2, connections=connections)  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in servers}
    for round_ in range(rounds):
        for name in list(servers) if round_ % 2 == 0 else reversed(list(servers)):
            base_url, token = servers[name]
            measured = wrk(base_url, scenario, token=token, seconds=seconds, connections=connections)
            if measured.non_2xx or measured.errors:
                raise RuntimeError(f"{name} {scenario.label}: {measured}")
            runs[name].append(measured.rps)
    return runs


def rate_limit_cost(args: Args, databases: Databases, work: Path) -> dict[str, Any]:
    """`GET /tasks/{id}` on SQLite with no rate limiter, the memory one and the Redis one (limits raised:
    every request counted, none refused), served at once and measured in alternation."""
    why = redis_reachable()
    if why is not None:
        print(f"bench: no Redis at {redis_url()} ({why}); the rate-limit comparison is left out", file=sys.stderr)
        return {}
    variants = {
        "off": {"TASKAPI_RATE_LIMITING": "false"},
        "memory": {},
        "redis": {"TASKAPI_REDIS_URL": redis_url(), "TASKAPI_RATE_LIMIT_KEY_PREFIX": key_prefix("bench")},
    }
    return variant_cost(args, databases, work, f"rate limiter: no limiter / memory / Redis ({redis_url()})", variants)


def metrics_cost(args: Args, databases: Databases, work: Path) -> dict[str, Any]:
    """`GET /tasks/{id}` on SQLite with the metrics off and on (the default), measured in alternation."""
    variants: dict[str, dict[str, str]] = {"off": {"TASKAPI_METRICS": "false"}, "on": {}}
    return variant_cost(args, databases, work, "metrics: off / on", variants)


def idempotency_cost(args: Args, databases: Databases, work: Path) -> dict[str, Any]:
    """`POST /tasks` on SQLite without and with an Idempotency-Key (a fresh one per request, kept with the
    task in one transaction), one server, the two scenarios in alternating rounds."""
    plain, keyed = SCENARIOS[2], IDEMPOTENT_POST
    rounds = args.rate_limit_rounds
    print(f"idempotency: {plain.label} / {keyed.label} on SQLite, {rounds} alternating rounds of {args.seconds:g} s")
    target = taskapi_target("idempotency", databases.fresh("sqlite"))
    runs: dict[str, list[float]] = {plain.key: [], keyed.key: []}
    with target.start(work) as server:
        token = sign_up_and_seed(server.base_url, authenticated=True, tasks=SEEDED)
        for scenario in (plain, keyed):
            wrk(server.base_url, scenario, token=token, seconds=2, connections=args.connections)  # warm-up
        for round_ in range(rounds):
            for scenario in (plain, keyed) if round_ % 2 == 0 else (keyed, plain):
                measured = wrk(
                    server.base_url, scenario, token=token, seconds=args.seconds, connections=args.connections
                )
                if measured.non_2xx or measured.errors:
                    raise RuntimeError(f"{scenario.label}: {measured}")
                runs[scenario.key].append(measured.rps)
    medians = {name: statistics.median(values) for name, values in runs.items()}
    ratio = round(medians[keyed.key] / medians[plain.key], 3)
    round_ratio = round(statistics.median(k / p for k, p in zip(runs[keyed.key], runs[plain.key], strict=True)), 3)
    for name, values in runs.items():
        print(f"  {name:16} {medians[name]:8.0f} req/s ({min(values):.0f}–{max(values):.0f})", flush=True)
    print(f"  idempotent share {ratio:.2f}x ({round_ratio:.2f}x by round; budget {IDEMPOTENCY_BUDGET:.2f}x)")
    return {
        "runs": runs,
        "rps": {name: round(value, 1) for name, value in medians.items()},
        "ratio": ratio,
        "round_ratio": round_ratio,
    }


def variant_cost(
    args: Args, databases: Databases, work: Path, title: str, variants: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """`GET /tasks/{id}` on SQLite served by one build under each of `variants` (settings; the first is the
    baseline), all at once, measured in alternating rounds; each variant's share of the baseline."""
    scenario = SCENARIOS[0]
    base = next(iter(variants))
    print(f"{title}: {scenario.label} on SQLite, {args.rate_limit_rounds} alternating rounds of {args.seconds:g} s")
    with ExitStack() as stack:
        servers: dict[str, tuple[str, str]] = {}
        for name, env in variants.items():
            target = taskapi_target(f"variant-{name}", databases.fresh("sqlite"), env)
            server = stack.enter_context(target.start(work))
            servers[name] = (server.base_url, sign_up_and_seed(server.base_url, authenticated=True, tasks=SEEDED))
        runs = alternate(
            servers, scenario, rounds=args.rate_limit_rounds, seconds=args.seconds, connections=args.connections
        )
    result: dict[str, Any] = {"scenario": scenario.label, "runs": runs}
    medians = {name: statistics.median(values) for name, values in runs.items()}
    result["rps"] = {name: round(value, 1) for name, value in medians.items()}
    result["ratio"] = {name: round(value / medians[base], 3) for name, value in medians.items() if name != base}
    # The same share round by round (each round measures every variant within seconds): steadier when the
    # machine's speed drifts between rounds.
    result["round_ratio"] = {
        name: round(statistics.median(v / b for v, b in zip(values, runs[base], strict=True)), 3)
        for name, values in runs.items()
        if name != base
    }
    for name, values in runs.items():
        share = ""
        if name in result["ratio"]:
            share = f"  {result['ratio'][name]:.2f}x of {base} ({result['round_ratio'][name]:.2f}x by round)"
        print(f"  {name:8} {medians[name]:8.0f} req/s ({min(values):.0f}–{max(values):.0f}){share}", flush=True)
    return result


def summarise(runs: list[Measurement]) -> dict[str, Any]:
    rps = [r.rps for r in runs]
    return {
        "rps": round(statistics.median(rps), 1),
        "rps_min": round(min(rps), 1),
        "rps_max": round(max(rps), 1),
        "p50_ms": round(statistics.median(r.p50_ms for r in runs), 2),
        "p99_ms": round(statistics.median(r.p99_ms for r in runs), 2),
        "p99_ms_max": round(max(r.p99_ms for r in runs), 2),
        "non_2xx": sum(r.non_2xx for r in runs),
        "errors": sum(r.errors for r in runs),
        "runs": [r.__dict__ for r in runs],
    }


def fmt(summary: dict[str, Any]) -> str:
    spread = f"{summary['rps_min']:.0f}–{summary['rps_max']:.0f}"
    return (
        f"{summary['rps']:>8.0f} req/s ({spread:>11})  p50 {summary['p50_ms']:>6.2f} ms  "
        f"p99 {summary['p99_ms']:>6.2f} ms  non-2xx {summary['non_2xx']}  errors {summary['errors']}"
    )


def _scale_point(backend: str, count: int, url: str, password_hash: str, args: Args, work: Path) -> Any:
    target = taskapi_target(f"scale-{backend}-{count}", url)
    with target.start(work) as server:
        asyncio.run(_bulk_seed(url, count, password_hash))
        base_url = server.base_url
        granted = httpx.post(
            f"{base_url}/auth/token", data={"grant_type": "password", "username": "bench", "password": PASSWORD}
        )
        token = granted.json()["access_token"]
        # The page that starts 50 tasks before the end: the deepest full page.
        path = f"/tasks?limit=50&cursor={count - 50}"
        scenario = Scenario("page", f"page at {count - 50} of {count}", "get_path.lua", {"BENCH_PATH": path})
        wrk(base_url, scenario, token=token, seconds=args.warmup, connections=args.connections)
        runs = [
            wrk(base_url, scenario, token=token, seconds=args.seconds, connections=args.connections)
            for _ in range(args.repeat)
        ]
    summary = summarise(runs)
    print(f"  {target.name:24} {scenario.label:24} {fmt(summary)}", flush=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="length of one timed repetition")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before each scenario")
    parser.add_argument("--repeat", type=int, default=3, help="timed repetitions per scenario (median reported)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--scale-tasks", type=int, default=100_000, help="tasks in the deep-page check (0: skip)")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated parts to run: server names, `ratelimit` for the rate limiter's cost, `metrics` for "
        "the metrics', `idempotency` for an Idempotency-Key's (default: all)",
    )
    parser.add_argument(
        "--rate-limit-rounds",
        type=int,
        default=7,
        help="alternating rounds of the rate-limit and metrics comparisons (0: skip)",
    )
    parsed = parser.parse_args(argv)
    args = Args(
        parsed.seconds,
        parsed.warmup,
        parsed.repeat,
        parsed.connections,
        parsed.scale_tasks,
        parsed.only,
        parsed.rate_limit_rounds,
    )
    if not shutil.which("wrk"):
        print("bench: wrk is not installed (make bench installs it from Debian's packages)", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="taskapi-bench-") as tmp:
        work = Path(tmp)
        databases = Databases(work, prefix="taskapi_bench")
        try:
            report = run_all(args, databases, work)
        finally:
            databases.drop_all()
    report["seconds"] = round(time.monotonic() - started, 1)
    (OUT / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print_report(report)
    chart(report, OUT / "results.png")
    print(f"\nwrote {OUT / 'results.json'} and {OUT / 'results.png'} in {report['seconds']} s")
    return 0


def run_all(args: Args, databases: Databases, work: Path) -> dict[str, Any]:
    targets: list[Target] = [taskapi_target("taskapi-sqlite", databases.fresh("sqlite"))]
    why = postgres_reachable()
    postgres = why is None
    if not postgres:
        print(f"bench: no PostgreSQL ({why}); the PostgreSQL rows are left out", file=sys.stderr)
    else:
        targets.append(taskapi_target("taskapi-postgres", databases.fresh("postgresql")))
    targets += [
        uvicorn_target("tutorial-peer", "bench.peers.tutorial:app"),
        uvicorn_target("raw-asgi", "bench.peers.raw_asgi:app"),
    ]
    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": args.__dict__,
        "servers": {},
        "scale": {},
        "rate_limit": {},
        "metrics": {},
        "idempotency": {},
    }
    print(f"servers: 1 worker on core 0; wrk on core 1, {args.connections} connections, "
          f"{args.repeat} x {args.seconds:g} s after {args.warmup:g} s of warm-up; taskapi as deployed "
          "(`taskapi serve`: asyncio loop), the peers on uvicorn's defaults (uvloop, httptools)")  # fmt: skip
    for target in targets:
        if not args.only or target.name in args.only.split(","):
            report["servers"][target.name] = measure(target, args, work)
    if args.rate_limit_rounds and (not args.only or "ratelimit" in args.only.split(",")):
        report["rate_limit"] = rate_limit_cost(args, databases, work)
    if args.rate_limit_rounds and (not args.only or "metrics" in args.only.split(",")):
        report["metrics"] = metrics_cost(args, databases, work)
    if args.rate_limit_rounds and (not args.only or "idempotency" in args.only.split(",")):
        report["idempotency"] = idempotency_cost(args, databases, work)
    if not args.scale_tasks:
        return report
    print(f"scale: a page of 50 at the end of {SEEDED:,} and of {args.scale_tasks:,} tasks of one user")
    from pwdlib import PasswordHash

    password_hash = PasswordHash.recommended().hash(PASSWORD)
    backends: list[tuple[str, Backend]] = [("sqlite", "sqlite")]
    if postgres:
        backends.append(("postgres", "postgresql"))
    for backend, kind in backends:
        points: dict[str, Any] = {}
        for count in (SEEDED, args.scale_tasks):
            url = databases.fresh(kind)
            points[str(count)] = _scale_point(backend, count, url, password_hash, args, work)
        if len(points) == 2:
            small, large = points[str(SEEDED)]["rps"], points[str(args.scale_tasks)]["rps"]
            points["cost_ratio"] = round(small / large, 3) if large else None
        report["scale"][backend] = points
    return report


def ratio(report: dict[str, Any], server: str, other: str, scenario: str) -> float | None:
    servers = report["servers"]
    if server not in servers or other not in servers:
        return None
    mine, theirs = servers[server]["scenarios"][scenario]["rps"], servers[other]["scenarios"][scenario]["rps"]
    return round(mine / theirs, 3) if theirs else None


def print_report(report: dict[str, Any]) -> None:
    print("\n" + "=" * 112)
    print(
        f"{'server':18}{'scenario':22}{'req/s':>9}{'spread':>15}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}{'RSS MB':>9}"
    )
    for name, server in report["servers"].items():
        for scenario in SCENARIOS:
            s = server["scenarios"][scenario.key]
            spread = f"{s['rps_min']:.0f}–{s['rps_max']:.0f}"
            print(
                f"{name:18}{scenario.label:22}{s['rps']:>9.0f}{spread:>15}{s['p50_ms']:>9.2f}"
                f"{s['p99_ms']:>9.2f}{s['non_2xx'] + s['errors']:>9}{server['peak_rss_mb']:>9.1f}"
            )
    print("\nratios of req/s, same run:")
    for scenario in SCENARIOS:
        parts = []
        for server in ("taskapi-sqlite", "taskapi-postgres"):
            for other, label in (("tutorial-peer", "peer"), ("raw-asgi", "limit")):
                value = ratio(report, server, other, scenario.key)
                if value is not None:
                    parts.append(f"{server.removeprefix('taskapi-')}/{label} {value:.2f}x")
        print(f"  {scenario.label:22}" + "   ".join(parts))
    print("\ntargets:")
    for line in targets(report):
        print("  " + line)
    for part, title in (("rate_limit", "rate limiter"), ("metrics", "metrics")):
        cost = report.get(part)
        if not cost:
            continue
        shares = "   ".join(f"{name}/off {ratio:.2f}x" for name, ratio in cost["ratio"].items())
        rps = ", ".join(f"{name} {value:.0f}" for name, value in cost["rps"].items())
        print(f"\n{title}, {cost['scenario']} (median req/s: {rps}):  {shares}")
    print("\nscale (req/s of the deepest page; cost ratio = req/s at 1,000 / req/s at the large size):")
    for backend, points in report["scale"].items():
        sizes = [k for k in points if k.isdigit()]
        row = "  ".join(
            f"{int(k):>7,} tasks {points[k]['rps']:>8.0f} req/s p99 {points[k]['p99_ms']:.2f} ms" for k in sizes
        )
        print(f"  {backend:9} {row}   cost ratio {points.get('cost_ratio')}")


def targets(report: dict[str, Any]) -> list[str]:
    lines = []

    def check(label: str, value: float | None, goal: float, *, above: bool) -> None:
        if value is None:
            lines.append(f"n/a   {label}")
            return
        ok = value >= goal if above else value < goal
        lines.append(f"{'PASS' if ok else 'MISS'}  {label}: {value:.2f} ({'≥' if above else '<'} {goal:g})")

    check(
        "GET /tasks/{id}, SQLite + auth vs peer",
        ratio(report, "taskapi-sqlite", "tutorial-peer", "get"),
        1.0,
        above=True,
    )
    check(
        "POST /tasks, SQLite + auth vs peer", ratio(report, "taskapi-sqlite", "tutorial-peer", "post"), 0.7, above=True
    )
    for name in ("taskapi-sqlite", "taskapi-postgres"):
        server = report["servers"].get(name)
        if server is None:
            continue
        for scenario in SCENARIOS:
            s = server["scenarios"][scenario.key]
            check(f"{name} {scenario.label} p99 ms", s["p99_ms"], 20.0, above=False)
            check(f"{name} {scenario.label} non-2xx + errors", float(s["non_2xx"] + s["errors"]), 1.0, above=False)
        check(f"{name} peak RSS MB", server["peak_rss_mb"], 120.0, above=False)
    for backend, points in report["scale"].items():
        check(f"deep page cost ratio, {backend}", points.get("cost_ratio"), 1.5, above=False)
    if report["rate_limit"]:
        redis_share = report["rate_limit"]["ratio"]["redis"]
        check("GET /tasks/{id}, Redis rate limiter vs none", redis_share, RATE_LIMIT_BUDGET, above=True)
    if report.get("metrics"):
        check("GET /tasks/{id}, metrics on vs off", report["metrics"]["ratio"]["on"], METRICS_BUDGET, above=True)
    if report.get("idempotency"):
        share = report["idempotency"]["ratio"]
        check("POST /tasks, with Idempotency-Key vs without", share, IDEMPOTENCY_BUDGET, above=True)
    return lines


def pyplot(who: str) -> Any:
    """matplotlib's pyplot drawing to files (the Agg backend), or None, said on stderr, without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{who}: matplotlib is not installed; no chart", file=sys.stderr)
        return None
    return plt


def chart(report: dict[str, Any], path: Path) -> None:
    plt = pyplot("bench")
    if plt is None:
        return
    names = list(report["servers"])
    figure, axes = plt.subplots(1, len(SCENARIOS), figsize=(4.2 * len(SCENARIOS), 4))
    for axis, scenario in zip(axes, SCENARIOS, strict=True):
        values = [report["servers"][n]["scenarios"][scenario.key]["rps"] for n in names]
        low = [
            v - report["servers"][n]["scenarios"][scenario.key]["rps_min"] for n, v in zip(names, values, strict=True)
        ]
        high = [
            report["servers"][n]["scenarios"][scenario.key]["rps_max"] - v for n, v in zip(names, values, strict=True)
        ]
        axis.bar(names, values, yerr=[low, high], color=["#2b6cb0", "#2c7a7b", "#a0aec0", "#4a5568"][: len(names)])
        axis.set_title(scenario.label)
        axis.set_ylabel("req/s (median, min–max)")
        axis.tick_params(axis="x", rotation=30)
    figure.suptitle(f"taskapi make bench, {report['when']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    sys.exit(main())
