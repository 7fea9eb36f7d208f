"""The benchmark's percentile from two histogram snapshots (what `make bench` reports for latency)."""

from __future__ import annotations

import math

from infra.bench.streaming import histogram_quantile

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
