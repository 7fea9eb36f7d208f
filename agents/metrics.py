"""Prometheus metrics of the streaming worker.

Contract: `StreamMetrics()` creates its metrics in its own registry (so tests can build many); in a
deployment the worker runs with PROMETHEUS_MULTIPROC_DIR set, so the values also land in the shared
directory the API's `GET /metrics` reads (prometheus_client multiprocess mode). Nothing happens at import.
"""

from __future__ import annotations

import gc
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from agents.pipeline import BatchReport

BATCH_SIZES = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30)
# Commit-to-visible: fine steps below 2 s, where the target lies, so percentiles interpolate closely.
LAG_SECONDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0,
               2.5, 3, 5, 10, 30, 60, 300)


class StreamMetrics:
    """Counters and histograms the pipeline updates after each batch."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.registry = r
        self.applied = Counter("lg_stream_events_applied", "Change events applied, by source table",
                               ["table"], registry=r)
        self.stale = Counter("lg_stream_events_replayed", "Change events skipped as already applied", registry=r)
        self.dead = Counter("lg_stream_events_dead_lettered", "Records sent to the dead-letter topic", registry=r)
        self.write_failures = Counter("lg_stream_write_failures", "Failed writes to ClickHouse (retried)", registry=r)
        self.fatal = Counter("lg_stream_worker_fatal_errors", "Permanent errors that stopped the worker (the "
                             "supervisor restarts it)", registry=r)
        self.batch_size = Histogram("lg_stream_batch_records", "Records per batch", buckets=BATCH_SIZES, registry=r)
        self.write_seconds = Histogram("lg_stream_write_seconds", "Time to write one batch to ClickHouse",
                                       buckets=SECONDS, registry=r)
        self.lag_seconds = Histogram("lg_stream_commit_to_visible_seconds",
                                     "Source commit to visible in ClickHouse, per applied change",
                                     buckets=LAG_SECONDS, registry=r)
        self.kafka_lag_seconds = Histogram("lg_stream_kafka_to_visible_seconds",
                                           "Kafka append (record timestamp) to visible in ClickHouse, per table "
                                           "record: the worker's share of the commit-to-visible time",
                                           buckets=LAG_SECONDS, registry=r)
        self.phase_seconds = Histogram("lg_stream_batch_phase_seconds", "Time one batch spent in each step: "
                                       "lease (fencing check), apply (decode + engine), write_data (the rows), "
                                       "publish (change feed), commit_state (engine store), write_checkpoint",
                                       ["phase"], buckets=SECONDS, registry=r)
        self.tick_seconds = Histogram("lg_stream_tick_seconds", "Time of one wall-clock tick (closing windows, "
                                      "writing what they emit), which batches wait behind", buckets=SECONDS,
                                      registry=r)
        self.gc_pause_seconds = Histogram("lg_stream_gc_pause_seconds", "Python garbage-collection pauses (the "
                                          "event loop stands still)", buckets=SECONDS, registry=r)
        # Pauses measured by the gc callback, observed later from ordinary code (`flush_gc_pauses`).
        self.gc_pauses: deque[float] = deque(maxlen=100_000)
        self.lag_ms = Gauge("lg_stream_table_lag_ms", "Commit-to-visible lag of the newest change, by table",
                            ["table"], registry=r, multiprocess_mode="livemax")

    def flush_gc_pauses(self) -> None:
        """Observe the garbage-collection pauses `watch_gc` noted since the last call."""
        pauses = self.gc_pauses
        while pauses:
            self.gc_pause_seconds.observe(pauses.popleft())

    def observe_batch(self, report: BatchReport) -> None:
        self.flush_gc_pauses()
        self.batch_size.observe(report.records)
        self.write_seconds.observe(report.write_seconds)
        for phase, seconds in report.phases.items():
            self.phase_seconds.labels(phase).observe(seconds)
        if report.stale:
            self.stale.inc(report.stale)
        if report.dead_lettered:
            self.dead.inc(report.dead_lettered)
        for table, lag in report.lags_ms.items():
            self.lag_ms.labels(table).set(lag)
        for lag in report.change_lags_ms:
            self.lag_seconds.observe(lag / 1000)
        for lag in report.kafka_lags_ms:
            self.kafka_lag_seconds.observe(lag / 1000)

    def observe_applied(self, counts: dict[str, int]) -> None:
        for table, count in counts.items():
            self.applied.labels(table).inc(count)


def watch_gc(metrics: StreamMetrics) -> Callable[[str, dict[str, Any]], None]:
    """Time every garbage collection of this process into `metrics.gc_pauses` (call once, in the worker);
    `flush_gc_pauses` moves them into `gc_pause_seconds`.

    The callback must not touch a metric: a collection can start inside prometheus_client while it holds
    a value's (non-reentrant) lock, and observing then waits on that lock forever. That froze a worker in
    CI: no batch, no status, never restarted (it was still running)."""
    started = [0.0]

    def callback(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            metrics.gc_pauses.append(time.perf_counter() - started[0])  # atomic, takes no lock

    gc.callbacks.append(callback)
    return callback
