"""Warehouse stock for the backfill: movements and the on-hand levels they add up to.

Invariant kept: for every (warehouse, product), warehouse_stock.qty_full = sum of its movements'
quantity and qty_empty = sum of their empty_quantity, and neither is ever negative. Live mode keeps the
same invariant in SQL (`live_money.move_stock`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from infra.simulator.orders import taipei
from infra.simulator.reference import Product
from infra.simulator.world import Row, World

OPENING_QTY = {"gas_refill": 300, "new_cylinder": 20, "appliance": 6, "accessory": 30}


def reorder_point(product: Product) -> int:
    if product.product_type == "gas_refill":
        return 30 if product.cylinder_kg == 50 else 80
    return 2


def opening_qty(product: Product) -> int:
    if product.product_type == "gas_refill" and product.cylinder_kg == 50:
        return 100
    return OPENING_QTY[product.product_type]


class Stock:
    """On-hand levels per (warehouse, product) and the movement rows not yet written."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.levels: dict[tuple[str, int], list[int]] = {}  # -> [stock_id, full, empty]
        self.start_levels: dict[tuple[str, int], tuple[int, int]] = {}  # as loaded (append mode)
        self.movements: list[Row] = []
        self.delivered: dict[tuple[str, int], int] = {}  # today's deliveries, for the morning restock

    def open(self, branches: list[str], day: date) -> dict[tuple[str, str], Decimal]:
        """Opening stock of every tracked product in every branch; returns its value per (branch, class)."""
        value: dict[tuple[str, str], Decimal] = {}
        at = taipei(day, 0)
        for branch in branches:
            for p in self.world.ref.products:
                if p.tracked:
                    self.levels[(branch, p.product_id)] = [self.world.ids.next("w300.warehouse_stock"), 0, 0]
                    qty = opening_qty(p)
                    self.move(branch, p.product_id, "opening", qty, 0, "opening", None, at, None)
                    key = (branch, cost_class(p))
                    value[key] = value.get(key, Decimal(0)) + p.standard_cost * qty
        return value

    def load(self, rows: list[tuple[int, str, int, int, int]]) -> None:
        """Levels as the database holds them: (stock_id, warehouse, product, full, empty)."""
        for stock_id, warehouse, product_id, full, empty in rows:
            self.levels[(warehouse, product_id)] = [stock_id, full, empty]
            self.start_levels[(warehouse, product_id)] = (full, empty)

    def move(
        self,
        warehouse: str,
        product_id: int,
        kind: str,
        qty: int,
        empty: int,
        ref_type: str | None,
        ref_id: int | None,
        at: datetime,
        employee: int | None,
    ) -> None:
        level = self.levels[(warehouse, product_id)]
        self.movements.append(
            {
                "movement_id": self.world.ids.next("w300.stock_movement"),
                "warehouse_code": warehouse,
                "product_id": product_id,
                "movement_type": kind,
                "quantity": qty,
                "empty_quantity": empty,
                "reference_type": ref_type,
                "reference_id": ref_id,
                "moved_at": at,
                "employee_id": employee,
                "created_at": at,
                "updated_at": at,
            }
        )
        level[1] += qty
        level[2] += empty
        if kind == "delivery":
            self.delivered[(warehouse, product_id)] = self.delivered.get((warehouse, product_id), 0) - qty

    def restock(self, day: date, staff: Mapping[str, int | None]) -> dict[tuple[str, str], Decimal]:
        """The supplier's morning truck (06:30) brings what each branch delivers that day (refills rounded up
        to tens) and takes its empties back. Returns the purchase value per (branch, cost class)."""
        at = taipei(day, 6, 30)
        value: dict[tuple[str, str], Decimal] = {}
        products = self.world.ref.product_index
        for (branch, product_id), qty in sorted(self.delivered.items()):
            p = products[product_id]
            bring = -(-qty // 10) * 10 if p.product_type == "gas_refill" else qty
            empties = min(self.levels[(branch, product_id)][2], bring) if p.returnable else 0
            self.move(branch, product_id, "receipt", bring, -empties, "purchase", None, at, staff.get(branch))
            key = (branch, cost_class(p))
            value[key] = value.get(key, Decimal(0)) + p.standard_cost * bring
        self.delivered = {}
        return value

    def drain(self) -> list[Row]:
        rows, self.movements = self.movements, []
        return rows

    def stock_rows(self, counted_at: datetime) -> list[Row]:
        """warehouse_stock rows of a fresh history (levels = sums of all movements written)."""
        products = self.world.ref.product_index
        rows = []
        for (warehouse, product_id), (stock_id, full, empty) in self.levels.items():
            reorder = reorder_point(products[product_id])
            rows.append(
                {
                    "stock_id": stock_id,
                    "warehouse_code": warehouse,
                    "product_id": product_id,
                    "qty_full": full,
                    "qty_empty": empty,
                    "reorder_point": reorder,
                    "safety_stock": reorder // 2,
                    "last_counted_at": counted_at,
                }
            )
        return rows

    def deltas(self) -> list[tuple[int, int, int]]:
        """(stock_id, full change, empty change) since `load` (append mode)."""
        out = []
        for key, (stock_id, full, empty) in self.levels.items():
            full0, empty0 = self.start_levels.get(key, (0, 0))
            if (full, empty) != (full0, empty0):
                out.append((stock_id, full - full0, empty - empty0))
        return out


def cost_class(product: Product) -> str:
    """Which inventory account carries the product: gas (1231) or goods (1232)."""
    return "gas" if product.product_type == "gas_refill" else "goods"
