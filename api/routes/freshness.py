"""GET /freshness: per source table, how old the newest data visible in ClickHouse is (the 5-minute SLA).
Needs a principal that reads the `freshness` family.

Age counts from the later of the newest applied change's commit time and the last Debezium heartbeat
the worker had fully caught up with, so a quiet table is not reported stale while capture is current.
While the worker is catching up (initial snapshot, rebuild, restart after a stop), a table it still has
records of is "catching_up", not "fresh", `within_sla` is false, and `catching_up` gives the backlog and ETA.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api.access.audit_middleware import audit_rows
from api.access.principal import require_family
from api.deps import ClickHouseDep, SettingsDep
from infra.services import worker_health

router = APIRouter(tags=["operations"], dependencies=[Depends(require_family("freshness"))])


def _utc(value: datetime | None) -> datetime | None:
    """ClickHouse returns DateTime64(3, 'UTC') values without tzinfo: say they are UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


class TableFreshness(BaseModel):
    source_table: str
    status: Literal["fresh", "stale", "catching_up"]
    age_seconds: float
    last_commit_at: datetime | None
    last_visible_at: datetime | None
    last_commit_to_visible_ms: int
    caught_up_to: datetime | None
    events_applied: int
    backlog: int = 0


class CatchingUp(BaseModel):
    backlog: int
    records_per_second: float
    eta_seconds: float | None


class Freshness(BaseModel):
    sla_seconds: int
    within_sla: bool
    worst_age_seconds: float | None
    worker: str
    catching_up: CatchingUp | None
    tables: list[TableFreshness]


@router.get("/freshness", response_model=Freshness)
def freshness(request: Request, settings: SettingsDep, clickhouse: ClickHouseDep) -> Freshness:
    sla = settings.api.freshness_sla_seconds
    result = clickhouse.query("SELECT source_table, age_ms, last_commit_at, last_visible_at, last_lag_ms, "
                              "caught_up_to, events_applied FROM freshness_now ORDER BY source_table")
    tables = [
        TableFreshness(source_table=r[0], status="fresh" if r[1] / 1000 <= sla else "stale", age_seconds=r[1] / 1000,
                       last_commit_at=_utc(r[2]), last_visible_at=_utc(r[3]), last_commit_to_visible_ms=r[4],
                       caught_up_to=_utc(r[5]),
                       events_applied=r[6])
        for r in result.result_rows
    ]
    worker = worker_health(settings)
    catching_up = None
    if worker.state == "catching_up" and worker.status is not None:
        behind: dict[str, int] = worker.status.get("backlog_by_table", {})
        for table in tables:
            table.backlog = behind.get(table.source_table, 0)
            if table.backlog:
                table.status = "catching_up"
        catching_up = CatchingUp(backlog=worker.status.get("backlog", 0),
                                 records_per_second=worker.status.get("rate", 0.0),
                                 eta_seconds=worker.status.get("eta_seconds"))
    worst = max((t.age_seconds for t in tables), default=None)
    audit_rows(request, len(tables))
    return Freshness(sla_seconds=sla, within_sla=bool(tables) and all(t.status == "fresh" for t in tables)
                     and catching_up is None, worst_age_seconds=worst, worker=worker.state,
                     catching_up=catching_up, tables=tables)
