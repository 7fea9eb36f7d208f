"""N days of consistent history, produced day by day as batches of final-state rows (written with COPY).

Per Taipei business day: orders at meal-hour peaks (more in winter, fewer on Sundays); ~45% of household
orders collected at the counter, the rest delivered by dispatch runs per branch and hour (a few stops fail
and are delivered on a later run); cancellations; an e-invoice per delivered order; cash paid on delivery,
credit customers paying around their due date (some partly, some late, some not yet); deliveries and the
supplier's morning restock as stock movements; the day close and run fuel in the ledger.

Every row is final when yielded (payments are planned when the invoice is issued), so nothing needs to be
updated afterwards except the stock levels and period balances, which come last.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal

from infra.simulator import dispatch
from infra.simulator.inventory import Stock, cost_class
from infra.simulator.invoices import (
    Payment,
    invoice_header,
    invoice_lines,
    invoice_status,
    payment_plan,
    payment_row,
    settle_plan,
)
from infra.simulator.ledger import REVENUE_ACCOUNT, Ledger, opening_journal
from infra.simulator.orders import CANCEL_REASONS, daily_orders, new_order, order_hour, status_log_row, taipei
from infra.simulator.world import Customer, Row, World

Batch = dict[str, list[Row]]
MAX_STOPS = 8
LAST_SLOT = 21  # the last run leaves at 21:xx


class History:
    """Generates `days` of business ending at `end` for `world`; `batches()` yields the rows."""

    def __init__(self, world: World, start: date, end: date, orders_per_day: int) -> None:
        if end < start:
            raise ValueError(f"empty history: {start} .. {end}")
        self.world, self.rng = world, world.rng
        self.start, self.end = start, end
        self.orders_per_day = orders_per_day
        self.stock = Stock(world)
        self.ledger = Ledger(world)
        self.out: Batch = defaultdict(list)
        self.open_invoices: list[tuple[Row, Customer]] = []  # append mode: invoices issued before `start`
        self.invoice_updates: list[tuple[int, Decimal, str, datetime]] = []  # id, paid, status, updated_at

    # -------------------------------------------------------------- the run
    def opening(self) -> Batch:
        """A fresh history's opening stock, booked against share capital."""
        value = self.stock.open(self.world.ref.branches, self.start)
        self.out["w300.stock_movement"].extend(self.stock.drain())
        for branch in self.world.ref.branches:
            per_class = {cls: v for (b, cls), v in value.items() if b == branch}
            self.ledger.post(opening_journal(self.start, branch, per_class), taipei(self.start, 0))
        return self._flush()

    def days(self) -> Iterator[Batch]:
        """One batch per business day, in order."""
        self._settle_open_invoices()
        day = self.start
        while day <= self.end:
            self._day(day)
            yield self._flush()
            day += timedelta(days=1)

    def _flush(self) -> Batch:
        self.out["w300.stock_movement"].extend(self.stock.drain())
        self.out["w600.gl_transaction"].extend(self.ledger.drain())
        batch, self.out = dict(self.out), defaultdict(list)
        return batch

    # -------------------------------------------------------------- one business day
    def _day(self, day: date) -> None:
        times = sorted(
            taipei(day, order_hour(self.rng), self.rng.randint(0, 59))
            for _ in range(daily_orders(self.rng, day, self.orders_per_day))
        )
        queues: dict[str, dict[int, list[tuple[Row, list[Row], Customer]]]] = defaultdict(lambda: defaultdict(list))
        delivered: list[tuple[Row, list[Row], Customer]] = []
        for at in times:
            customer = self.world.pick_customer()
            order, details = new_order(self.world, customer, at)
            self.out["w200.order_master"].append(order)
            self.out["w200.order_detail"].extend(details)
            if not self._confirm(order, customer):
                continue
            if order["channel"] == "walk_in":
                self._finish(order, order["updated_at"] + timedelta(minutes=self.rng.randint(2, 10)), None)
                delivered.append((order, details, customer))
            elif not (day == self.end and at.hour >= 19):  # the last evening's orders are still open
                queues[customer.branch][min(at.hour + 1, LAST_SLOT)].append((order, details, customer))
        for branch in sorted(queues):
            delivered += self._runs(day, branch, queues[branch])
        for order, details, customer in sorted(delivered, key=lambda d: d[0]["delivered_at"]):
            self._invoice(order, details, customer)
        staff = {b: next(iter(self.world.ref.staff(b, "warehouse")), None) for b in self.world.ref.branches}
        for (branch, cls), value in self.stock.restock(day, staff).items():
            self.ledger.add(day, branch, f"purchase_{cls}", value)
        self.ledger.close_day(day, self.world.ref.branches)

    def _confirm(self, order: Row, customer: Customer) -> bool:
        """pending -> confirmed by a dispatcher, or cancelled (4%); returns whether it goes on."""
        at: datetime = order["ordered_at"]
        self._log(order, None, "pending", at, None)
        later = at + timedelta(minutes=self.rng.randint(1, 8))
        dispatcher = self._staff(customer.branch, "dispatcher")
        if self.rng.random() < 0.04:
            order.update(
                order_status="cancelled",
                cancelled_at=later,
                updated_at=later,
                cancel_reason=self.rng.choice(CANCEL_REASONS),
            )
            self._log(order, "pending", "cancelled", later, dispatcher)
            return False
        order.update(order_status="confirmed", updated_at=later)
        self._log(order, "pending", "confirmed", later, dispatcher)
        return True

    def _log(
        self, order: Row, old: str | None, new: str, at: datetime, by: int | None, note: str | None = None
    ) -> None:
        self.out["w200.order_status_log"].append(status_log_row(self.world, order["order_id"], old, new, at, by, note))

    def _staff(self, branch: str, role: str) -> int | None:
        people = self.world.ref.staff(branch, role)
        return self.rng.choice(people) if people else None

    def _finish(self, order: Row, at: datetime, by: int | None) -> None:
        self._log(order, order["order_status"], "delivered", at, by)
        order.update(order_status="delivered", delivered_at=at, updated_at=at)

    # -------------------------------------------------------------- dispatch runs
    def _runs(
        self, day: date, branch: str, queue: dict[int, list[tuple[Row, list[Row], Customer]]]
    ) -> list[tuple[Row, list[Row], Customer]]:
        """Hourly runs: each slot's queued orders, up to eight stops per vehicle; failed stops go two slots on."""
        delivered = []
        vehicles = dispatch.fleet(branch)
        drivers = self.world.ref.staff(branch, "driver")
        for slot in range(0, LAST_SLOT + 1):
            waiting = queue.pop(slot, [])
            for n in range(0, len(waiting), MAX_STOPS):
                ready = max(o["updated_at"] for o, _, _ in waiting[n : n + MAX_STOPS]) + timedelta(minutes=5)
                departure = max(taipei(day, slot, self.rng.randint(5, 25)), ready)
                turn = slot * 3 + n // MAX_STOPS  # rotates vehicles and drivers over the day's runs
                vehicle = vehicles[turn % len(vehicles)]
                done, failed = self._run(branch, departure, waiting[n : n + MAX_STOPS], vehicle, drivers, (slot, turn))
                delivered += done
                queue[min(slot + 2, LAST_SLOT)].extend(failed)
        return delivered

    def _run(
        self,
        branch: str,
        departure: datetime,
        stops: list[tuple[Row, list[Row], Customer]],
        vehicle: dispatch.Vehicle,
        drivers: list[int],
        slot_turn: tuple[int, int],
    ) -> tuple[list[tuple[Row, list[Row], Customer]], list[tuple[Row, list[Row], Customer]]]:
        rng, world = self.rng, self.world
        slot, turn = slot_turn
        dispatch_id = world.ids.next("w700.dispatch_master")
        hops = [dispatch.hop_km(rng) for _ in stops]
        back = dispatch.hop_km(rng) * 2
        run = dispatch.dispatch_row(world, dispatch_id, branch, departure, vehicle, (sum(hops) + back) * Decimal("0.9"))
        crew = dispatch.assignment_rows(world, dispatch_id, drivers, departure, turn)
        driver = crew[0]["employee_id"] if crew else None
        at, done, failed = departure, [], []
        can_retry = slot + 2 <= LAST_SLOT
        for seq, ((order, details, customer), hop) in enumerate(zip(stops, hops, strict=True), start=1):
            self._log(order, "confirmed", "dispatched", departure, driver)
            order.update(order_status="dispatched", updated_at=departure)
            stop = dispatch.stop_row(world, dispatch_id, seq, order, departure, hop)
            at += timedelta(minutes=rng.randint(6, 16) + (rng.randint(20, 80) if rng.random() < 0.08 else 0))
            dispatch.deliver_stop(stop, at, dispatch.gps_fix(rng, customer.home))
            if can_retry and rng.random() < 0.02:  # nobody home: back to the queue
                stop["stop_status"] = "failed"
                self._log(order, "dispatched", "confirmed", at, driver, "客戶不在，改下一趟配送")
                order.update(order_status="confirmed", updated_at=at)
                failed.append((order, details, customer))
            else:
                self._finish(order, at, driver)
                done.append((order, details, customer))
            self.out["w700.route_detail"].append(stop)
        returned = at + timedelta(minutes=rng.randint(15, 40))
        dispatch.complete_run(run, sum(hops, Decimal(0)) + back, returned)
        for assignment in crew:
            dispatch.end_shift(assignment, returned)
        self.out["w700.dispatch_master"].append(run)
        self.out["w700.driver_assignment"].extend(crew)
        self.ledger.drove(returned.date(), branch, vehicle.plate, run["actual_km"])
        return done, failed

    # -------------------------------------------------------------- invoices, stock out, payments
    def _invoice(self, order: Row, details: list[Row], customer: Customer) -> None:
        world, issued = self.world, order["delivered_at"]
        day, branch = issued.date(), order["branch_code"]
        invoice_id = world.ids.next("w500.invoice_header")
        invoice = invoice_header(
            invoice_id, order["order_id"], customer, day, order["subtotal"], order["tax_amount"], issued
        )
        products = world.ref.product_index
        for d in details:
            p = products[d["product_id"]]
            self.ledger.add(day, branch, REVENUE_ACCOUNT[p.product_type], d["line_amount"])
            self.ledger.add(day, branch, "deposits", d["deposit_amount"])
            if p.tracked:
                returned = d["cylinders_returned"] if p.returnable else 0
                self.stock.move(
                    branch, p.product_id, "delivery", -d["quantity"], returned, "order", order["order_id"], issued, None
                )
                self.ledger.add(day, branch, f"cogs_{cost_class(p)}", p.standard_cost * d["quantity"])
        self.ledger.add(day, branch, "tax", invoice["tax_amount"])
        self.ledger.add(day, branch, "ar", invoice["total_amount"])
        for payment in payment_plan(self.rng, invoice, order["payment_method"], issued):
            self._pay(invoice, customer, payment)
        self.out["w500.invoice_header"].append(invoice)
        self.out["w500.invoice_detail"].extend(invoice_lines(world, invoice_id, details, issued))

    def _pay(self, invoice: Row, customer: Customer, payment: Payment) -> bool:
        """Record a payment if it happens within the history; the invoice's paid amount follows it."""
        when, amount, method = payment
        day = when.date()
        if day > self.end:
            return False
        settled = day < self.end - timedelta(days=1)
        self.out["w500.payment_record"].append(
            payment_row(self.world, invoice["invoice_id"], customer, when, amount, method, settled)
        )
        invoice["paid_amount"] += amount
        invoice["status"] = invoice_status(invoice["paid_amount"], invoice["total_amount"])
        invoice["updated_at"] = max(invoice["updated_at"], when)
        self.ledger.add(day, customer.branch, "cash_in" if method == "cash" else "bank_in", amount)
        return True

    def _settle_open_invoices(self) -> None:
        """Append mode: invoices open before `start` get paid (or not) within the appended days."""
        after = taipei(self.start, 9)
        for invoice, customer in self.open_invoices:
            if any([self._pay(invoice, customer, p) for p in settle_plan(self.rng, invoice, after)]):
                self.invoice_updates.append(
                    (invoice["invoice_id"], invoice["paid_amount"], invoice["status"], invoice["updated_at"])
                )
