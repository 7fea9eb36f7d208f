"""Live mode: the business going on now, at a chosen pace of row changes per second.

Contract: each batch of business actions is one SQL transaction (pipelined: statements are sent without
waiting for each answer), so an interrupt (Ctrl-C, SIGTERM) loses nothing half-written. The driver paces
batches to `rate` row changes per second; when the database or this process cannot keep up, progress lines
say so with the achieved rate, and so does the result (`LiveResult.kept_up`). Days that end while it runs
are closed in the ledger (日結) before the next batch. `run` returns the row changes it made per table and
operation.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import psycopg

from infra.clock import Clock, SystemClock, business_day
from infra.simulator import live_master, live_money, live_orders
from infra.simulator.live_ledger import close_due_days
from infra.simulator.live_state import LiveState, load_state
from infra.simulator.writer import Writer

Action = Callable[[Writer, random.Random, LiveState, datetime], bool]

# Relative frequencies: ~1 new order per 4 actions; the rest keeps the order flow and the books moving.
ACTIONS: tuple[tuple[float, str, Action], ...] = (
    (28, "new_order", live_orders.place_order),
    (22, "confirm", live_orders.confirm),
    (1.5, "cancel", live_orders.cancel),
    (4, "dispatch_run", live_orders.dispatch_run),
    (14, "deliver_stop", live_money.deliver_stop),
    (9, "counter_sale", live_money.counter_sale),
    (3, "correct_amount", partial(live_orders.correct_amount, delete_line=False)),
    (1, "delete_line", partial(live_orders.correct_amount, delete_line=True)),
    (3, "collect_payment", live_money.collect_payment),
    (2, "late_payment", live_money.late_payment),
    (0.4, "reverse_payment", live_money.reverse_payment),
    (2, "stock_receipt", live_master.stock_receipt),
    (0.6, "stock_count", live_master.stock_count),
    (0.4, "transfer", live_master.transfer),
    (3, "gl_posting", live_master.gl_posting),
    (0.3, "price_change", live_master.price_change),
    (3, "customer_update", live_master.customer_update),
    (0.4, "register_customer", live_master.register_customer),
    (2, "add_note", live_orders.add_note),
    (1, "delete_note", live_orders.delete_note),
)
REPORT_EVERY = 10.0  # seconds between progress lines


class ClockBehindBooks(RuntimeError):
    """The clock's business day is not after the last day the ledger has closed."""


@dataclass
class LiveResult:
    target_rate: float
    seconds: float = 0.0
    transactions: int = 0
    days_closed: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    operations: Counter[tuple[str, str]] = field(default_factory=Counter)  # (table, insert|update|delete)

    @property
    def changes(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for (table, _), n in self.operations.items():
            out[table] += n
        return out

    @property
    def total_changes(self) -> int:
        return sum(self.operations.values())

    @property
    def rate(self) -> float:
        return self.total_changes / self.seconds if self.seconds else 0.0

    @property
    def kept_up(self) -> bool:
        return self.rate >= 0.95 * self.target_rate

    def by_operation(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (table, op), n in sorted(self.operations.items()):
            out.setdefault(table, {})[op] = n
        return out


class LiveSimulator:
    """Runs business actions against the database at `rate` row changes per second."""

    def __init__(
        self,
        dsn: str,
        seed: int,
        rate: float,
        clock: Clock | None = None,
        progress: Callable[[str], None] = print,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (row changes per second)")
        self.dsn, self.rate = dsn, rate
        self.rng = random.Random(seed)
        self.clock = clock or SystemClock()
        self.progress = progress
        # One action is ~8 row changes. Past ~100 changes/s a commit per action costs more than the work:
        # batch actions so that a transaction carries ~1/20 s of the target rate.
        self.actions_per_tx = max(1, min(60, int(rate / 160)))
        self._weights = [a[0] for a in ACTIONS]

    def run(self, duration: float | None = None) -> LiveResult:
        """Until `duration` seconds have passed (forever if None) or KeyboardInterrupt."""
        result = LiveResult(self.rate)
        with psycopg.connect(self.dsn) as conn:
            state = self._start(conn)
            started = last_report = time.monotonic()
            try:
                while duration is None or time.monotonic() - started < duration:
                    self._batch(conn, state, result)
                    elapsed = time.monotonic() - started
                    ahead = result.total_changes / self.rate - elapsed
                    if ahead > 0:
                        time.sleep(min(ahead, max(0.0, duration - elapsed)) if duration else ahead)
                    if time.monotonic() - last_report >= REPORT_EVERY:
                        last_report = time.monotonic()
                        self._report(result, last_report - started)
            except KeyboardInterrupt:
                conn.rollback()
            result.seconds = time.monotonic() - started
        self._report(result, result.seconds, final=True)
        return result

    def _start(self, conn: psycopg.Connection[Any]) -> LiveState:
        today = business_day(self.clock.now())
        state = load_state(conn, self.rng, today)
        conn.commit()
        if state.last_closed >= today:
            raise ClockBehindBooks(
                f"the ledger is closed up to {state.last_closed} but the clock says {today}: "
                "live mode writes after the books' last day"
            )
        return state

    def _batch(self, conn: psycopg.Connection[Any], state: LiveState, result: LiveResult) -> None:
        writer = Writer(conn)
        names: list[str] = []
        with conn.transaction(), conn.pipeline():
            result.days_closed += close_due_days(writer, state, self.clock.now())
            for _ in range(self.actions_per_tx):
                names.append(self._one(writer, state))
        result.transactions += 1
        result.operations.update(writer.ops)
        result.actions.update(names)

    def _one(self, writer: Writer, state: LiveState) -> str:
        now = self.clock.now()
        for _ in range(20):
            _, name, action = self.rng.choices(ACTIONS, weights=self._weights)[0]
            if action(writer, self.rng, state, now):
                return name
        live_orders.place_order(writer, self.rng, state, now)
        return "new_order"

    def _report(self, result: LiveResult, elapsed: float, final: bool = False) -> None:
        achieved = result.total_changes / elapsed if elapsed else 0.0
        note = "" if achieved >= self.rate * 0.95 else f" — BELOW the target of {self.rate:g}/s"
        label = "live done" if final else "live"
        self.progress(f"{label}: {result.total_changes} row changes in {elapsed:.1f}s = {achieved:.0f}/s{note}")
