"""Rows and Debezium envelopes for engine tests, with sensible defaults (override what a test cares about)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from agents.engine import Change
from schemas.envelope import ChangeEnvelope, Source
from schemas.registry import TABLES
from schemas.tables import w100, w110, w200, w500, w700

T0 = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Taipei
_lsn = itertools.count(1000, 8)


def change(table: str, before: BaseModel | None, after: BaseModel | None, lsn: int | None = None) -> Change:
    op = "c" if before is None else ("d" if after is None else "u")
    name_schema, name_table = table.split(".")
    source = Source.model_validate({"connector": "postgresql", "name": "t", "ts_ms": int(T0.timestamp() * 1000),
                                    "db": "luckygas", "schema": name_schema, "table": name_table,
                                    "lsn": next(_lsn) if lsn is None else lsn})
    envelope = ChangeEnvelope[TABLES[table].model](before=before, after=after, source=source, op=op,  # type: ignore[name-defined]
                                                   ts_ms=source.ts_ms)
    return Change(table, envelope)


def _stamps() -> dict[str, Any]:
    return {"created_at": T0, "updated_at": T0}


def order(order_id: int, **kw: Any) -> w200.OrderMaster:
    values: dict[str, Any] = {
        "order_id": order_id, "order_no": f"O{order_id}", "customer_id": 1, "address_id": 1, "branch_code": "TPE",
        "sales_employee_id": 5, "channel": "phone", "order_status": "confirmed", "ordered_at": T0,
        "promised_from": T0, "promised_to": T0 + timedelta(hours=4), "delivered_at": None, "cancelled_at": None,
        "cancel_reason": None, "subtotal": Decimal(0), "tax_amount": Decimal(0), "total_amount": Decimal(0),
        "payment_method": "cash", **_stamps()}
    return w200.OrderMaster(**(values | kw))


def line(detail_id: int, order_id: int, product_id: int = 1, quantity: int = 1, net: str = "800.00",
         tax: str = "40.00") -> w200.OrderDetail:
    return w200.OrderDetail(detail_id=detail_id, order_id=order_id, line_no=1, product_id=product_id,
                            quantity=quantity, unit_price=Decimal(net), line_amount=Decimal(net),
                            tax_amount=Decimal(tax), deposit_amount=Decimal(0), cylinders_returned=0, **_stamps())


def customer(customer_id: int, customer_type: str = "household") -> w100.CustomerMaster:
    return w100.CustomerMaster(customer_id=customer_id, customer_code=f"C{customer_id}", customer_type=customer_type,
                               name_zh="王", company_name_zh=None, tax_id=None, branch_code="TPE",
                               sales_employee_id=None, status="active", credit_terms_days=30,
                               credit_limit=Decimal(0), virtual_account="9" * 14, loyalty_points=0,
                               registered_on=date(2026, 1, 1), **_stamps())


def product(product_id: int, category_id: int = 1, product_type: str = "gas_refill") -> w110.ProductMaster:
    return w110.ProductMaster(product_id=product_id, sku=f"P{product_id}", category_id=category_id, name_zh="瓦斯",
                              name_en="gas", product_type=product_type, cylinder_kg=Decimal(20), unit_zh="桶",
                              tax_type="taxable", is_active=True, **_stamps())


def branch(code: str = "TPE", region: str = "north") -> w110.Branch:
    return w110.Branch(branch_code=code, name_zh="台北", region=region, city_zh="台北市", address_zh="x",
                       latitude=25.0, longitude=121.5, is_active=True, **_stamps())


def invoice(invoice_id: int, customer_id: int = 1, total: str = "1050.00", day: date = date(2026, 11, 1),
            status: str = "issued") -> w500.InvoiceHeader:
    return w500.InvoiceHeader(invoice_id=invoice_id, invoice_no=f"AB{invoice_id:08d}", order_id=None,
                              customer_id=customer_id, buyer_tax_id=None, invoice_type="B2C", invoice_date=day,
                              due_date=day + timedelta(days=30), status=status, sales_amount=Decimal(total),
                              tax_amount=Decimal(0), total_amount=Decimal(total), paid_amount=Decimal(0),
                              voided_at=None, **_stamps())


def payment(payment_id: int, invoice_id: int, amount: str = "50.00", day: date = date(2026, 11, 20),
            status: str = "received") -> w500.PaymentRecord:
    return w500.PaymentRecord(payment_id=payment_id, invoice_id=invoice_id, customer_id=1, payment_date=day,
                              received_at=T0, amount=Decimal(amount), method="cash", bank_reference=None,
                              virtual_account=None, status=status, **_stamps())


def dispatch(dispatch_id: int, status: str = "en_route") -> w700.DispatchMaster:
    return w700.DispatchMaster(dispatch_id=dispatch_id, dispatch_no=f"D{dispatch_id}", branch_code="TPE",
                               dispatch_date=date(2026, 11, 30), vehicle_plate="ABC-1234", vehicle_type="light_truck",
                               status=status, planned_km=Decimal("42.5"), actual_km=None, departed_at=T0,
                               returned_at=None, **_stamps())


def stop(stop_id: int, dispatch_id: int, order_id: int, status: str = "pending",
         arrived: datetime | None = None) -> w700.RouteDetail:
    return w700.RouteDetail(route_stop_id=stop_id, dispatch_id=dispatch_id, stop_seq=1, order_id=order_id,
                            address_id=1, planned_arrival=T0, actual_arrival=arrived, stop_status=status,
                            distance_km=Decimal("3.2"), gps_latitude=None, gps_longitude=None, **_stamps())


def driver(assignment_id: int, dispatch_id: int, employee_id: int, status: str = "on_duty") -> w700.DriverAssignment:
    return w700.DriverAssignment(assignment_id=assignment_id, dispatch_id=dispatch_id, employee_id=employee_id,
                                 role="driver", assigned_at=T0, shift_start=T0, shift_end=None, status=status,
                                 **_stamps())
