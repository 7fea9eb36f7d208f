"""What the streaming core writes, by name: current-state tables and aggregate families.

Pure description shared by the engine (agents/), the sinks' table definitions (sinks/ddl.py) and the
verifier, so none of them needs to import another's layer. How aggregates are computed stays in agents/.

Contract: every measure is an integer (cents, counts, tenths of a km). A family's key columns carry
ClickHouse types; `Family.to_columns` / `from_columns` convert between the engine's key (day numbers,
epoch seconds) and the column values a sink stores and returns (dates, aware datetimes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.types import EPOCH_DAY


def current_table(table: str) -> str:
    """The ClickHouse current-state table of a source table, e.g. cur_w200_order_master."""
    return "cur_" + table.replace(".", "_")


@dataclass(frozen=True)
class Family:
    """An aggregate family: ClickHouse table `agg_<name>`, key columns (name, ClickHouse type), measures."""

    name: str
    keys: tuple[tuple[str, str], ...]
    measures: tuple[str, ...]

    @property
    def table(self) -> str:
        return f"agg_{self.name}"

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.keys)

    def to_columns(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """Engine key (day numbers, epoch seconds) -> column values (dates, aware datetimes)."""
        return tuple(_CONVERT_OUT.get(kind, _same)(value) for (_, kind), value in zip(self.keys, key, strict=True))

    def from_columns(self, values: tuple[Any, ...]) -> tuple[Any, ...]:
        """Column values read back from a sink -> engine key."""
        return tuple(_CONVERT_IN.get(kind, _same)(value) for (_, kind), value in zip(self.keys, values, strict=True))


def _same(value: Any) -> Any:
    return value


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_CONVERT_OUT: dict[str, Callable[[Any], Any]] = {
    "Date32": lambda day: EPOCH_DAY + timedelta(days=day),
    "DateTime('Asia/Taipei')": lambda instant: datetime.fromtimestamp(instant, UTC),
}
_CONVERT_IN: dict[str, Callable[[Any], Any]] = {
    "Date32": lambda d: (d - EPOCH_DAY).days,
    "DateTime('Asia/Taipei')": lambda t: int(_aware(t).timestamp()),
}


SALES = Family("sales", (("grain", "LowCardinality(String)"), ("bucket", "DateTime('Asia/Taipei')"),
                         ("dimension", "LowCardinality(String)"), ("member", "String")),
               ("net_cents", "tax_cents", "orders", "quantity", "cylinders"))
FULFILMENT = Family("fulfilment", (("day", "Date32"), ("branch", "LowCardinality(String)")),
                    ("due", "delivered", "on_time", "cancelled"))
RECEIVABLES = Family("receivables", (("customer_id", "Int64"),),
                     ("invoiced_cents", "paid_cents", "outstanding_cents", "age_0_30_cents", "age_31_60_cents",
                      "age_61_90_cents", "age_over_90_cents", "open_invoices"))
# Every invoice whose total differs from its live payments, voided ones included (with the day they were voided):
# what is open now, and what the as-of-a-date receivables need back for the days before a void.
INVOICE_OPEN = Family("invoice_open", (("invoice_id", "Int64"), ("customer_id", "Int64"), ("invoice_date", "Date32"),
                                       ("due_date", "Date32")),
                      ("total_cents", "paid_cents", "outstanding_cents", "voided", "voided_day"))
COLLECTIONS = Family("collections", (("day", "Date32"),), ("amount_cents", "payments"))
STOCK = Family("stock", (("warehouse", "LowCardinality(String)"), ("product_id", "Int64")),
               ("qty_full", "qty_empty", "reorder_point", "safety_stock", "movements"))
ROUTE = Family("route", (("day", "Date32"), ("branch", "LowCardinality(String)"), ("dispatch_id", "Int64"),
                         ("driver_id", "Int64")),
               ("stops", "delivered", "on_time", "failed", "planned_km_tenths", "actual_km_tenths"))
DRIVER_DAY = Family("driver_day", (("day", "Date32"), ("driver_id", "Int64")),
                    ("routes", "stops", "delivered", "on_time", "km_tenths"))

FAMILIES: dict[str, Family] = {f.name: f for f in (SALES, FULFILMENT, RECEIVABLES, INVOICE_OPEN, COLLECTIONS, STOCK,
                                                    ROUTE, DRIVER_DAY)}
