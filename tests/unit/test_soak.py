"""`make soak`'s pure parts (bench/soak.py): the pacing, the warm-up split, the growth and its slope, and the
mix of requests with the tasks it keeps alive."""

from __future__ import annotations

import itertools
import json
import math
import random
import statistics
from collections import Counter

import pytest
from bench.soak import (
    GROWTH_THRESHOLD_MB_PER_HOUR,
    MIX,
    PROTECTED_OLDEST,
    Call,
    Sample,
    Workload,
    after_warmup,
    effective_warmup,
    growth,
    interval_rates,
    percentile,
    send_offsets,
    slope,
)


def samples(rss: list[float], interval: float = 10) -> list[Sample]:
    return [Sample(t=n * interval, rss_mb=mb, anon_mb=mb / 2, requests=n * 3000, cpu_s=n) for n, mb in enumerate(rss)]


# ---------------------------------------------------------------- pacing


def test_requests_are_due_evenly_at_the_rate_for_the_duration() -> None:
    offsets = list(send_offsets(300, 10))
    assert len(offsets) == 3000
    assert offsets[0] == 0
    assert offsets[-1] < 10
    assert {round(b - a, 9) for a, b in itertools.pairwise(offsets)} == {round(1 / 300, 9)}


def test_a_fractional_rate_sends_what_fits_in_the_duration() -> None:
    offsets = list(send_offsets(2.5, 3))
    assert offsets == [0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 2.8]


# ---------------------------------------------------------------- warm-up and growth


def test_the_warm_up_is_a_minute_or_a_quarter_of_a_short_run() -> None:
    assert effective_warmup(600, 60) == 60
    assert effective_warmup(60, 60) == 15
    assert effective_warmup(600, 0) == 0


def test_the_samples_after_the_warm_up_start_at_its_end() -> None:
    steady = after_warmup(samples([1, 2, 3, 4, 5, 6, 7]), 20)
    assert [s.t for s in steady] == [20, 30, 40, 50, 60]


def test_the_slope_of_a_straight_line_is_exact() -> None:
    assert slope([(0, 1), (1, 3), (2, 5), (3, 7)]) == (2, 0)


def test_the_slope_of_noise_is_the_least_squares_one_and_smaller_than_its_error() -> None:
    points = [(0.0, 100.0), (1.0, 101.0), (2.0, 99.0), (3.0, 100.0), (4.0, 101.0), (5.0, 99.0)]
    value, stderr = slope(points)
    assert value == pytest.approx(statistics.linear_regression(*zip(*points, strict=True)).slope)
    assert value == pytest.approx(-2 / 17.5)
    assert stderr > abs(value)


def test_too_few_points_have_no_slope() -> None:
    assert all(math.isnan(v) for v in slope([(0, 1)]))
    assert all(math.isnan(v) for v in slope([(0, 1), (0, 2)]))
    value, stderr = slope([(0, 1), (1, 2)])
    assert value == 1
    assert math.isnan(stderr)


def test_growth_leaves_out_the_warm_up() -> None:
    # Fast growth in the warm-up, then 0.1 MB every 10 s: 36 MB/hour.
    found = growth(samples([80, 95, 100, 100.1, 100.2, 100.3, 100.4]), warmup=20)
    assert found.samples == 5
    assert found.start_mb == 100
    assert found.end_mb == 100.4
    assert found.growth_mb == pytest.approx(0.4)
    assert found.slope_mb_per_hour == pytest.approx(36)
    assert found.slope_stderr_mb_per_hour == pytest.approx(0, abs=1e-6)
    assert found.peak_mb == 100.4
    assert found.growing


def test_a_flat_run_is_not_growing_and_its_peak_may_lie_in_the_warm_up() -> None:
    found = growth(samples([120, 101, 100, 100.2, 99.9, 100.1, 100]), warmup=20)
    assert abs(found.slope_mb_per_hour) < GROWTH_THRESHOLD_MB_PER_HOUR
    assert not found.growing
    assert found.peak_mb == 120


def test_the_threshold_is_on_the_slope_not_the_difference() -> None:
    # Ends where it started, but climbed in between: only the slope says so.
    found = growth(samples([100, 100, 101, 102, 103, 104, 100]), warmup=10)
    assert found.growth_mb == 0
    assert found.growing


def test_no_sample_after_the_warm_up_is_an_error() -> None:
    with pytest.raises(ValueError, match="no sample after the warm-up"):
        growth(samples([100, 101]), warmup=60)


def test_rates_between_samples() -> None:
    assert interval_rates(samples([1, 1, 1])) == [300, 300]


def test_percentiles_by_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1) == 100
    assert math.isnan(percentile([], 0.5))


# ---------------------------------------------------------------- the mix


def drive(workload: Workload, count: int) -> list[Call]:
    """Take `count` calls, answering each at once as the server would."""
    calls, next_id = [], 10_000
    for _ in range(count):
        call = workload.next()
        calls.append(call)
        if call.op == "create":
            next_id += 1
            workload.created(next_id)
        elif call.op == "delete" and call.task_id is not None:
            workload.removed(call.task_id)
    return calls


def test_the_mix_has_a_maker_for_every_share() -> None:
    assert sum(MIX.values()) == 100
    calls = drive(Workload(range(1, 1001), target=1000, rng=random.Random(1)), 5000)
    assert {call.op for call in calls} == {*MIX, "create", "delete"} - {"churn"}


def test_the_mix_keeps_about_the_target_alive_and_deletes_the_oldest_first() -> None:
    workload = Workload(range(1, 1001), target=1000, rng=random.Random(2))
    calls = drive(workload, 20_000)
    assert len(workload.live) == 1000
    deleted = [call.task_id for call in calls if call.op == "delete" and call.task_id is not None]
    assert deleted[:3] == [1, 2, 3]
    assert deleted == sorted(deleted)
    counts = Counter(call.op for call in calls)
    assert abs(counts["create"] - counts["delete"]) <= 1
    assert counts["create"] == pytest.approx(20_000 * MIX["churn"] / 100 / 2, rel=0.1)


def test_reads_and_writes_never_pick_the_tasks_next_in_line_for_deletion() -> None:
    workload = Workload(range(1, 1001), target=1000, rng=random.Random(3))
    for _ in range(5000):
        call = workload.next()
        if call.op in ("get", "update", "complete"):
            assert int(call.path.split("/")[2]) not in list(workload.live)[:PROTECTED_OLDEST]
        if call.op == "delete" and call.task_id is not None:
            workload.removed(call.task_id)
        if call.op == "create":
            workload.created(None)  # failed creates: the table shrinks, reads go on safely


def test_a_table_that_fills_up_first_creates() -> None:
    workload = Workload([], target=1000, rng=random.Random(4))
    calls = [workload.next() for _ in range(50)]
    assert {call.op for call in calls} <= {"create", "list", "login", "not_found", "invalid", "unauthorized"}
    assert workload.creating == sum(call.op == "create" for call in calls)


def test_the_failing_requests_expect_their_errors() -> None:
    workload = Workload(range(1, 1001), target=1000, rng=random.Random(5))
    calls = drive(workload, 5000)
    expected = {(call.op, call.expect) for call in calls if call.expect >= 400}
    assert expected == {("not_found", 404), ("invalid", 422), ("invalid", 400), ("unauthorized", 401), ("login", 401)}
    assert all(call.auth in ("none", "bad") for call in calls if call.op == "unauthorized")
    assert any(call.path == f"/tasks/{call.task_id}" for call in calls if call.op == "delete")
    gone = {call.task_id for call in calls if call.op == "delete"}
    late_misses = [call for call in calls[2500:] if call.op == "not_found"]
    assert all(int(call.path.split("/")[2]) in gone for call in late_misses)


def test_lists_follow_the_cursor_of_the_last_page() -> None:
    workload = Workload(range(1, 1001), target=1000, rng=random.Random(6))
    workload.listed("250")
    call = next(c for c in iter(workload.next, None) if c.op == "list")
    assert call.params["cursor"] == "250"
    workload.listed(None)
    call = next(c for c in iter(workload.next, None) if c.op == "list")
    assert "cursor" not in call.params


def test_a_call_on_the_wire() -> None:
    listing = Call("list", "GET", "/tasks", 200, params={"limit": "50", "cursor": "7"})
    assert listing.wire() == ("/tasks?limit=50&cursor=7", [], b"")
    create = Call("create", "POST", "/tasks", 201, body={"title": "a"})
    assert create.wire() == ("/tasks", [("Content-Type", "application/json")], json.dumps({"title": "a"}).encode())
    login = Call("login", "POST", "/auth/token", 200, form={"username": "bench", "password": "a b"}, auth="none")
    assert login.wire()[1:] == ([("Content-Type", "application/x-www-form-urlencoded")], b"username=bench&password=a+b")
    malformed = Call("invalid", "POST", "/tasks", 400, content=b'{"title"')
    assert malformed.wire()[2] == b'{"title"'
