"""GET /metrics: Prometheus text exposition of the worker's and the API's metrics.

With PROMETHEUS_MULTIPROC_DIR set (the stack sets it for the worker and the API), the values every
process wrote there are collected; otherwise this process's default registry is exposed. The worker's judged
state is added (`lg_worker_state{state}` 1 for the current one of up / catching_up / stalled / failed / down,
`lg_worker_backlog_records`), so alert rules need not parse `/health`. Needs a principal
that reads `operations` (Prometheus scrapes with a client-credentials token with scope `read:operations`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import get_args

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from api.access.principal import require_family
from api.deps import SettingsDep
from infra.services import WorkerHealth, WorkerState, worker_health

router = APIRouter(tags=["operations"], dependencies=[Depends(require_family("operations"))])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics(settings: SettingsDep) -> Response:
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    body = generate_latest(registry) + generate_latest(_worker_registry(worker_health(settings)))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


class _WorkerCollector(Collector):
    def __init__(self, health: WorkerHealth) -> None:
        self.health = health

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = GaugeMetricFamily("lg_worker_state", "The streaming worker's judged state (1 = current)",
                                  labels=["state"])
        for name in get_args(WorkerState):
            state.add_metric([name], 1.0 if name == self.health.state else 0.0)
        yield state
        backlog = (self.health.status or {}).get("backlog", 0)
        yield GaugeMetricFamily("lg_worker_backlog_records", "Records the worker has not processed yet",
                                value=float(backlog or 0))


def _worker_registry(health: WorkerHealth) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_WorkerCollector(health))
    return registry
