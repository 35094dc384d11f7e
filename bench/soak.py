"""`make soak`: one taskapi worker under a steady, moderate, mixed load for ten minutes; does its memory grow?

taskapi as `make bench` serves it (`taskapi serve`, one worker pinned to core 0, the access log on, the
rate limits raised) gets an open-loop load at a fixed rate from this process (pinned to core 1): request
n is sent at start + n / rate whether or not the earlier ones have been answered, so a slow server is not
given a rest. The mix reads, lists, updates, completes, creates and deletes tasks (creates and deletes
keep about 1,000 alive, the oldest deleted first), logs in now and then, and sends a share of requests
that fail (404, 422, 400, 401): a leak often hides on an error path. The server's RSS (VmRSS) is sampled
every interval with the count of answered requests and the server's CPU time. The first minute is the
warm-up (caches, pools, allocator arenas filling); the growth is the least-squares slope of the RSS over
the samples after it. Output: build/bench/soak.json, build/bench/soak.png and a summary; the verdict on
the slope is informational (the exit status is 0 unless the run itself failed).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import h11

from bench.run import LOAD_CORE, OUT, PASSWORD, SEEDED, pyplot, sign_up_and_seed, taskapi_target
from taskapi.testing.databases import Backend, Databases, postgres_reachable

# Why these figures: bench/README.md, "Soak".
DEFAULT_RATE = 300.0
DEFAULT_WARMUP_SECONDS = 60.0
GROWTH_THRESHOLD_MB_PER_HOUR = 5.0
# Reads, updates and completes never pick the oldest ids: those are next to be deleted, and a read sent
# before its task's DELETE must not arrive after it (it would be a 404 the mix did not mean).
PROTECTED_OLDEST = 100
# Connections the load uses, each with one request at a time: far more than 300 req/s of a few ms need.
CONNECTIONS = 16
REQUEST_TIMEOUT_SECONDS = 30


# ---------------------------------------------------------------- the workload (no I/O)


@dataclass(frozen=True)
class Call:
    """One request of the mix and the status it should get; `auth` is "token", "none" or "bad"."""

    op: str
    method: str
    path: str
    expect: int
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    content: bytes | None = None
    form: dict[str, str] | None = None
    auth: str = "token"
    task_id: int | None = None

    def wire(self) -> tuple[str, list[tuple[str, str]], bytes]:
        """The request target (path and query), the header fields of the body, and the body's bytes."""
        target = f"{self.path}?{urlencode(self.params)}" if self.params else self.path
        if self.form is not None:
            return target, [("Content-Type", "application/x-www-form-urlencoded")], urlencode(self.form).encode()
        if self.content is not None:
            return target, [("Content-Type", "application/json")], self.content
        if self.body is not None:
            return target, [("Content-Type", "application/json")], json.dumps(self.body).encode()
        return target, [], b""


# Shares of the mix, in percent. "churn" creates while fewer than the target are alive (or on their way),
# deletes otherwise; "not_found", "invalid" and "unauthorized" are meant to fail; "login" alternates a
# right and a wrong password (Argon2: the dearest request there is, hence the small share).
MIX: dict[str, float] = {
    "get": 34.5,
    "list": 10,
    "update": 10,
    "complete": 5,
    "churn": 25,
    "login": 0.5,
    "not_found": 5,
    "invalid": 5,
    "unauthorized": 5,
}


class Workload:
    """The next request of the mix, given the tasks alive: ids in creation order, oldest first."""

    def __init__(self, live: Sequence[int], *, target: int, rng: random.Random, username: str = "bench") -> None:
        self.live: deque[int] = deque(sorted(live))
        self.target = target
        self.creating = 0
        self.deleted: deque[int] = deque(maxlen=100)
        self.cursor: str | None = None
        self.logins = 0
        self._rng = rng
        self._username = username
        self._make: dict[str, Callable[[], Call]] = {
            "get": self._get,
            "list": self._list,
            "update": self._update,
            "complete": self._complete,
            "churn": self._churn,
            "login": self._login,
            "not_found": self._not_found,
            "invalid": self._invalid,
            "unauthorized": self._unauthorized,
        }
        self._ops, self._weights = list(MIX), list(MIX.values())

    def next(self) -> Call:
        """The next request; the caller reports back what creates, deletes and lists returned."""
        op = self._rng.choices(self._ops, self._weights)[0]
        if op in ("get", "update", "complete") and len(self.live) <= PROTECTED_OLDEST:
            op = "churn"  # too few tasks to read safely: make more (only while the table fills)
        return self._make[op]()

    # -- what came back

    def created(self, task_id: int | None) -> None:
        """A create was answered: the new task's id, or None when it failed."""
        self.creating -= 1
        if task_id is not None:
            self.live.append(task_id)

    def removed(self, task_id: int) -> None:
        """A delete was answered 204: later requests for this id should get 404."""
        self.deleted.append(task_id)

    def listed(self, next_cursor: str | None) -> None:
        """A page came back: the next list continues from it (from the start after the last page)."""
        self.cursor = next_cursor

    # -- the operations

    def _pick(self) -> int:
        return self.live[self._rng.randrange(PROTECTED_OLDEST, len(self.live))]

    def _newest(self) -> int:
        return self.live[-1] if self.live else 1

    def _churn(self) -> Call:
        if len(self.live) + self.creating < self.target or not self.live:
            self.creating += 1
            body = {"title": f"soak {self._rng.getrandbits(32):08x}", "priority": self._rng.randint(1, 5)}
            if self._rng.random() < 0.5:
                body["description"] = "x" * self._rng.randint(0, 400)
            return Call("create", "POST", "/tasks", 201, body=body)
        task_id = self.live.popleft()
        return Call("delete", "DELETE", f"/tasks/{task_id}", 204, task_id=task_id)

    def _get(self) -> Call:
        return Call("get", "GET", f"/tasks/{self._pick()}", 200)

    def _list(self) -> Call:
        params = {"limit": str(self._rng.choice((10, 20, 50, 100)))}
        if self.cursor is not None:
            params["cursor"] = self.cursor
        elif self._rng.random() < 0.3:
            params["completed"] = self._rng.choice(("true", "false"))
        return Call("list", "GET", "/tasks", 200, params=params)

    def _update(self) -> Call:
        body: dict[str, Any] = self._rng.choice(
            (
                {"priority": self._rng.randint(1, 5)},
                {"title": f"renamed {self._rng.random():.6f}"},
                {"completed": False},
            )
        )
        return Call("update", "PATCH", f"/tasks/{self._pick()}", 200, body=body)

    def _complete(self) -> Call:
        return Call("complete", "PATCH", f"/tasks/{self._pick()}/complete", 200)

    def _login(self) -> Call:
        self.logins += 1
        right = self.logins % 2 == 1
        form = {"grant_type": "password", "username": self._username, "password": PASSWORD if right else "wrong!"}
        return Call("login", "POST", "/auth/token", 200 if right else 401, form=form, auth="none")

    def _not_found(self) -> Call:
        gone = self._rng.choice(self.deleted) if self.deleted else 2**62
        method, path = self._rng.choice(
            (("GET", f"/tasks/{gone}"), ("DELETE", f"/tasks/{gone}"), ("PATCH", f"/tasks/{gone}/complete"))
        )
        return Call("not_found", method, path, 404)

    def _invalid(self) -> Call:
        kind = self._rng.randrange(4)
        if kind == 0:
            return Call("invalid", "POST", "/tasks", 422, body={"title": "", "priority": 9})
        if kind == 1:
            return Call("invalid", "GET", "/tasks", 422, params={"limit": "0"})
        if kind == 2:
            return Call("invalid", "PATCH", f"/tasks/{self._newest()}", 422, body={})
        return Call("invalid", "POST", "/tasks", 400, content=b'{"title": "unterminated')

    def _unauthorized(self) -> Call:
        path = self._rng.choice(("/tasks", f"/tasks/{self._newest()}"))
        return Call("unauthorized", "GET", path, 401, auth=self._rng.choice(("none", "bad")))


def send_offsets(rate: float, seconds: float) -> Iterator[float]:
    """When each request is due, in seconds from the start: evenly spaced at `rate` per second, whatever
    the answers (an open loop)."""
    for n in range(math.ceil(rate * seconds)):
        offset = n / rate
        if offset >= seconds:
            return
        yield offset


# ---------------------------------------------------------------- the figures (no I/O)


@dataclass(frozen=True)
class Sample:
    """The server at `t` seconds into the load: resident set (VmRSS) and its anonymous part (RssAnon), in
    MB; requests answered so far; CPU seconds used so far."""

    t: float
    rss_mb: float
    anon_mb: float
    requests: int
    cpu_s: float


@dataclass(frozen=True)
class Growth:
    """RSS after the warm-up: the first and last samples, their difference, the least-squares slope (with
    its standard error) and the peak sampled, in MB and MB/hour."""

    warmup_s: float
    samples: int
    start_mb: float
    end_mb: float
    growth_mb: float
    slope_mb_per_hour: float
    slope_stderr_mb_per_hour: float
    peak_mb: float

    @property
    def growing(self) -> bool:
        return self.slope_mb_per_hour > GROWTH_THRESHOLD_MB_PER_HOUR


def effective_warmup(seconds: float, warmup: float) -> float:
    """The warm-up: `warmup` seconds, but at most a quarter of the run (a short run keeps most samples)."""
    return min(warmup, seconds / 4)


def after_warmup(samples: Sequence[Sample], warmup: float) -> list[Sample]:
    """The samples taken at or after the end of the warm-up."""
    return [sample for sample in samples if sample.t >= warmup]


def slope(points: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The least-squares slope of y over x, and its standard error (nan with fewer than three points)."""
    if len(points) < 2:
        return math.nan, math.nan
    xs, ys = [x for x, _ in points], [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    if sxx == 0:
        return math.nan, math.nan
    b = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    if len(points) < 3:
        return b, math.nan
    residuals = sum((y - mean_y - b * (x - mean_x)) ** 2 for x, y in points)
    return b, math.sqrt(residuals / (len(points) - 2) / sxx)


def growth(samples: Sequence[Sample], warmup: float) -> Growth:
    """The RSS growth over the samples after the warm-up."""
    steady = after_warmup(samples, warmup)
    if not steady:
        raise ValueError(f"no sample after the warm-up of {warmup:g} s")
    per_second, stderr = slope([(s.t, s.rss_mb) for s in steady])
    return Growth(
        warmup_s=warmup,
        samples=len(steady),
        start_mb=steady[0].rss_mb,
        end_mb=steady[-1].rss_mb,
        growth_mb=steady[-1].rss_mb - steady[0].rss_mb,
        slope_mb_per_hour=per_second * 3600,
        slope_stderr_mb_per_hour=stderr * 3600,
        peak_mb=max(s.rss_mb for s in samples),
    )


def interval_rates(samples: Sequence[Sample]) -> list[float]:
    """Requests answered per second between consecutive samples."""
    return [(b.requests - a.requests) / (b.t - a.t) for a, b in itertools.pairwise(samples) if b.t > a.t]


def percentile(values: Sequence[float], share: float) -> float:
    """The value below which `share` (0..1) of the values lie (nearest rank); nan for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


# ---------------------------------------------------------------- the server process


def _status_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith("kB"):
            fields[name] = int(value.split()[0])
    return fields


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sample(pid: int, t: float, requests: int) -> Sample:
    """The process's memory and CPU now."""
    kib = _status_kib(pid)
    return Sample(
        t=round(t, 3),
        rss_mb=round(kib["VmRSS"] / 1024, 2),
        anon_mb=round(kib.get("RssAnon", 0) / 1024, 2),
        requests=requests,
        cpu_s=round(cpu_seconds(pid), 2),
    )


# ---------------------------------------------------------------- the load


@dataclass
class Tally:
    """What the load sent and got back."""

    sent: int = 0
    answered: int = 0
    failed_as_meant: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    unexpected: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    latency_ms: list[float] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    last_answer: float = 0.0
    cpu_s: float = 0.0  # the load generator's own


class Connection:
    """One keep-alive HTTP/1.1 connection, one request at a time: h11 over asyncio streams, reopened after
    the server closes it or an exchange fails. httpx spends several times the CPU per request (bench/README.md,
    "Soak"), more than the load's core has to give at the soak's rate on this machine."""

    def __init__(self, base_url: str) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port)
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._http = h11.Connection(h11.CLIENT)

    async def request(
        self, method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b""
    ) -> tuple[int, bytes]:
        """The status and body of the answer; OSError, TimeoutError or h11.ProtocolError when there is none."""
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_SECONDS):
                return await self._exchange(method, target, headers, body)
        except BaseException:
            self.close()  # left in the middle of an exchange: unusable
            raise

    async def _exchange(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
            self._http = h11.Connection(h11.CLIENT)
        reader, writer = self._streams
        fields = [("Host", self.host), *headers, *([("Content-Length", str(len(body)))] if body else [])]
        out = [self._http.send(h11.Request(method=method, target=target, headers=fields))]
        if body:
            out.append(self._http.send(h11.Data(data=body)))
        out.append(self._http.send(h11.EndOfMessage()))
        writer.write(b"".join(piece for piece in out if piece))
        status, chunks = 0, []
        while True:
            event = self._http.next_event()
            if event is h11.NEED_DATA:
                self._http.receive_data(await reader.read(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionResetError("the server closed the connection")
        if self._http.our_state is h11.DONE and self._http.their_state is h11.DONE:
            self._http.start_next_cycle()
        else:
            self.close()  # `Connection: close`: the next request opens another
        return status, b"".join(chunks)

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class Load:
    """Sends the workload's calls at their due times and feeds the answers back to it."""

    def __init__(self, base_url: str, workload: Workload, token: str) -> None:
        self.base_url = base_url
        self.workload = workload
        self.token = token
        self.tally = Tally()

    async def run(self, rate: float, seconds: float, start: float, clock: Callable[[], float]) -> None:
        """Send at `rate` per second for `seconds` from `start` (on `clock`), then wait for the answers.

        Each due time goes on a queue that CONNECTIONS senders take from, each with a connection of its own
        and one request at a time: when all are busy a request waits, and its wait counts in its latency
        (measured from when it was due), as it would for a client with that many connections."""
        due_times: asyncio.Queue[float | None] = asyncio.Queue()

        async def sender() -> None:
            connection = Connection(self.base_url)
            try:
                while (due := await due_times.get()) is not None:
                    self.tally.lateness_ms.append(max(0.0, clock() - due) * 1000)
                    await self.one(connection, self.workload.next(), due, clock)
            finally:
                connection.close()

        senders = [asyncio.create_task(sender()) for _ in range(CONNECTIONS)]
        for offset in send_offsets(rate, seconds):
            # sleep(0) when behind: the senders still get their turn.
            await asyncio.sleep(max(0.0, start + offset - clock()))
            due_times.put_nowait(start + offset)
        for _ in senders:
            due_times.put_nowait(None)
        await asyncio.wait(senders, timeout=60)

    async def one(self, connection: Connection, call: Call, due: float, clock: Callable[[], float]) -> None:
        self.tally.sent += 1
        target, headers, body = call.wire()
        if call.auth == "token":
            headers.append(("Authorization", f"Bearer {self.token}"))
        elif call.auth == "bad":
            headers.append(("Authorization", f"Bearer {secrets.token_urlsafe(24)}.{secrets.token_urlsafe(8)}"))
        try:
            status, answer = await connection.request(call.method, target, headers, body)
        except (OSError, TimeoutError, h11.ProtocolError) as exc:
            self.tally.errors[f"{call.op}: {type(exc).__name__}"] += 1
            if call.op == "create":
                self.workload.created(None)
            return
        now = clock()
        self.tally.answered += 1
        self.tally.last_answer = now
        self.tally.latency_ms.append((now - due) * 1000)
        self.tally.statuses[f"{call.op} {status}"] += 1
        ok = status == call.expect
        if ok and call.expect >= 400:
            self.tally.failed_as_meant += 1
        if not ok:
            self.tally.unexpected[f"{call.op} {call.method} -> {status}"] += 1
            if len(self.tally.examples) < 10:
                self.tally.examples.append(f"{call.method} {target}: {status} {answer[:200]!r}")
        if call.op == "create":
            self.workload.created(json.loads(answer)["id"] if ok else None)
        elif call.op == "delete" and ok and call.task_id is not None:
            self.workload.removed(call.task_id)
        elif call.op == "list" and ok:
            self.workload.listed(json.loads(answer)["next_cursor"])
        elif call.op == "login" and status == 200:
            self.token = json.loads(answer)["access_token"]


async def live_task_ids(base_url: str, token: str) -> list[int]:
    """The ids of every task of the user, page after page."""
    connection, ids, cursor = Connection(base_url), [], None
    try:
        while True:
            target = "/tasks?limit=100" + (f"&cursor={cursor}" if cursor else "")
            status, body = await connection.request("GET", target, [("Authorization", f"Bearer {token}")])
            if status != 200:
                raise RuntimeError(f"GET {target}: {status} {body[:200]!r}")
            page = json.loads(body)
            ids += [task["id"] for task in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return ids
    finally:
        connection.close()


async def soak(base_url: str, token: str, pid: int, args: Args) -> tuple[list[Sample], Tally, float]:
    """Drive the load and sample the server every interval; the samples, the tally and the elapsed time."""
    loop = asyncio.get_running_loop()
    rng = random.Random(args.seed)  # noqa: S311 - a reproducible mix, no secret
    workload = Workload(await live_task_ids(base_url, token), target=SEEDED, rng=rng)
    load = Load(base_url, workload, token)
    start = loop.time() + 0.1
    samples: list[Sample] = []

    async def sampler() -> None:
        for n in range(math.floor(args.seconds / args.interval + 1e-9) + 1):
            await asyncio.sleep(max(0.0, start + n * args.interval - loop.time()))
            samples.append(sample(pid, loop.time() - start, load.tally.answered))
            print(_progress(samples, args), flush=True)

    cpu = time.process_time()
    await asyncio.gather(load.run(args.rate, args.seconds, start, loop.time), sampler())
    elapsed = max(load.tally.last_answer, start + args.seconds) - start
    load.tally.cpu_s = time.process_time() - cpu
    return samples, load.tally, elapsed


def _progress(samples: Sequence[Sample], args: Args) -> str:
    last = samples[-1]
    rate = interval_rates(samples[-2:])
    per_second = f"{rate[0]:6.0f} req/s" if rate else " " * 12
    return f"  {last.t:6.0f} s  RSS {last.rss_mb:7.1f} MB  anon {last.anon_mb:7.1f} MB  {per_second}  of {args.rate:g}"


# ---------------------------------------------------------------- the run


@dataclass
class Args:
    seconds: float
    rate: float
    interval: float
    warmup: float
    backend: Backend
    seed: int


def run(args: Args, work: Path) -> dict[str, Any]:
    """Start the server, seed it, soak it; the report."""
    databases = Databases(work, prefix="taskapi_soak")
    try:
        target = taskapi_target(f"soak-{args.backend}", databases.fresh(args.backend))
        with target.start(work) as server:
            token = sign_up_and_seed(server.base_url, authenticated=True, tasks=SEEDED)
            pid = server.process.pid
            print(
                f"soak: taskapi on {args.backend}, 1 worker (pid {pid}) on core 0; {args.rate:g} req/s open loop "
                f"from core {LOAD_CORE} for {args.seconds:g} s; RSS every {args.interval:g} s",
                flush=True,
            )
            samples, tally, elapsed = asyncio.run(soak(server.base_url, token, pid, args))
            if server.process.poll() is not None:
                raise RuntimeError(f"the server exited during the soak ({server.process.returncode})")
            hwm_mb = _status_kib(pid)["VmHWM"] / 1024
    finally:
        databases.drop_all()
    return report(args, samples, tally, elapsed, hwm_mb)


def report(args: Args, samples: Sequence[Sample], tally: Tally, elapsed: float, hwm_mb: float) -> dict[str, Any]:
    warmup = effective_warmup(args.seconds, args.warmup)
    found = growth(samples, warmup)
    rates = interval_rates(samples)
    cpu = (samples[-1].cpu_s - samples[0].cpu_s) / (samples[-1].t - samples[0].t) if len(samples) > 1 else math.nan
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "settings": {**asdict(args), "warmup_effective": warmup, "threshold_mb_per_hour": GROWTH_THRESHOLD_MB_PER_HOUR},
        "load": {
            "sent": tally.sent,
            "answered": tally.answered,
            "failed_as_meant": tally.failed_as_meant,
            "elapsed_s": round(elapsed, 2),
            "achieved_rps": round(tally.answered / elapsed, 1),
            "interval_rps_min": round(min(rates), 1) if rates else None,
            "interval_rps_max": round(max(rates), 1) if rates else None,
            "latency_ms": _quantiles(tally.latency_ms),
            "send_lateness_ms": _quantiles(tally.lateness_ms),
            "server_cpu_share": round(cpu, 3),
            "generator_cpu_share": round(tally.cpu_s / elapsed, 3),
        },
        "statuses": dict(sorted(tally.statuses.items())),
        "unexpected": dict(tally.unexpected),
        "unexpected_examples": tally.examples,
        "errors": dict(tally.errors),
        "growth": {**asdict(found), "growing": found.growing},
        "vm_hwm_mb": round(hwm_mb, 1),
        "samples": [asdict(s) for s in samples],
    }


def _quantiles(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(values, 0.5), 2),
        "p99": round(percentile(values, 0.99), 2),
        "max": round(max(values, default=math.nan), 2),
    }


def print_summary(result: dict[str, Any]) -> None:
    load, found = result["load"], result["growth"]
    print("\n" + "=" * 100)
    print(
        f"load      {load['answered']:,} answered of {load['sent']:,} sent in {load['elapsed_s']:.0f} s: "
        f"{load['achieved_rps']:.1f} req/s (asked {result['settings']['rate']:g}; per interval "
        f"{load['interval_rps_min']}–{load['interval_rps_max']}), {load['failed_as_meant']:,} failed as meant"
    )
    print(
        f"latency   p50 {load['latency_ms']['p50']} ms  p99 {load['latency_ms']['p99']} ms  max "
        f"{load['latency_ms']['max']} ms (from when each was due); sent late by p99 "
        f"{load['send_lateness_ms']['p99']} ms, max {load['send_lateness_ms']['max']} ms"
    )
    print(
        f"CPU       server {load['server_cpu_share'] * 100:.0f}% of its core, load generator "
        f"{load['generator_cpu_share'] * 100:.0f}% of its own"
    )
    unexpected = ", ".join(f"{k} x{n}" for k, n in result["unexpected"].items()) or "none"
    errors = ", ".join(f"{k} x{n}" for k, n in result["errors"].items()) or "none"
    print(f"unexpected statuses: {unexpected};  transport errors: {errors}")
    for example in result["unexpected_examples"][:3]:
        print(f"  e.g. {example}")
    print(
        f"RSS       start {found['start_mb']:.1f} MB (the first sample at or after the {found['warmup_s']:g} s "
        f"warm-up), end {found['end_mb']:.1f} MB, growth {found['growth_mb']:+.1f} MB; peak sampled "
        f"{found['peak_mb']:.1f} MB, VmHWM {result['vm_hwm_mb']:.1f} MB"
    )
    print(
        f"slope     {found['slope_mb_per_hour']:+.2f} ± {found['slope_stderr_mb_per_hour']:.2f} MB/hour "
        f"(least squares over the {found['samples']} samples after the warm-up)"
    )
    threshold = result["settings"]["threshold_mb_per_hour"]
    if found["growing"]:
        print(f"verdict   GROWING: the slope is above {threshold:g} MB/hour (informational)")
    else:
        print(f"verdict   flat: the slope is not above {threshold:g} MB/hour (informational)")


def chart(result: dict[str, Any], path: Path) -> None:
    plt = pyplot("soak")
    if plt is None:
        return
    samples = [Sample(**s) for s in result["samples"]]
    found = result["growth"]
    minutes = [s.t / 60 for s in samples]
    figure, (memory, steady_memory, load) = plt.subplots(3, 1, figsize=(9, 8), sharex=True, height_ratios=(2, 2, 1))
    memory.plot(minutes, [s.rss_mb for s in samples], marker="o", markersize=3, color="#2b6cb0", label="VmRSS")
    memory.plot(minutes, [s.anon_mb for s in samples], marker=".", color="#2c7a7b", label="RssAnon")
    memory.axvspan(0, found["warmup_s"] / 60, color="#a0aec0", alpha=0.3, label="warm-up")
    memory.set_ylabel("MB")
    memory.legend(loc="lower right")
    # The same VmRSS after the warm-up on its own scale, with the fitted line: a slow growth shows.
    steady = after_warmup(samples, found["warmup_s"])
    steady_memory.plot(
        [s.t / 60 for s in steady], [s.rss_mb for s in steady], marker="o", markersize=3, color="#2b6cb0"
    )
    if len(steady) > 1:
        mean_t, mean_rss = statistics.fmean(s.t for s in steady), statistics.fmean(s.rss_mb for s in steady)
        ends = (steady[0].t, steady[-1].t)
        fitted = [mean_rss + found["slope_mb_per_hour"] / 3600 * (t - mean_t) for t in ends]
        label = f"slope {found['slope_mb_per_hour']:+.2f} MB/hour"
        steady_memory.plot([t / 60 for t in ends], fitted, linestyle="--", color="#4a5568", label=label)
        steady_memory.legend(loc="lower right")
    steady_memory.set_ylabel("VmRSS after warm-up, MB")
    rates = interval_rates(samples)
    load.step(minutes[1:], rates, where="pre", color="#2b6cb0")
    load.axhline(result["settings"]["rate"], linestyle=":", color="#4a5568")
    load.set_ylim(bottom=0)
    load.set_ylabel("req/s answered")
    load.set_xlabel("minutes")
    settings = result["settings"]
    figure.suptitle(
        f"taskapi make soak ({settings['backend']}, {settings['rate']:g} req/s, 1 worker), {result['when']}"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=600.0, help="length of the load (default 600)")
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="requests per second, open loop")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between RSS samples")
    parser.add_argument(
        "--warmup", type=float, default=DEFAULT_WARMUP_SECONDS, help="seconds left out of the growth (at most 1/4)"
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=20261201, help="seed of the mix")
    parsed = parser.parse_args(argv)
    if parsed.seconds <= 0 or parsed.rate <= 0 or parsed.interval <= 0:
        parser.error("--seconds, --rate and --interval must be positive")
    args = Args(parsed.seconds, parsed.rate, parsed.interval, parsed.warmup, parsed.backend, parsed.seed)
    if args.backend == "postgresql" and (why := postgres_reachable()) is not None:
        print(f"soak: no PostgreSQL ({why})", file=sys.stderr)
        return 2
    if hasattr(os, "sched_setaffinity") and LOAD_CORE in os.sched_getaffinity(0):
        os.sched_setaffinity(0, {LOAD_CORE})  # the load's core; the server is pinned to its own
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="taskapi-soak-") as tmp:
        result = run(args, Path(tmp))
    result["seconds"] = round(time.monotonic() - started, 1)
    (OUT / "soak.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    print_summary(result)
    chart(result, OUT / "soak.png")
    print(f"\nwrote {OUT / 'soak.json'} and {OUT / 'soak.png'} in {result['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
