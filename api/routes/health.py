"""GET /health: is every part of the system up? 200 when all are, 503 (same body) when any is not."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel

from api.deps import SettingsDep
from infra.clickhouse.runner import clickhouse_healthy
from infra.kafka.broker import kafka_healthy
from infra.kafka.connect import connect_healthy
from infra.services import worker_status
from infra.settings import StackSettings

router = APIRouter(tags=["operations"])


class PartHealth(BaseModel):
    status: Literal["up", "down"]
    detail: str


class Health(BaseModel):
    status: Literal["up", "down"]
    parts: dict[str, PartHealth]


def worker_health(settings: StackSettings) -> PartHealth:
    """Up when the worker's status file is recent and names a live process."""
    up, detail = worker_status(settings)
    return PartHealth(status="up" if up else "down", detail=detail)


def _probe(ok: bool, where: str) -> PartHealth:
    return PartHealth(status="up" if ok else "down", detail=where)


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(settings: SettingsDep, response: Response) -> Health:
    parts = {
        "kafka": _probe(kafka_healthy(settings), settings.kafka.bootstrap_servers),
        "connect": _probe(connect_healthy(settings), f"{settings.connect.rest_url}/connectors/"
                                                     f"{settings.connect.connector_name}"),
        "clickhouse": _probe(clickhouse_healthy(settings), settings.clickhouse.http_url()),
        "worker": worker_health(settings),
    }
    up = all(p.status == "up" for p in parts.values())
    if not up:
        response.status_code = 503
    return Health(status="up" if up else "down", parts=parts)
