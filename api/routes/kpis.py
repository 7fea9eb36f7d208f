"""GET /kpis/today: today's headline numbers in Asia/Taipei, straight from the streamed aggregates.

Revenue and orders: orders placed today (not cancelled). Deliveries: orders promised for today.
Receivables: everything outstanding now, with what is past 30 days. Collections: payments dated today.
Money is TWD with 2 decimals (JSON strings, exact).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import ClickHouseDep, ClockDep
from infra.clock import TAIPEI, business_day

router = APIRouter(prefix="/kpis", tags=["kpis"])


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
    revenue: Revenue
    orders: int
    quantity: int
    cylinders: int
    deliveries: Deliveries
    receivables: Receivables
    collections: Decimal


def _twd(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


@router.get("/today", response_model=TodayKpis)
def today(clickhouse: ClickHouseDep, clock: ClockDep) -> TodayKpis:
    now = clock.now()
    day = business_day(now)
    midnight = int(datetime.combine(day, time(0), TAIPEI).timestamp())
    params = {"bucket": midnight, "day": day}
    sales = clickhouse.query(
        "SELECT sum(net_cents), sum(tax_cents), sum(orders), sum(quantity), sum(cylinders) FROM agg_sales FINAL "
        "WHERE _deleted = 0 AND grain = 'day' AND dimension = 'total' AND toUnixTimestamp(bucket) = {bucket:Int64}",
        parameters=params).result_rows[0]
    fulfilment = clickhouse.query(
        "SELECT sum(due), sum(delivered), sum(on_time), sum(cancelled) FROM agg_fulfilment FINAL "
        "WHERE _deleted = 0 AND day = {day:Date32}", parameters=params).result_rows[0]
    receivables = clickhouse.query(
        "SELECT sum(outstanding_cents), sum(age_31_60_cents + age_61_90_cents + age_over_90_cents), "
        "countIf(outstanding_cents > 0) FROM agg_receivables FINAL WHERE _deleted = 0").result_rows[0]
    collected = clickhouse.query(
        "SELECT sum(amount_cents) FROM agg_collections FINAL WHERE _deleted = 0 AND day = {day:Date32}",
        parameters=params).result_rows[0][0]
    net, tax, orders, quantity, cylinders = (int(v or 0) for v in sales)
    due, delivered, on_time, cancelled = (int(v or 0) for v in fulfilment)
    return TodayKpis(
        business_day=day, timezone="Asia/Taipei", as_of=now,
        revenue=Revenue(net=_twd(net), tax=_twd(tax), gross=_twd(net + tax)),
        orders=orders, quantity=quantity, cylinders=cylinders,
        deliveries=Deliveries(due=due, delivered=delivered, on_time=on_time, cancelled=cancelled,
                              on_time_rate=None if delivered == 0 else round(on_time / delivered, 4)),
        receivables=Receivables(outstanding=_twd(int(receivables[0] or 0)), over_30_days=_twd(int(receivables[1] or 0)),
                                customers_with_balance=int(receivables[2] or 0)),
        collections=_twd(int(collected or 0)),
    )
