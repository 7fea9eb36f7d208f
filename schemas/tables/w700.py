"""W700 dispatch operations rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from schemas.types import ROW_CONFIG, PgDate, PgTimestamp


class DispatchMaster(BaseModel):
    """w700.dispatch_master: one vehicle run from a branch on a day."""

    model_config = ROW_CONFIG
    dispatch_id: int
    dispatch_no: str
    branch_code: str
    dispatch_date: PgDate
    vehicle_plate: str
    vehicle_type: Literal["truck_3_5t", "light_truck", "scooter"]
    status: Literal["planned", "loading", "en_route", "completed", "cancelled"]
    planned_km: Decimal
    actual_km: Decimal | None
    departed_at: PgTimestamp | None
    returned_at: PgTimestamp | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class RouteDetail(BaseModel):
    """w700.route_detail: one stop of a run, with its GPS confirmation fix."""

    model_config = ROW_CONFIG
    route_stop_id: int
    dispatch_id: int
    stop_seq: int
    order_id: int
    address_id: int
    planned_arrival: PgTimestamp
    actual_arrival: PgTimestamp | None
    stop_status: Literal["pending", "arrived", "delivered", "failed", "skipped"]
    distance_km: Decimal
    gps_latitude: float | None
    gps_longitude: float | None
    created_at: PgTimestamp
    updated_at: PgTimestamp


class DriverAssignment(BaseModel):
    """w700.driver_assignment: a driver or assistant on a run."""

    model_config = ROW_CONFIG
    assignment_id: int
    dispatch_id: int
    employee_id: int
    role: Literal["driver", "assistant"]
    assigned_at: PgTimestamp
    shift_start: PgTimestamp
    shift_end: PgTimestamp | None
    status: Literal["assigned", "on_duty", "off_duty", "reassigned"]
    created_at: PgTimestamp
    updated_at: PgTimestamp
