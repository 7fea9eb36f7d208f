"""GET /kpis/today: today's headline numbers in Asia/Taipei, straight from the streamed aggregates.

Revenue and orders: orders placed today (not cancelled). Deliveries: orders promised for today.
Receivables: everything outstanding now, with what is past 30 days. Collections: payments dated today.
Money is TWD with 2 decimals (JSON strings, exact).

Access: family `kpis`. The figures cover the caller's branches (`branches`; null = the whole company), limited
by `RowScope` like every route: sales by the branch cells of `agg_sales`, deliveries by branch, receivables by
the customer's branch; collections of a branch-scoped caller are summed from its customers' payments (the
company-wide `agg_collections` has no branch). A role whose money is `today_totals` (dispatcher) gets today's
revenue and collections but no receivables (null); a role without money sees none of the three.

`complete` is false, with `note` saying why (backlog and ETA), while the streaming worker is catching up
(initial snapshot, rebuild, restart) or is not running: the figures are then partial, not today's truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from api.access.audit_middleware import audit_rows
from api.access.principal import require_family
from api.access.rows import RowScope, RowScopeDep
from api.deps import ClickHouseDep, ClockDep, SettingsDep
from infra.clock import TAIPEI, business_day
from infra.services import WorkerHealth, worker_health

router = APIRouter(prefix="/kpis", tags=["kpis"], dependencies=[Depends(require_family("kpis"))])


class Revenue(BaseModel):
    net: Decimal
    tax: Decimal
    gross: Decimal


class Deliveries(BaseModel):
    due: int
    delivered: int
    on_time: int
    cancelled: int
    on_time_rate: float | None


class Receivables(BaseModel):
    outstanding: Decimal
    over_30_days: Decimal
    customers_with_balance: int


class TodayKpis(BaseModel):
    business_day: date
    timezone: str
    as_of: datetime
    branches: list[str] | None
    revenue: Revenue | None
    orders: int
    quantity: int
    cylinders: int
    deliveries: Deliveries
    receivables: Receivables | None
    collections: Decimal | None
    complete: bool
    note: str | None


def _twd(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def _row(clickhouse: Client, sql: str, parameters: dict[str, Any]) -> Sequence[Any]:
    """The first (only) row of an aggregate query."""
    row: Sequence[Any] = clickhouse.query(sql, parameters=parameters).result_rows[0]
    return row


def _receivables(clickhouse: Client, scope: RowScope) -> Receivables:
    where, params = scope.where("agg_receivables")
    row = _row(clickhouse,
               "SELECT sum(outstanding), sum(overdue), countIf(outstanding > 0) FROM (SELECT customer_id, "
               "sum(outstanding_cents) AS outstanding, sum(age_31_60_cents + age_61_90_cents + age_over_90_cents) "
               f"AS overdue FROM agg_receivables FINAL WHERE _deleted = 0 AND {where} GROUP BY customer_id)",
               params)  # a customer's cell is summed over the worker shards before it counts as one balance
    return Receivables(outstanding=_twd(int(row[0] or 0)), over_30_days=_twd(int(row[1] or 0)),
                       customers_with_balance=int(row[2] or 0))


def _collections(clickhouse: Client, scope: RowScope, day: date) -> Decimal:
    if scope.principal.branches is None:
        sql = "SELECT sum(amount_cents) FROM agg_collections FINAL WHERE _deleted = 0 AND day = {day:Date32}"
        params: dict[str, Any] = {}
    else:
        where, params = scope.where("v_w500_payment_record")
        sql = ("SELECT toInt64(round(sum(amount) * 100)) FROM v_w500_payment_record "
               f"WHERE payment_date = {{day:Date32}} AND status != 'reversed' AND {where}")
    return _twd(int(_row(clickhouse, sql, {**params, "day": day})[0] or 0))


@router.get("/today", response_model=TodayKpis)
def today(request: Request, clickhouse: ClickHouseDep, clock: ClockDep, scope: RowScopeDep,
          settings: SettingsDep) -> TodayKpis:
    now = clock.now()
    worker = worker_health(settings)
    day = business_day(now)
    midnight = int(datetime.combine(day, time(0), TAIPEI).timestamp())
    money = scope.role.money
    sales_where, sales_params = scope.where("agg_sales")
    sales = _row(clickhouse,
                 "SELECT sum(net_cents), sum(tax_cents), sum(orders), sum(quantity), sum(cylinders) FROM agg_sales "
                 "FINAL WHERE _deleted = 0 AND grain = 'day' AND dimension = 'branch' "
                 f"AND toUnixTimestamp(bucket) = {{bucket:Int64}} AND {sales_where}",
                 {**sales_params, "bucket": midnight})
    fulfilment_where, fulfilment_params = scope.where("agg_fulfilment")
    fulfilment = _row(clickhouse,
                      "SELECT sum(due), sum(delivered), sum(on_time), sum(cancelled) FROM agg_fulfilment FINAL "
                      f"WHERE _deleted = 0 AND day = {{day:Date32}} AND {fulfilment_where}",
                      {**fulfilment_params, "day": day})
    net, tax, orders, quantity, cylinders = (int(v or 0) for v in sales)
    due, delivered, on_time, cancelled = (int(v or 0) for v in fulfilment)
    branches = scope.principal.branches
    audit_rows(request, 1)  # one set of figures
    return TodayKpis(
        business_day=day, timezone="Asia/Taipei", as_of=now, branches=None if branches is None else sorted(branches),
        revenue=None if money == "none" else Revenue(net=_twd(net), tax=_twd(tax), gross=_twd(net + tax)),
        orders=orders, quantity=quantity, cylinders=cylinders,
        deliveries=Deliveries(due=due, delivered=delivered, on_time=on_time, cancelled=cancelled,
                              on_time_rate=None if delivered == 0 else round(on_time / delivered, 4)),
        receivables=_receivables(clickhouse, scope) if money == "all" else None,
        collections=None if money == "none" else _collections(clickhouse, scope, day),
        complete=worker.state == "up", note=_note(worker),
    )


def _note(worker: WorkerHealth) -> str | None:
    """Why the figures may be partial, for a user (no process details)."""
    if worker.state == "up":
        return None
    if worker.state == "catching_up" and worker.status is not None:
        eta = worker.status.get("eta_seconds")
        return (f"catching up: {worker.status.get('backlog', 0):,} changes still to apply"
                f"{'' if eta is None else f', about {eta:.0f} s'}; the figures are partial until then")
    return f"the streaming worker is {worker.state}: the figures may be out of date"
