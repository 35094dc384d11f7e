"""A live server with two workers: whichever worker answers a `/metrics` scrape, it counts exactly the
requests both workers served (prometheus-client's multiprocess mode); each worker's log lines name it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskapi.testing.databases import Databases
from taskapi.testing.liveserver import LiveServer, live_server
from tests.hostile.state import worker_pids

# The tests share a two-worker server: one xdist group.
pytestmark = [pytest.mark.contract, pytest.mark.xdist_group("metrics")]


def counted(exposition: str, operation: str, status: int) -> float:
    """The requests of `operation` answered `status`, as the exposition counts them."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if (
                sample.name == "taskapi_http_request_duration_seconds_count"
                and sample.labels.get("operation") == operation
                and sample.labels.get("status") == str(status)
            ):
                return sample.value
    return 0.0


def gauge(exposition: str, name: str) -> float:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    raise AssertionError(f"{name} is not in the exposition")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, databases: Databases) -> Iterator[LiveServer]:
    info = {"TASKAPI_LOG_LEVEL": "info"}  # the access log names the worker of each answer
    with live_server(
        tmp_path_factory.mktemp("server"), database_url=databases.migrated(), workers=2, env=info
    ) as running:
        yield running


def workers_of(server: LiveServer, request_ids: set[str]) -> set[int]:
    """The pids of the workers that answered these requests (the access log names each)."""
    records = server.wait_for_log(lambda rs: {r.get("request_id") for r in rs} >= request_ids)
    return {r["pid"] for r in records if r.get("request_id") in request_ids}


def until_both_workers(server: LiveServer, send: Callable[[str], httpx.Response], limit: int) -> list[httpx.Response]:
    """`send(request_id)` on a new connection each time (the kernel hands them to either worker), in rounds of
    ten, until both workers have answered one (a busy machine can leave one worker idle for a while)."""
    answers: list[httpx.Response] = []
    while len(answers) < limit:
        ids = {f"{send.__name__}-{len(answers) + n}" for n in range(10)}
        answers += [send(request_id) for request_id in sorted(ids)]
        if len(workers_of(server, {a.headers["x-request-id"] for a in answers})) == 2:
            return answers
    pytest.fail(f"one worker answered all {len(answers)} of {send.__name__}: the test would prove nothing")


def test_two_workers_count_exactly_the_requests_sent(server: LiveServer) -> None:
    before = httpx.get(f"{server.base_url}/metrics").text  # the server was probed while it started

    def health(request_id: str) -> httpx.Response:
        return httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": request_id})

    def unauthorized(request_id: str) -> httpx.Response:
        return httpx.get(f"{server.base_url}/tasks", headers={"X-Request-ID": request_id})

    def scrape(request_id: str) -> httpx.Response:
        return httpx.get(f"{server.base_url}/metrics", headers={"X-Request-ID": request_id})

    healthy = until_both_workers(server, health, 400)
    refused = [unauthorized(f"unauthorized-{n}") for n in range(30)]
    assert {answer.status_code for answer in healthy} == {200}
    assert {answer.status_code for answer in refused} == {401}
    for exposition in until_both_workers(server, scrape, 200):
        assert exposition.status_code == 200
        assert exposition.headers["Content-Type"].startswith("text/plain")
        assert counted(exposition.text, "getHealth", 200) - counted(before, "getHealth", 200) == len(healthy)
        assert counted(exposition.text, "listTasks", 401) - counted(before, "listTasks", 401) == len(refused)
        assert gauge(exposition.text, "taskapi_http_requests_in_flight") == 1.0  # the scrape itself


def test_the_protocols_own_answers_are_logged_with_the_workers_pid(server: LiveServer) -> None:
    """A 431 is answered by `taskapi serve`'s protocol, which each spawned worker unpickles with its access
    log: the line names the worker that answered, not the supervisor that made the protocol."""
    ids = [f"oversized-{n}" for n in range(8)]
    for request_id in ids:  # a new connection each: either worker may answer
        refused = httpx.get(f"{server.base_url}/healthz", headers={"X-Request-ID": request_id, "X-Pad": "p" * 20_000})
        assert refused.status_code == 431
    records = server.wait_for_log(lambda rs: {r.get("request_id") for r in rs} >= set(ids))
    pids = {r["pid"] for r in records if r.get("request_id") in ids}
    children = set(worker_pids(server.process.pid))  # the workers (and multiprocessing's resource tracker)
    assert server.process.pid not in pids
    assert pids <= children, (pids, children)
