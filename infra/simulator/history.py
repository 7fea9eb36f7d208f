"""N days of consistent history, as final-state rows per table (the backfill writes them with COPY).

Per Taipei business day: orders at meal-hour peaks (more in winter, fewer on Sundays), ~40% of
household orders collected at the counter, the rest delivered by hourly dispatch runs per branch;
cancellations; an e-invoice per delivered order; cash paid on delivery, credit customers paying around
their due date (some partially, some late, some not yet); stock movements and ledger from `ledger`.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.simulator import ledger
from infra.simulator.reference import build_reference
from infra.simulator.world import (
    Customer,
    Ids,
    Row,
    World,
    current_prices,
    daily_orders,
    invoice_header,
    new_customer,
    order_hour,
    order_lines,
    price_lines,
    taipei,
)

CENT = Decimal("0.01")


class History:
    """Builds the rows; `rows` maps table name to its rows in insertion order."""

    def __init__(self, seed: int, days: int, end: date, customers: int, orders_per_day: int) -> None:
        self.rng = random.Random(seed)
        self.start, self.end = end - timedelta(days=days - 1), end
        self.orders_per_day = orders_per_day
        ref = build_reference(self.rng, self.start - timedelta(days=30))
        self.world = World(self.rng, ref, Ids())
        self.world.prices = current_prices(ref)
        self.rows: dict[str, list[Row]] = defaultdict(list)
        for table, rows in ref.rows.items():
            self.rows[table].extend(rows)
        self.coords: dict[int, tuple[float, float]] = {}
        self._pending_delivered: list[tuple[Row, list[Row], Customer]] = []
        self._details_of: dict[int, tuple[list[Row], Customer]] = {}
        self.book = ledger.Book(self.world, self.start)
        self._make_customers(customers)

    def _make_customers(self, count: int) -> None:
        for _ in range(count):
            registered = self.start - timedelta(days=self.rng.randint(1, 3650))
            customer, rows = new_customer(self.world, registered)
            self.world.customers.append(customer)
            for table, table_rows in rows.items():
                self.rows[table].extend(table_rows)
            for a in rows["w100.customer_address"]:
                self.coords[a["address_id"]] = (a["latitude"], a["longitude"])
        self.world.index()

    def build(self) -> dict[str, list[Row]]:
        self.book.open_stock(self.rows)
        day = self.start
        while day <= self.end:
            self._day(day)
            day += timedelta(days=1)
        self.book.close(self.rows, self.end)
        return self.rows

    # -------------------------------------------------------------- one business day
    def _day(self, day: date) -> None:
        deliveries: dict[str, list[Row]] = defaultdict(list)
        delivered: list[tuple[Row, list[Row], Customer]] = []
        for _ in range(daily_orders(self.rng, day, self.orders_per_day)):
            order, details, customer = self._order(day)
            if order["order_status"] == "cancelled":
                continue
            if order["channel"] == "walk_in":
                self._finish(order, order["ordered_at"] + timedelta(minutes=self.rng.randint(3, 15)))
                delivered.append((order, details, customer))
            else:
                deliveries[order["branch_code"]].append(order)
        for branch, orders in deliveries.items():
            self._dispatch(day, branch, orders)
        delivered += [(o, d, c) for o, d, c in self._pending_delivered]
        self._pending_delivered = []
        for order, details, customer in delivered:
            self._invoice_and_pay(order, details, customer)
        self.book.day_entries(self.rows, day)

    def _order(self, day: date) -> tuple[Row, list[Row], Customer]:
        rng, world = self.rng, self.world
        customer = world.pick_customer()
        ordered_at = taipei(day, order_hour(rng), rng.randint(0, 59))
        walk_in = customer.customer_type == "household" and rng.random() < 0.45
        order_id = world.ids.next("w200.order_master")
        details, subtotal, tax = price_lines(world, order_id, customer, order_lines(world, customer))
        channel = "walk_in" if walk_in else rng.choice(("phone", "phone", "line", "web", "standing_order"))
        window_start = ordered_at + (timedelta(minutes=10) if walk_in else timedelta(hours=1))
        order: Row = {
            "order_id": order_id,
            "order_no": f"SO{day:%Y%m%d}{order_id % 100000:05d}",
            "customer_id": customer.customer_id,
            "address_id": customer.address_ids[0],
            "branch_code": customer.branch,
            "sales_employee_id": customer.sales_employee_id,
            "channel": channel,
            "order_status": "pending",
            "ordered_at": ordered_at,
            "promised_from": window_start,
            "promised_to": window_start + timedelta(hours=2),
            "delivered_at": None,
            "cancelled_at": None,
            "cancel_reason": None,
            "subtotal": subtotal,
            "tax_amount": tax,
            "total_amount": subtotal + tax,
            "payment_method": customer.payment_method if rng.random() < 0.9 else "credit_card",
            "created_at": ordered_at,
            "updated_at": ordered_at,
        }
        for d in details:
            d["created_at"] = d["updated_at"] = ordered_at
        self.rows["w200.order_master"].append(order)
        self.rows["w200.order_detail"].extend(details)
        self._log(order, None, "pending", ordered_at)
        confirmed = ordered_at + timedelta(minutes=rng.randint(1, 8))
        if rng.random() < 0.04:
            order.update(
                order_status="cancelled",
                cancelled_at=confirmed,
                updated_at=confirmed,
                cancel_reason=rng.choice(("客戶取消", "重複下單", "地址錯誤", "已向他處購買")),
            )
            self._log(order, "pending", "cancelled", confirmed)
        else:
            order["order_status"] = "confirmed"
            self._log(order, "pending", "confirmed", confirmed)
        self._details_of[order_id] = (details, customer)
        return order, details, customer

    def _log(self, order: Row, old: str | None, new: str, at: datetime) -> None:
        self.rows["w200.order_status_log"].append(
            {
                "log_id": self.world.ids.next("w200.order_status_log"),
                "order_id": order["order_id"],
                "from_status": old,
                "to_status": new,
                "changed_at": at,
                "changed_by": None,
                "note_zh": None,
                "created_at": at,
                "updated_at": at,
            }
        )

    def _finish(self, order: Row, at: datetime) -> None:
        self._log(order, order["order_status"], "delivered", at)
        order.update(order_status="delivered", delivered_at=at, updated_at=at)

    # -------------------------------------------------------------- dispatch runs
    def _dispatch(self, day: date, branch: str, orders: list[Row]) -> None:
        """Hourly runs per branch: each takes the orders confirmed in the hour before it leaves."""
        by_slot: dict[int, list[Row]] = defaultdict(list)
        for order in sorted(orders, key=lambda o: o["ordered_at"]):
            by_slot[order["ordered_at"].hour + 1].append(order)
        drivers = self.world.ref.staff(branch, "driver")
        for slot, run_orders in sorted(by_slot.items()):
            departure = taipei(day, min(slot, 21), self.rng.randint(5, 25))
            self._run(day, branch, departure, run_orders, drivers[slot % len(drivers)])

    def _run(self, day: date, branch: str, departure: datetime, orders: list[Row], driver: int) -> None:
        rng, ids = self.rng, self.world.ids
        dispatch_id = ids.next("w700.dispatch_master")
        at, km = departure, Decimal(0)
        for seq, order in enumerate(orders, start=1):
            self._log(order, "confirmed", "dispatched", departure)
            order.update(order_status="dispatched")
            hop = Decimal(rng.randint(8, 60)) / 10
            at += timedelta(minutes=rng.randint(6, 16) + (rng.randint(20, 80) if rng.random() < 0.08 else 0))
            km += hop
            lat, lon = self.coords[order["address_id"]]
            self.rows["w700.route_detail"].append(
                {
                    "route_stop_id": ids.next("w700.route_detail"),
                    "dispatch_id": dispatch_id,
                    "stop_seq": seq,
                    "order_id": order["order_id"],
                    "address_id": order["address_id"],
                    "planned_arrival": departure + timedelta(minutes=12 * seq),
                    "actual_arrival": at,
                    "stop_status": "delivered",
                    "distance_km": hop,
                    "gps_latitude": round(lat + rng.uniform(-2e-4, 2e-4), 6),
                    "gps_longitude": round(lon + rng.uniform(-2e-4, 2e-4), 6),
                    "created_at": departure,
                    "updated_at": at,
                }
            )
            self._finish(order, at)
            details, customer = self._details_of[order["order_id"]]
            self._pending_delivered.append((order, details, customer))
        returned = at + timedelta(minutes=rng.randint(15, 40))
        km += Decimal(rng.randint(20, 80)) / 10
        plate = f"{rng.choice('ABKLMR')}{rng.choice('ABCDE')}{rng.choice('ABC')}-{rng.randint(1000, 9999)}"
        self.rows["w700.dispatch_master"].append(
            {
                "dispatch_id": dispatch_id,
                "dispatch_no": f"DS{day:%Y%m%d}-{dispatch_id:06d}",
                "branch_code": branch,
                "dispatch_date": day,
                "vehicle_plate": plate,
                "vehicle_type": rng.choice(("truck_3_5t", "light_truck")),
                "status": "completed",
                "planned_km": (km * Decimal("0.9")).quantize(Decimal("0.1")),
                "actual_km": km,
                "departed_at": departure,
                "returned_at": returned,
                "created_at": departure,
                "updated_at": returned,
            }
        )
        self.rows["w700.driver_assignment"].append(
            {
                "assignment_id": ids.next("w700.driver_assignment"),
                "dispatch_id": dispatch_id,
                "employee_id": driver,
                "role": "driver",
                "assigned_at": departure - timedelta(minutes=30),
                "shift_start": departure,
                "shift_end": returned,
                "status": "off_duty",
                "created_at": departure,
                "updated_at": returned,
            }
        )
        self.book.run_expense(branch, day, km)

    # -------------------------------------------------------------- invoices and payments
    def _invoice_and_pay(self, order: Row, details: list[Row], customer: Customer) -> None:
        ids = self.world.ids
        issued = order["delivered_at"]
        inv_day = issued.date()
        invoice_id = ids.next("w500.invoice_header")
        invoice = invoice_header(
            invoice_id, order["order_id"], customer, inv_day, order["subtotal"], order["tax_amount"], issued
        )
        self.rows["w500.invoice_header"].append(invoice)
        for d in details:
            self.rows["w500.invoice_detail"].append(
                {
                    "detail_id": ids.next("w500.invoice_detail"),
                    "invoice_id": invoice_id,
                    "line_no": d["line_no"],
                    "product_id": d["product_id"],
                    "description_zh": f"商品{d['product_id']}",
                    "quantity": d["quantity"],
                    "unit_price": d["unit_price"],
                    "amount": d["line_amount"],
                    "tax_amount": d["tax_amount"],
                    "created_at": issued,
                    "updated_at": issued,
                }
            )
        self.book.sale(order, details, customer, invoice)
        for when, amount, method in self._payments(invoice, customer, order):
            self.pay(invoice, customer, when, amount, method)

    def _payments(self, invoice: Row, customer: Customer, order: Row) -> list[tuple[datetime, Decimal, str]]:
        rng, total = self.rng, invoice["total_amount"]
        if order["payment_method"] in ("cash", "credit_card"):
            return [(order["delivered_at"], total, "cash" if order["payment_method"] == "cash" else "credit_card")]
        roll = rng.random()
        if roll < 0.05:
            return []  # not paid (yet): the receivables ageing has something to show
        due = taipei(invoice["due_date"], 10) + timedelta(days=round(rng.gauss(0, 6)), hours=rng.randint(0, 6))
        method = rng.choice(("virtual_account", "virtual_account", "bank_transfer", "check"))
        if roll < 0.12:
            half = (total / 2).quantize(Decimal(1)).quantize(CENT)
            return [(due, half, method), (due + timedelta(days=rng.randint(20, 45)), total - half, method)]
        return [(due, total, method)]

    def pay(self, invoice: Row, customer: Customer, when: datetime, amount: Decimal, method: str) -> None:
        """Record a payment if it happened by the end of the history."""
        if when.date() > self.end:
            return
        payment: Row = {
            "payment_id": self.world.ids.next("w500.payment_record"),
            "invoice_id": invoice["invoice_id"],
            "customer_id": customer.customer_id,
            "payment_date": when.date(),
            "received_at": when,
            "amount": amount,
            "method": method,
            "bank_reference": f"TX{when:%y%m%d}{self.rng.randrange(10**8):08d}"
            if method in ("bank_transfer", "virtual_account")
            else None,
            "virtual_account": customer.virtual_account if method == "virtual_account" else None,
            "status": "cleared",
            "created_at": when,
            "updated_at": when,
        }
        self.rows["w500.payment_record"].append(payment)
        invoice["paid_amount"] += amount
        invoice["status"] = "paid" if invoice["paid_amount"] >= invoice["total_amount"] else "partially_paid"
        invoice["updated_at"] = max(invoice["updated_at"], when)
        self.book.receipt(customer.branch, when.date(), amount, method)


def generate(seed: int, days: int, end: date, customers: int, orders_per_day: int) -> tuple[dict[str, list[Row]], Any]:
    """The rows of every table and the id counters that follow them."""
    history = History(seed, days, end, customers, orders_per_day)
    return history.build(), history.world.ids
