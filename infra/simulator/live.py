"""Live mode: the business going on now, at a chosen pace of row changes per second.

Contract: each batch of business actions is one SQL transaction, so an interrupt (Ctrl-C, SIGTERM)
loses nothing half-written. The driver paces batches to `rate` row changes per second; when the database
or this process cannot keep up, it says so in its progress lines (achieved rate) rather than silently
running slower. `run` returns the row changes it made per table.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from infra.clock import Clock, SystemClock, business_day
from infra.simulator import live_master, live_money, live_orders
from infra.simulator.live_orders import Writer
from infra.simulator.live_state import LiveState, load_state

Action = Callable[[Writer, random.Random, LiveState, datetime], bool]

ACTIONS: tuple[tuple[float, str, Action], ...] = (
    (30, "new_order", live_orders.new_order),
    (22, "confirm", lambda w, r, s, n: live_orders.advance(w, r, s, n, "pending", "confirmed")),
    (
        1.5,
        "cancel",
        lambda w, r, s, n: live_orders.advance(w, r, s, n, r.choice(("pending", "confirmed")), "cancelled"),
    ),
    (4, "dispatch_run", live_orders.dispatch_run),
    (14, "deliver_stop", live_money.deliver_stop),
    (9, "counter_sale", live_money.counter_sale),
    (3, "correct_amount", lambda w, r, s, n: live_orders.correct_amount(w, r, s, n, delete_line=False)),
    (0.5, "delete_line", lambda w, r, s, n: live_orders.correct_amount(w, r, s, n, delete_line=True)),
    (4, "late_payment", live_money.late_payment),
    (2, "stock_receipt", live_master.stock_receipt),
    (3, "gl_posting", live_master.gl_posting),
    (0.3, "price_change", live_master.price_change),
    (4, "customer_update", live_master.customer_update),
    (2, "note_then_delete", live_master.note_then_delete),
)


@dataclass
class LiveResult:
    seconds: float = 0.0
    transactions: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    changes: Counter[str] = field(default_factory=Counter)

    @property
    def total_changes(self) -> int:
        return sum(self.changes.values())

    @property
    def rate(self) -> float:
        return self.total_changes / self.seconds if self.seconds else 0.0


class LiveSimulator:
    """Runs business actions against the database at `rate` row changes per second."""

    def __init__(
        self, dsn: str, seed: int, rate: float, clock: Clock | None = None, progress: Callable[[str], None] = print
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (row changes per second)")
        self.dsn, self.rate = dsn, rate
        self.rng = random.Random(seed)
        self.clock = clock or SystemClock()
        self.progress = progress
        # Past ~100 changes/s one transaction per action costs more in commits than in work: batch them.
        self.actions_per_tx = max(1, min(25, int(rate // 100)))

    def run(self, duration: float | None = None) -> LiveResult:
        """Until `duration` seconds have passed (forever if None) or KeyboardInterrupt."""
        result = LiveResult()
        with psycopg.connect(self.dsn) as conn:
            state = load_state(conn, business_day(self.clock.now()))
            conn.commit()
            started = last_report = time.monotonic()
            try:
                while duration is None or time.monotonic() - started < duration:
                    self._batch(conn, state, result)
                    elapsed = time.monotonic() - started
                    ahead = result.total_changes / self.rate - elapsed
                    if ahead > 0:
                        time.sleep(ahead)
                    if time.monotonic() - last_report >= 10:
                        last_report = time.monotonic()
                        self._report(result, time.monotonic() - started)
            except KeyboardInterrupt:
                conn.rollback()
            result.seconds = time.monotonic() - started
        return result

    def _batch(self, conn: psycopg.Connection[object], state: LiveState, result: LiveResult) -> None:
        writer = Writer(conn)
        names: list[str] = []
        with conn.transaction():
            for _ in range(self.actions_per_tx):
                names.append(self._one(writer, state))
        result.transactions += 1
        result.changes.update(writer.changes)
        result.actions.update(names)

    def _one(self, writer: Writer, state: LiveState) -> str:
        now = self.clock.now()
        for _ in range(20):
            _, name, action = self.rng.choices(ACTIONS, weights=[a[0] for a in ACTIONS])[0]
            if action(writer, self.rng, state, now) is not False:
                return name
        live_orders.new_order(writer, self.rng, state, now)
        return "new_order"

    def _report(self, result: LiveResult, elapsed: float) -> None:
        achieved = result.total_changes / elapsed
        note = "" if achieved >= self.rate * 0.95 else f" — BELOW the target of {self.rate:.0f}/s"
        self.progress(f"live: {result.total_changes} row changes in {elapsed:.0f}s = {achieved:.0f}/s{note}")
