"""GET /metrics: Prometheus text exposition of the worker's and the API's metrics.

With PROMETHEUS_MULTIPROC_DIR set (the stack sets it for the worker and the API), the values every
process wrote there are collected; otherwise this process's default registry is exposed. Needs a principal
that reads `operations` (Prometheus scrapes with a client-credentials token with scope `read:operations`).
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from api.access.principal import require_family

router = APIRouter(tags=["operations"], dependencies=[Depends(require_family("operations"))])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}})
def metrics() -> Response:
    registry: CollectorRegistry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
