"""Health: GET /health/live (is the process serving? no dependencies) and GET /health/ready (is every part of
the system up? 200 when all are, 503 with the same body when any is not). Both need `operations`, like every
route but the token endpoints: an anonymous caller gets 401 (audited) — which is itself proof that the process
answers, so the stack's own probe (`infra.services.api_healthy`) counts a 401 as alive.

Readiness probes Kafka (a metadata request), Kafka Connect, ClickHouse and the worker's status file (judged by
progress: a worker catching up is "catching_up", with its backlog and ETA, and readiness is then still 200 —
the system serves, its figures are not complete yet; a stalled or failed worker is "down"); the
result is reused for `READY_CACHE_SECONDS`, and concurrent callers share one probe, so a burst of readiness
calls opens at most one Kafka admin client per period. Part details name no address.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from api.access.principal import require_family
from infra.clickhouse.runner import clickhouse_healthy
from infra.kafka.broker import kafka_healthy
from infra.kafka.connect import connect_healthy
from infra.services import worker_health as judge_worker_health
from infra.settings import StackSettings

READY_CACHE_SECONDS = 5.0

router = APIRouter(tags=["operations"], dependencies=[Depends(require_family("operations"))])


PartState = Literal["up", "catching_up", "degraded", "down"]


class PartHealth(BaseModel):
    status: PartState
    detail: str


class Health(BaseModel):
    status: PartState
    parts: dict[str, PartHealth]


class Liveness(BaseModel):
    status: Literal["up"]


def worker_health(settings: StackSettings) -> PartHealth:
    """Up or catching up when the worker's status is recent, names a live process and shows progress."""
    health = judge_worker_health(settings)
    state: PartState = "down" if not health.up else health.state  # type: ignore[assignment]
    detail = health.detail if health.state in ("up", "catching_up") else f"{health.state}: {health.detail}"
    return PartHealth(status=state, detail=detail)


def source_schema_health(settings: StackSettings) -> PartHealth:
    """The captured tables' columns as the worker met them: degraded while a table's changes are rejected
    (a column removed or retyped upstream: they go to the dead-letter topic), up otherwise, naming any
    columns added upstream (tolerated: decoded, the new columns ignored)."""
    status = judge_worker_health(settings).status or {}
    broken: dict[str, dict[str, Any]] = status.get("schema_broken", {})
    drift: dict[str, dict[str, Any]] = status.get("schema_drift", {})
    added = "; ".join(f"{t}: added upstream {', '.join(d['added_columns'])} (ignored)" for t, d in drift.items())
    if broken:
        rejected = "; ".join(f"{t}: {b['count']} changes rejected, last: {b['last_reason']}" for t, b in broken.items())
        return PartHealth(status="degraded", detail=f"{rejected}{'; ' + added if added else ''}"[:2000])
    return PartHealth(status="up", detail=added[:2000] or "every captured table decodes as defined")


def _probe(ok: bool) -> PartHealth:
    return PartHealth(status="up" if ok else "down", detail="answering" if ok else "not answering")


def probe_parts(settings: StackSettings) -> dict[str, PartHealth]:
    """Probe every part now (blocking: network calls with short timeouts)."""
    return {
        "kafka": _probe(kafka_healthy(settings)),
        "connect": _probe(connect_healthy(settings)),
        "clickhouse": _probe(clickhouse_healthy(settings)),
        "worker": worker_health(settings),
        "source_schemas": source_schema_health(settings),
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


@router.get("/health/live", response_model=Liveness)
def live() -> Liveness:
    """The process answers HTTP. Touches nothing else."""
    return Liveness(status="up")


@router.get("/health/ready", response_model=Health, responses={503: {"model": Health}})
def ready(response: Response, probe: Annotated[ReadinessProbe, Depends(get_readiness)]) -> Health:
    parts = probe.parts()
    states = {p.status for p in parts.values()}
    order: tuple[PartState, ...] = ("down", "degraded", "catching_up")
    overall: PartState = next((s for s in order if s in states), "up")
    if overall == "down":
        response.status_code = 503
    return Health(status=overall, parts=parts)
