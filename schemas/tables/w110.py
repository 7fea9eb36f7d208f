"""W110 data maintenance: master data rows (branches, products, prices, employees, parameters)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.types import ROW_CONFIG, PgDate, PgTimestamp

Region = Literal["north", "central", "south", "east"]
CustomerType = Literal["household", "restaurant", "industrial"]


class Branch(BaseModel):
    """w110.branch: a branch office and its warehouse (warehouse_code = branch_code)."""

    model_config = ROW_CONFIG
    branch_code: str
    name_zh: str
    region: Region
    city_zh: str
    address_zh: str
    latitude: float
    longitude: float
    is_active: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp


class ProductCategory(BaseModel):
    """w110.product_category."""

    model_config = ROW_CONFIG
    category_id: int
    code: str
    name_zh: str
    name_en: str
    parent_id: int | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class ProductMaster(BaseModel):
    """w110.product_master: gas refills by cylinder size, deposits, cylinders, appliances, services."""

    model_config = ROW_CONFIG
    product_id: int
    sku: str
    category_id: int
    name_zh: str
    name_en: str
    product_type: Literal["gas_refill", "cylinder_deposit", "new_cylinder", "appliance", "accessory", "service"]
    cylinder_kg: Decimal | None
    unit_zh: str
    tax_type: Literal["taxable", "zero_rated", "exempt"]
    is_active: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp


class ProductPrice(BaseModel):
    """w110.product_price: a price before tax per customer type, valid from/to a date."""

    model_config = ROW_CONFIG
    price_id: int
    product_id: int
    customer_type: CustomerType
    unit_price: Decimal
    deposit_amount: Decimal
    effective_from: PgDate
    effective_to: PgDate | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class EmployeeRole(BaseModel):
    """w110.employee_role."""

    model_config = ROW_CONFIG
    role_id: int
    code: Literal["driver", "sales", "dispatcher", "accountant", "warehouse", "manager"]
    name_zh: str
    can_view_financials: bool
    created_at: PgTimestamp
    updated_at: PgTimestamp


class EmployeeMaster(BaseModel):
    """w110.employee_master."""

    model_config = ROW_CONFIG
    employee_id: int
    employee_no: str
    name_zh: str
    role_id: int
    branch_code: str
    mobile: str
    email: str | None
    hire_date: PgDate
    status: Literal["active", "on_leave", "terminated"]
    commission_rate: Decimal
    created_at: PgTimestamp
    updated_at: PgTimestamp


class SystemParameter(BaseModel):
    """w110.system_parameter: configuration values, business rules, report formatting."""

    model_config = ROW_CONFIG
    param_key: str
    param_value: str
    value_type: Literal["int", "decimal", "text", "bool", "json"]
    category: Literal["business_rule", "calculation", "report_format", "system"]
    description_zh: str
    created_at: PgTimestamp
    updated_at: PgTimestamp
