"""W200 order sales rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.types import ROW_CONFIG, PgTimestamp

OrderStatus = Literal["pending", "confirmed", "dispatched", "delivered", "cancelled"]


class OrderMaster(BaseModel):
    """w200.order_master: one order; subtotal before tax, tax_amount the 5% business tax."""

    model_config = ROW_CONFIG
    order_id: int
    order_no: str
    customer_id: int
    address_id: int
    branch_code: str
    sales_employee_id: int | None
    channel: Literal["phone", "line", "web", "walk_in", "standing_order"]
    order_status: OrderStatus
    ordered_at: PgTimestamp
    promised_from: PgTimestamp
    promised_to: PgTimestamp
    delivered_at: PgTimestamp | None
    cancelled_at: PgTimestamp | None
    cancel_reason: str | None
    subtotal: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    payment_method: Literal["cash", "monthly", "bank_transfer", "credit_card"]
    created_at: PgTimestamp
    updated_at: PgTimestamp


class OrderDetail(BaseModel):
    """w200.order_detail: an order line; deposits are not revenue."""

    model_config = ROW_CONFIG
    detail_id: int
    order_id: int
    line_no: int
    product_id: int
    quantity: int
    unit_price: Decimal
    line_amount: Decimal
    tax_amount: Decimal
    deposit_amount: Decimal
    cylinders_returned: int
    created_at: PgTimestamp
    updated_at: PgTimestamp


class OrderStatusLog(BaseModel):
    """w200.order_status_log: one status transition of an order."""

    model_config = ROW_CONFIG
    log_id: int
    order_id: int
    from_status: str | None
    to_status: str
    changed_at: PgTimestamp
    changed_by: int | None
    note_zh: str | None
    created_at: PgTimestamp
    updated_at: PgTimestamp
