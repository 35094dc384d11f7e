"""`/metrics` on a live server with two workers: whichever worker answers the scrape, it counts exactly
the requests both workers served (prometheus-client's multiprocess mode)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from taskapi.testing.liveserver import live_server

pytestmark = pytest.mark.contract

SENT = 60


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


def test_two_workers_count_exactly_the_requests_sent(tmp_path: Path, database_url: str) -> None:
    with live_server(tmp_path, database_url=database_url, workers=2, env={"TASKAPI_LOG_LEVEL": "info"}) as server:
        before = httpx.get(f"{server.base_url}/metrics").text  # the server was probed while it started
        for _ in range(SENT):  # a new connection each: the kernel hands them to either worker
            assert httpx.get(f"{server.base_url}/healthz").status_code == 200
        for _ in range(SENT // 2):
            assert httpx.get(f"{server.base_url}/tasks").status_code == 401
        scrapes = [httpx.get(f"{server.base_url}/metrics") for _ in range(12)]
        records = server.wait_for_log(
            lambda rs: sum(r.get("operation_id") == "getMetrics" for r in rs) == len(scrapes) + 1
        )
    served_by = {r["pid"] for r in records if r.get("operation_id") == "getHealth"}
    scraped_by = {r["pid"] for r in records if r.get("operation_id") == "getMetrics"}
    assert len(served_by) == 2, "one worker served every request: the test proves nothing"
    assert len(scraped_by) == 2, "one worker answered every scrape: the test proves nothing"
    for scrape in scrapes:
        assert scrape.status_code == 200
        assert scrape.headers["Content-Type"].startswith("text/plain")
        assert counted(scrape.text, "getHealth", 200) - counted(before, "getHealth", 200) == SENT
        assert counted(scrape.text, "listTasks", 401) - counted(before, "listTasks", 401) == SENT // 2
        assert gauge(scrape.text, "taskapi_http_requests_in_flight") == 1.0  # the scrape itself
