"""The worker's garbage-collection pauses are measured without touching a metric inside the collector."""

from __future__ import annotations

import gc
import threading

from prometheus_client import CollectorRegistry

from agents.metrics import StreamMetrics, watch_gc


def _count(metrics: StreamMetrics, registry: CollectorRegistry) -> float:
    value = registry.get_sample_value("lg_stream_gc_pause_seconds_count")
    return 0.0 if value is None else value


def test_gc_pauses_are_noted_in_the_collector_and_observed_later() -> None:
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    callback = watch_gc(metrics)
    try:
        gc.collect()
        noted = len(metrics.gc_pauses)
        assert noted >= 1 and _count(metrics, registry) == 0  # nothing observed inside the collector
        metrics.flush_gc_pauses()
        assert _count(metrics, registry) == noted and not metrics.gc_pauses
    finally:
        gc.callbacks.remove(callback)


def test_a_collection_while_a_metric_is_locked_does_not_wait_for_it() -> None:
    """The deadlock that froze a worker: a collection starting while the pause histogram's own value lock is
    held by the same thread (inside prometheus_client). Observing from the callback would never return."""
    registry = CollectorRegistry()
    metrics = StreamMetrics(registry)
    callback = watch_gc(metrics)
    lock = metrics.gc_pause_seconds._sum._lock  # type: ignore[attr-defined]  # prometheus_client internals
    done = threading.Event()

    def collect_holding_the_lock() -> None:
        with lock:
            gc.collect()
        done.set()

    try:
        worker = threading.Thread(target=collect_holding_the_lock, daemon=True)
        worker.start()
        assert done.wait(5), "the gc callback waited on a metric's lock"
    finally:
        gc.callbacks.remove(callback)
