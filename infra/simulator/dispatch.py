"""Dispatch runs: each branch's trucks, the runs with their route stops, and the drivers on them.

Row builders shared by backfill (completed runs) and live mode (runs that start `en_route` and complete
stop by stop). A delivered stop carries the driver's GPS confirmation, a few metres from the address.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from infra.clock import TAIPEI
from infra.simulator.world import Row, World

KM = Decimal("0.1")


@dataclass(frozen=True)
class Vehicle:
    plate: str
    vehicle_type: str


def fleet(branch: str) -> tuple[Vehicle, ...]:
    """The branch's vehicles: fixed per branch, whatever the seed (a branch does not buy trucks daily)."""
    rng = random.Random(f"fleet-{branch}")  # str seeds are hashed stably (sha512), unlike hash()
    vehicles = []
    for n in range(rng.randint(5, 8)):
        kind = "truck_3_5t" if n < 2 else ("scooter" if n == 7 else "light_truck")
        prefix = "M" + rng.choice("ABCD") + rng.choice("ABCDEFG") if kind == "scooter" else "K" + rng.choice("ABEL")
        vehicles.append(
            Vehicle(f"{prefix}{rng.choice('ABCDE') if kind != 'scooter' else ''}-{rng.randint(1000, 9999)}", kind)
        )
    return tuple(vehicles)


def hop_km(rng: random.Random) -> Decimal:
    """Kilometres from the previous stop (or the depot)."""
    return (Decimal(rng.randint(8, 60)) / 10).quantize(KM)


def gps_fix(rng: random.Random, home: tuple[float, float]) -> tuple[float, float]:
    """The driver's confirmation fix: within ~20 m of the delivery address."""
    return round(home[0] + rng.uniform(-2e-4, 2e-4), 6), round(home[1] + rng.uniform(-2e-4, 2e-4), 6)


def dispatch_row(
    world: World, dispatch_id: int, branch: str, departure: datetime, vehicle: Vehicle, planned_km: Decimal
) -> Row:
    """A run that has left the depot (`en_route`); `complete_run` fills in its return."""
    day: date = departure.astimezone(TAIPEI).date()
    return {
        "dispatch_id": dispatch_id,
        "dispatch_no": f"DS{day:%Y%m%d}-{dispatch_id:06d}",
        "branch_code": branch,
        "dispatch_date": day,
        "vehicle_plate": vehicle.plate,
        "vehicle_type": vehicle.vehicle_type,
        "status": "en_route",
        "planned_km": planned_km.quantize(KM),
        "actual_km": None,
        "departed_at": departure,
        "returned_at": None,
        "created_at": departure - timedelta(minutes=30),
        "updated_at": departure,
    }


def complete_run(run: Row, actual_km: Decimal, returned: datetime) -> None:
    run.update(status="completed", actual_km=actual_km.quantize(KM), returned_at=returned, updated_at=returned)


def stop_row(world: World, dispatch_id: int, seq: int, order: Row, departure: datetime, distance: Decimal) -> Row:
    """A pending stop: planned twelve minutes per stop after departure."""
    return {
        "route_stop_id": world.ids.next("w700.route_detail"),
        "dispatch_id": dispatch_id,
        "stop_seq": seq,
        "order_id": order["order_id"],
        "address_id": order["address_id"],
        "planned_arrival": departure + timedelta(minutes=12 * seq),
        "actual_arrival": None,
        "stop_status": "pending",
        "distance_km": distance,
        "gps_latitude": None,
        "gps_longitude": None,
        "created_at": departure,
        "updated_at": departure,
    }


def deliver_stop(stop: Row, at: datetime, fix: tuple[float, float]) -> None:
    stop.update(stop_status="delivered", actual_arrival=at, gps_latitude=fix[0], gps_longitude=fix[1], updated_at=at)


def assignment_rows(world: World, dispatch_id: int, drivers: list[int], departure: datetime, slot: int) -> list[Row]:
    """The run's driver (rotating through the branch's drivers) and, on one run in four, an assistant."""
    if not drivers:
        return []
    crew = [(drivers[slot % len(drivers)], "driver")]
    if len(drivers) > 1 and world.rng.random() < 0.25:
        crew.append((drivers[(slot + 1) % len(drivers)], "assistant"))
    return [
        {
            "assignment_id": world.ids.next("w700.driver_assignment"),
            "dispatch_id": dispatch_id,
            "employee_id": employee,
            "role": role,
            "assigned_at": departure - timedelta(minutes=30),
            "shift_start": departure,
            "shift_end": None,
            "status": "on_duty",
            "created_at": departure - timedelta(minutes=30),
            "updated_at": departure,
        }
        for employee, role in crew
    ]


def end_shift(assignment: Row, at: datetime) -> None:
    assignment.update(status="off_duty", shift_end=at, updated_at=at)
