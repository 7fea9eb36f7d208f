"""W300 inventory rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.types import ROW_CONFIG, PgTimestamp


class InventoryMaster(BaseModel):
    """w300.inventory_master: per-product stock settings."""

    model_config = ROW_CONFIG
    product_id: int
    standard_cost: Decimal
    lead_time_days: int
    is_returnable: bool
    is_tracked: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp


class WarehouseStock(BaseModel):
    """w300.warehouse_stock: full and empty cylinders on hand per warehouse and product."""

    model_config = ROW_CONFIG
    stock_id: int
    warehouse_code: str
    product_id: int
    qty_full: int
    qty_empty: int
    reorder_point: int
    safety_stock: int
    last_counted_at: PgTimestamp | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class StockMovement(BaseModel):
    """w300.stock_movement: a signed change of full (and empty) stock."""

    model_config = ROW_CONFIG
    movement_id: int
    warehouse_code: str
    product_id: int
    movement_type: Literal[
        "opening", "receipt", "delivery", "empty_return", "transfer_in", "transfer_out", "adjustment"
    ]
    quantity: int
    empty_quantity: int
    reference_type: Literal["order", "purchase", "transfer", "count", "opening"] | None
    reference_id: int | None
    moved_at: PgTimestamp
    employee_id: int | None
    created_at: PgTimestamp
    updated_at: PgTimestamp
