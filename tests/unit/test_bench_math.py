"""The benchmark's percentile from two histogram snapshots (what `make bench` reports for latency), and the
batch steps it reads from the worker's metrics."""

from __future__ import annotations

import math

from prometheus_client import generate_latest

from agents.metrics import StreamMetrics
from agents.pipeline import BatchReport
from infra.bench.streaming import histogram_buckets, histogram_quantile, phases

INF = float("inf")


def test_quantile_interpolates_inside_the_bucket_of_the_run_only() -> None:
    before = {0.1: 5.0, 0.2: 5.0, 0.5: 5.0, INF: 5.0}  # observations made before the run do not count
    after = {0.1: 5.0, 0.2: 55.0, 0.5: 105.0, INF: 105.0}  # the run: 50 in (0.1, 0.2], 50 in (0.2, 0.5]
    assert math.isclose(histogram_quantile(0.5, before, after), 0.2)
    assert math.isclose(histogram_quantile(0.25, before, after), 0.15)
    assert math.isclose(histogram_quantile(0.99, before, after), 0.2 + 0.3 * 49 / 50)


def test_no_observations_is_nan_and_overflow_reports_the_last_finite_bound() -> None:
    assert math.isnan(histogram_quantile(0.5, {INF: 3.0}, {INF: 3.0}))
    assert histogram_quantile(0.99, {}, {1.0: 0.0, INF: 10.0}) == 1.0


def test_phases_of_a_run_are_read_per_label_from_the_workers_metrics() -> None:
    metrics = StreamMetrics()
    metrics.observe_batch(BatchReport(records=3, phases={"apply": 0.02, "write_data": 0.2}))
    before = generate_latest(metrics.registry).decode()
    metrics.observe_batch(BatchReport(records=3, phases={"apply": 0.04, "write_data": 0.3}))
    metrics.observe_batch(BatchReport(records=3, phases={"apply": 0.06, "write_data": 0.4}))
    metrics.tick_seconds.observe(0.5)
    after = generate_latest(metrics.registry).decode()

    found = phases(before, after)

    assert found["apply"]["count"] == 2 and found["apply"]["mean_ms"] == 50.0
    assert found["write_data"]["count"] == 2 and found["write_data"]["mean_ms"] == 350.0
    assert found["tick"] == {"count": 1, "mean_ms": 500.0, "p99_ms": 497.5}
    assert "gc" not in found and "publish" not in found  # nothing observed in the run
    assert histogram_buckets(after, "lg_stream_batch_phase_seconds", 'phase="apply"')[0.05] == 2.0
