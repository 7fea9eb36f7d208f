"""Streaming-core benchmarks on the real stack: rebuild from the topics, the decode ceiling, commit-to-visible
latency under load, worker memory, and a final `verify`.

- ceiling: a plain aiokafka consumer reading every table topic from the beginning and decoding each record
  with the same `ChangeDecoder` (nothing applied, nothing written): the most any worker could do here.
- rebuild: the worker starts on an empty ClickHouse database and applies every change in the topics
  (90 days of history); the time until its checkpoint reaches the topics' ends, and events/s.
- latency: the simulator writes N changes/s; the worker's own per-change histogram (source commit time to
  the end of the ClickHouse insert that made it visible) gives p50/p99 for the run (Prometheus
  histogram_quantile-style interpolation inside buckets of 50 ms below 0.5 s), with the run's batch
  sizes and write times from the worker's other histograms.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import psutil
from aiokafka import AIOKafkaConsumer

from infra.bench.cdc import simulate, simulation_result, table_topics
from infra.bench.latency import LatencyProbe, percentile
from infra.bench.memory import component_pids, component_rss_mb
from infra.clickhouse.runner import get_client
from infra.services import start_services
from infra.settings import StackSettings
from infra.verify.compare import differences
from schemas.decode import ChangeDecoder, MalformedChange
from streams.replay import start_consumer, topic_partitions

LAG_METRIC = "lg_stream_commit_to_visible_seconds"
KAFKA_LAG_METRIC = "lg_stream_kafka_to_visible_seconds"
BATCH_METRIC = "lg_stream_batch_records"
WRITE_METRIC = "lg_stream_write_seconds"
PHASE_METRIC = "lg_stream_batch_phase_seconds"
PHASES = ("lease", "apply", "write_data", "publish", "commit_state", "write_checkpoint")
TICK_METRIC = "lg_stream_tick_seconds"
GC_METRIC = "lg_stream_gc_pause_seconds"


async def end_offsets(settings: StackSettings) -> dict[tuple[str, int], int]:
    partitions = await topic_partitions(settings.kafka.bootstrap_servers, table_topics(settings))
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka.bootstrap_servers, group_id=None)
    await start_consumer(consumer)
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}


async def decode_ceiling(settings: StackSettings) -> dict[str, Any]:
    """Consume every table topic from the start and decode each record once; events/s."""
    ends = await end_offsets(settings)
    total = sum(ends.values())
    decoder = ChangeDecoder(settings.kafka.topic_prefix)
    consumer = AIOKafkaConsumer(*table_topics(settings), bootstrap_servers=settings.kafka.bootstrap_servers,
                                group_id=None, auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 * 2**20)
    await start_consumer(consumer)
    seen = malformed = 0
    started = time.perf_counter()
    try:
        while seen < total:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in batch.items():
                for record in records:
                    try:
                        decoder.decode(tp.topic, record.value, partition=tp.partition, offset=record.offset)
                    except MalformedChange:
                        malformed += 1
                seen += len(records)
            if time.perf_counter() - started > 1800:
                break
    finally:
        await consumer.stop()
    seconds = time.perf_counter() - started
    return {"events": seen, "seconds": round(seconds, 1), "events_per_second": round(seen / seconds),
            "malformed": malformed}


def worker_checkpoint(settings: StackSettings) -> dict[tuple[str, int], int]:
    client = get_client(settings)
    try:
        rows = client.query("SELECT topic, partition, next_offset FROM stream_offsets FINAL").result_rows
    except Exception:  # the table does not exist before the worker's first start
        return {}
    finally:
        client.close()
    return {(r[0], int(r[1])): int(r[2]) for r in rows}


def caught_up(settings: StackSettings, ends: dict[tuple[str, int], int]) -> bool:
    done = worker_checkpoint(settings)
    return all(done.get(tp, 0) >= end for tp, end in ends.items() if end > 0)


def wait_caught_up(settings: StackSettings, ends: dict[tuple[str, int], int], timeout: float) -> float:
    started = time.monotonic()
    while not caught_up(settings, ends):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"the worker did not reach the topics' ends within {timeout:.0f}s")
        time.sleep(0.5)
    return time.monotonic() - started


def rebuild(settings: StackSettings) -> dict[str, Any]:
    """Start the worker (and API) on an empty database; time until it has applied every change."""
    ends = asyncio.run(end_offsets(settings))
    total = sum(ends.values())
    started = time.monotonic()
    start_services(settings)  # returns once the worker has recovered (nothing to recover) and ticks
    wait_caught_up(settings, ends, timeout=3600)
    seconds = time.monotonic() - started
    rss = component_rss_mb(settings)
    return {"events": total, "seconds": round(seconds, 1), "events_per_second": round(total / seconds),
            "worker_rss_mb": rss.get("worker"), "worker_peak_rss_mb": _peak_rss_mb(settings)}


def _peak_rss_mb(settings: StackSettings) -> float | None:
    pid = component_pids(settings).get("worker")
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def metrics_text(settings: StackSettings) -> str:
    """The API's /metrics (the worker's counters and histograms, multiprocess)."""
    # The worker's metrics straight from the multiprocess directory the API's /metrics serves, so the bench
    # needs no credentials.
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(settings.metrics_dir))  # type: ignore[no-untyped-call]
    return generate_latest(registry).decode()


def _series(text: str, name: str, label: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one series name in a /metrics text, with their labels; with `label` (e.g.
    'phase="apply"'), only the samples carrying it."""
    key, _, value = label.partition("=")
    samples = []
    for match in re.finditer(rf"^{name}(?:{{([^}}]*)}})? (\S+)$", text, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if not label or labels.get(key) == value.strip('"'):
            samples.append((labels, float(match.group(2))))
    return samples


def histogram_buckets(text: str, metric: str, label: str = "") -> dict[float, float]:
    """Cumulative bucket counts of one histogram in a /metrics text (of the series carrying `label`, if given)."""
    buckets: dict[float, float] = {}
    for labels, count in _series(text, f"{metric}_bucket", label):
        bound = float(labels["le"])
        buckets[bound] = buckets.get(bound, 0.0) + count
    return buckets


def histogram_sum_count(text: str, metric: str, label: str = "") -> tuple[float, float]:
    """(sum, count) of one histogram in a /metrics text (of the series carrying `label`, if given)."""
    sum_, count = (sum(v for _, v in _series(text, f"{metric}_{kind}", label)) for kind in ("sum", "count"))
    return sum_, count


def histogram_quantile(q: float, before: dict[float, float], after: dict[float, float]) -> float:
    """The q-quantile (0..1) of the observations made between two snapshots, interpolated in its bucket."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    total = counts[-1] if counts else 0.0
    if total <= 0:
        return float("nan")
    rank, previous_bound, previous_count = q * total, 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return previous_bound
            share = (rank - previous_count) / (count - previous_count) if count > previous_count else 1.0
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, count
    return bounds[-1]


def latency_run(settings: StackSettings, rate: float, seconds: float, seed: int) -> dict[str, Any]:
    """Drive `rate` changes/s for `seconds`; the run's commit-to-visible p50/p99, how the worker batched, and
    a plain aiokafka consumer's commit-to-arrival p50/p99 on the same topics in the same run (the floor the
    worker's latency is compared with)."""
    return asyncio.run(_latency_run(settings, rate, seconds, seed))


async def _latency_run(settings: StackSettings, rate: float, seconds: float, seed: int) -> dict[str, Any]:
    probe = LatencyProbe(settings.kafka.bootstrap_servers, table_topics(settings))
    await probe.start()
    before = metrics_text(settings)
    proc = simulate(settings, rate, seconds, seed=seed)
    await asyncio.sleep(seconds / 2)
    rss = component_rss_mb(settings)
    cpu = await asyncio.to_thread(psutil.cpu_percent, 2)
    result = await asyncio.to_thread(simulation_result, proc)
    ends = await end_offsets(settings)
    drain = await asyncio.to_thread(wait_caught_up, settings, ends, 600)
    plain = (await probe.stop()).latencies_ms()
    after = metrics_text(settings)
    lag_before, lag_after = histogram_buckets(before, LAG_METRIC), histogram_buckets(after, LAG_METRIC)
    kafka_before, kafka_after = histogram_buckets(before, KAFKA_LAG_METRIC), histogram_buckets(after, KAFKA_LAG_METRIC)
    p99 = round(histogram_quantile(0.99, lag_before, lag_after) * 1000)
    plain_p99 = round(percentile(plain, 99), 1)
    return {"target_rate": rate, "achieved_rate": result["rate"], "row_changes": result["row_changes"],
            "applied": round(lag_after.get(float("inf"), 0) - lag_before.get(float("inf"), 0)),
            "p50_ms": round(histogram_quantile(0.5, lag_before, lag_after) * 1000), "p99_ms": p99,
            **{f"kafka_to_visible_{name}_ms": round(histogram_quantile(q, kafka_before, kafka_after) * 1000)
               for name, q in (("p50", 0.5), ("p99", 0.99))},
            "plain_consumer_p50_ms": round(percentile(plain, 50), 1), "plain_consumer_p99_ms": plain_p99,
            "plain_consumer_changes": len(plain), "p99_ratio_to_plain": round(p99 / plain_p99, 1) if plain else None,
            **batching(before, after),
            "seconds_to_drain_after_load": round(drain, 1), "machine_cpu_percent": cpu,
            "worker_rss_mb": rss.get("worker")}


def batching(before: str, after: str) -> dict[str, Any]:
    """Batches written between two /metrics snapshots: count, mean size, mean and p99 write time."""
    size_sum = histogram_sum_count(after, BATCH_METRIC)[0] - histogram_sum_count(before, BATCH_METRIC)[0]
    write_sum, batches = (a - b for a, b in zip(histogram_sum_count(after, WRITE_METRIC),
                                                 histogram_sum_count(before, WRITE_METRIC), strict=True))
    write_p99 = histogram_quantile(0.99, histogram_buckets(before, WRITE_METRIC),
                                   histogram_buckets(after, WRITE_METRIC))
    return {"batches": round(batches), "mean_batch_records": round(size_sum / batches, 1) if batches else None,
            "mean_write_ms": round(write_sum / batches * 1000, 1) if batches else None,
            "write_p99_ms": round(write_p99 * 1000) if batches else None, "phases_ms": phases(before, after)}


def phases(before: str, after: str) -> dict[str, dict[str, float]]:
    """Per step of a batch (agents/metrics.py: phase_seconds), ticks and GC pauses between two snapshots: the
    mean, p99 and count, to see where the latency goes."""
    series = [(p, PHASE_METRIC, f'phase="{p}"') for p in PHASES] + [("tick", TICK_METRIC, ""), ("gc", GC_METRIC, "")]
    out: dict[str, dict[str, float]] = {}
    for name, metric, label in series:
        b, a = histogram_buckets(before, metric, label), histogram_buckets(after, metric, label)
        count = a.get(float("inf"), 0.0) - b.get(float("inf"), 0.0)
        total = histogram_sum_count(after, metric, label)[0] - histogram_sum_count(before, metric, label)[0]
        if count:
            out[name] = {"count": round(count), "mean_ms": round(total / count * 1000, 1),
                         "p99_ms": round(histogram_quantile(0.99, b, a) * 1000, 1)}
    return out


def wait_for_merges(settings: StackSettings, timeout: float = 180.0) -> float:
    """Wait until ClickHouse has no background merge running (after a rebuild it merges for minutes,
    competing for the same 2 cores); seconds waited. Latency is measured in that steady state."""
    started = time.monotonic()
    client = get_client(settings)
    try:
        while time.monotonic() - started < timeout:
            if client.query("SELECT count() FROM system.merges").result_rows[0][0] == 0:
                break
            time.sleep(2)
    finally:
        client.close()
    return round(time.monotonic() - started, 1)


def verify_now(settings: StackSettings) -> dict[str, Any]:
    diffs, checked = differences(settings)
    return {"differences": len(diffs), "cells_checked": sum(checked.values())}
