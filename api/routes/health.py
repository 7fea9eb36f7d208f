"""Health: GET /health/live (is the process serving? no dependencies, public) and GET /health/ready (is every
part of the system up? 200 when all are, 503 with the same body when any is not; needs `operations`).

Readiness probes Kafka (a metadata request), Kafka Connect, ClickHouse and the worker's status file; the
result is reused for `READY_CACHE_SECONDS`, and concurrent callers share one probe, so a burst of readiness
calls opens at most one Kafka admin client per period. Part details name no address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from api.access.principal import require_family
from infra.clickhouse.runner import clickhouse_healthy
from infra.kafka.broker import kafka_healthy
from infra.kafka.connect import connect_healthy
from infra.services import worker_status
from infra.settings import StackSettings

READY_CACHE_SECONDS = 5.0

live_router = APIRouter(tags=["operations"])
router = APIRouter(tags=["operations"], dependencies=[Depends(require_family("operations"))])


class PartHealth(BaseModel):
    status: Literal["up", "down"]
    detail: str


class Health(BaseModel):
    status: Literal["up", "down"]
    parts: dict[str, PartHealth]


class Liveness(BaseModel):
    status: Literal["up"]


def worker_health(settings: StackSettings) -> PartHealth:
    """Up when the worker's status file is recent and names a live process."""
    up, detail = worker_status(settings)
    return PartHealth(status="up" if up else "down", detail=detail)


def _probe(ok: bool) -> PartHealth:
    return PartHealth(status="up" if ok else "down", detail="answering" if ok else "not answering")


def probe_parts(settings: StackSettings) -> dict[str, PartHealth]:
    """Probe every part now (blocking: network calls with short timeouts)."""
    return {
        "kafka": _probe(kafka_healthy(settings)),
        "connect": _probe(connect_healthy(settings)),
        "clickhouse": _probe(clickhouse_healthy(settings)),
        "worker": worker_health(settings),
    }


class ReadinessProbe:
    """`probe_parts` results reused for `ttl` seconds; one probe at a time (thread-safe)."""

    def __init__(self, settings: StackSettings, ttl: float = READY_CACHE_SECONDS,
                 probe: Callable[[StackSettings], dict[str, PartHealth]] = probe_parts,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._settings, self._ttl, self._probe, self._monotonic = settings, ttl, probe, monotonic
        self._lock = threading.Lock()
        self._result: tuple[float, dict[str, PartHealth]] | None = None

    def parts(self) -> dict[str, PartHealth]:
        with self._lock:
            if self._result is None or self._monotonic() - self._result[0] >= self._ttl:
                self._result = (self._monotonic(), self._probe(self._settings))
            return self._result[1]


def get_readiness(request: Request) -> ReadinessProbe:
    """The app's probe cache (`app.state.readiness`, made by the app factory)."""
    probe: ReadinessProbe = request.app.state.readiness
    return probe


@live_router.get("/health/live", response_model=Liveness)
def live() -> Liveness:
    """The process answers HTTP. Touches nothing else."""
    return Liveness(status="up")


@router.get("/health/ready", response_model=Health, responses={503: {"model": Health}})
def ready(response: Response, probe: Annotated[ReadinessProbe, Depends(get_readiness)]) -> Health:
    parts = probe.parts()
    up = all(p.status == "up" for p in parts.values())
    if not up:
        response.status_code = 503
    return Health(status="up" if up else "down", parts=parts)
