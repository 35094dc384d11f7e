"""`make bench-against REF=<git ref>`: this build against another commit, in the same minutes.

This machine's speed drifts by as much as a third between runs a few minutes apart (bench/README.md), so a cost
budget ("keeps ≥ 95% of GET /tasks/{id}") cannot be read off two separate `make bench` runs. Here
both builds serve at once, each one worker pinned to core 0 (only the one under load uses it), and
`wrk` on core 1 alternates between them, round after round, so drift hits both alike. The other
build is checked out under build/bench/against/ with its own .venv (`make install` there, once).
Reported: per backend and scenario, the median req/s of each build and after/before.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.run import OUT, RAISED_RATE_LIMITS, ROOT, SCENARIOS, SEEDED, SERVER_CORE, sign_up_and_seed, wrk
from taskapi.testing.databases import Databases, postgres_reachable
from taskapi.testing.liveserver import live_server


def checkout(ref: str) -> Path:
    """A worktree of `ref` with its dependencies installed, made once per commit."""
    sha = subprocess.run(["git", "rev-parse", ref], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    tree = OUT / "against" / sha[:12]
    if not (tree / ".venv" / ".installed-stamp").exists():
        if not tree.exists():
            subprocess.run(["git", "worktree", "add", "--detach", str(tree), sha], cwd=ROOT, check=True)
        subprocess.run(["make", "--no-print-directory", "install"], cwd=tree, check=True)
    return tree


def compare(ref: str, *, rounds: int, seconds: float, connections: int) -> dict[str, Any]:
    """Serve both builds on each backend and alternate wrk between them; the medians and ratios."""
    other = checkout(ref)
    backends = ["sqlite"] + (["postgresql"] if postgres_reachable() is None else [])
    report: dict[str, Any] = {"against": ref, "rounds": rounds, "seconds": seconds, "results": {}}
    with tempfile.TemporaryDirectory(prefix="taskapi-compare-") as tmp:
        work = Path(tmp)
        databases = Databases(work, prefix="taskapi_compare")
        try:
            for backend in backends:
                report["results"][backend] = _compare_on(backend, other, databases, work, rounds, seconds, connections)
        finally:
            databases.drop_all()
    return report


def _compare_on(
    backend: str, other: Path, databases: Databases, work: Path, rounds: int, seconds: float, connections: int
) -> dict[str, Any]:
    # The access log on, as deployed; rate limits raised beyond wrk's pace (builds without them ignore it).
    env = {"TASKAPI_LOG_LEVEL": "info", "TASKAPI_RATE_LIMITS": RAISED_RATE_LIMITS}
    # Driver-qualified URLs: earlier builds know no other form (this one accepts them too).
    scheme = "sqlite+aiosqlite" if backend == "sqlite" else "postgresql+asyncpg"
    results: dict[str, Any] = {}
    with ExitStack() as stack:
        servers = {}
        for name, tree in (("before", other), ("after", None)):
            url = databases.fresh("sqlite" if backend == "sqlite" else "postgresql")
            url = scheme + url[url.index(":") :]
            server = stack.enter_context(
                live_server(
                    work / f"{backend}-{name}", database_url=url, env=env, pin_to_core=SERVER_CORE, checkout=tree
                )
            )
            servers[name] = (server.base_url, sign_up_and_seed(server.base_url, authenticated=True, tasks=SEEDED))
        for scenario in SCENARIOS:
            runs: dict[str, list[float]] = {"before": [], "after": []}
            for base_url, token in servers.values():
                wrk(base_url, scenario, token=token, seconds=2, connections=connections)  # warm-up
            for round_ in range(rounds):
                for name in ("before", "after") if round_ % 2 == 0 else ("after", "before"):
                    base_url, token = servers[name]
                    measured = wrk(base_url, scenario, token=token, seconds=seconds, connections=connections)
                    if measured.non_2xx or measured.errors:
                        raise RuntimeError(f"{name} {scenario.label}: {measured}")
                    runs[name].append(measured.rps)
            before, after = statistics.median(runs["before"]), statistics.median(runs["after"])
            results[scenario.key] = {
                "before": runs["before"],
                "after": runs["after"],
                "ratio": round(after / before, 3),
            }
            print(
                f"  {backend:10} {scenario.label:20} before {before:7.0f}  after {after:7.0f} req/s  "
                f"after/before {after / before:.2f}  (before {min(runs['before']):.0f}–{max(runs['before']):.0f}, "
                f"after {min(runs['after']):.0f}–{max(runs['after']):.0f})",
                flush=True,
            )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("ref", help="the commit to compare against (a branch, a tag, HEAD~3…)")
    parser.add_argument("--rounds", type=int, default=7, help="alternations per scenario (medians reported)")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one wrk run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    print(
        f"this build against {args.ref}: both served, one worker each on core {SERVER_CORE}; wrk on core 1, "
        f"{args.connections} connections, {args.rounds} alternating rounds of {args.seconds:g} s"
    )
    report = compare(args.ref, rounds=args.rounds, seconds=args.seconds, connections=args.connections)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "compare.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(f"wrote {OUT / 'compare.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
