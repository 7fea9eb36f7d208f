"""W500 invoice operations rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.types import ROW_CONFIG, PgDate, PgTimestamp


class InvoiceHeader(BaseModel):
    """w500.invoice_header: an e-invoice; paid_amount is the sum of its live payments."""

    model_config = ROW_CONFIG
    invoice_id: int
    invoice_no: str
    order_id: int | None
    customer_id: int
    buyer_tax_id: str | None
    invoice_type: Literal["B2B", "B2C"]
    invoice_date: PgDate
    due_date: PgDate
    status: Literal["issued", "partially_paid", "paid", "voided"]
    sales_amount: Decimal
    tax_amount: Decimal
    total_amount: Decimal
    paid_amount: Decimal
    voided_at: PgTimestamp | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class InvoiceDetail(BaseModel):
    """w500.invoice_detail."""

    model_config = ROW_CONFIG
    detail_id: int
    invoice_id: int
    line_no: int
    product_id: int
    description_zh: str
    quantity: int
    unit_price: Decimal
    amount: Decimal
    tax_amount: Decimal
    created_at: PgTimestamp
    updated_at: PgTimestamp


class PaymentRecord(BaseModel):
    """w500.payment_record: money received against an invoice (may arrive weeks late)."""

    model_config = ROW_CONFIG
    payment_id: int
    invoice_id: int
    customer_id: int
    payment_date: PgDate
    received_at: PgTimestamp
    amount: Decimal
    method: Literal["cash", "bank_transfer", "check", "credit_card", "virtual_account"]
    bank_reference: str | None
    virtual_account: str | None
    status: Literal["received", "cleared", "bounced", "reversed"]
    created_at: PgTimestamp
    updated_at: PgTimestamp
