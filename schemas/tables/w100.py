"""W100 customer management rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.tables.w110 import CustomerType
from schemas.types import ROW_CONFIG, PgDate, PgTimestamp


class CustomerMaster(BaseModel):
    """w100.customer_master: households, restaurants and industrial accounts (tax_id = 統一編號)."""

    model_config = ROW_CONFIG
    customer_id: int
    customer_code: str
    customer_type: CustomerType
    name_zh: str
    company_name_zh: str | None
    tax_id: str | None
    branch_code: str
    sales_employee_id: int | None
    status: Literal["active", "suspended", "closed", "blacklisted"]
    credit_terms_days: int
    credit_limit: Decimal
    virtual_account: str
    loyalty_points: int
    registered_on: PgDate
    created_at: PgTimestamp
    updated_at: PgTimestamp


class CustomerAddress(BaseModel):
    """w100.customer_address: delivery and billing addresses with their GPS position."""

    model_config = ROW_CONFIG
    address_id: int
    customer_id: int
    address_type: Literal["delivery", "billing"]
    city_zh: str
    district_zh: str
    address_zh: str
    postal_code: str
    latitude: float
    longitude: float
    floor: int | None
    has_elevator: bool
    is_primary: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp


class CustomerContact(BaseModel):
    """w100.customer_contact."""

    model_config = ROW_CONFIG
    contact_id: int
    customer_id: int
    name_zh: str
    mobile: str | None
    phone: str | None
    email: str | None
    line_id: str | None
    is_primary: bool
    accepts_sms: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp
