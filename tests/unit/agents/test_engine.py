"""The engine keeps aggregates exact under inserts, updates, deletes, lateness, reordering and replays."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from agents.engine import LAYOUT_KEY, Change, Engine
from agents.projections import PROJECTORS, day_number
from agents.spaces import encode
from agents.store import MemoryStore
from infra.clock import TAIPEI, FixedClock
from schemas.outputs import current_table
from tests.unit.agents import builders as b

DAY = int(datetime(2026, 11, 30, tzinfo=TAIPEI).timestamp())


def engine(now: datetime = b.T0) -> Engine:
    return Engine(FixedClock(now))


def sales(e: Engine, grain: str, dimension: str, member: str, bucket: int = DAY) -> list[int] | None:
    return e.aggregates.get("sales", (grain, bucket, dimension, member))


def test_order_lines_make_sales_in_every_grain_and_dimension() -> None:
    e = engine()
    e.apply([b.change("w110.branch", None, b.branch()), b.change("w100.customer_master", None, b.customer(1)),
             b.change("w110.product_master", None, b.product(1)), b.change("w200.order_master", None, b.order(1)),
             b.change("w200.order_detail", None, b.line(1, 1, quantity=2, net="1600.00", tax="80.00")),
             b.change("w200.order_detail", None, b.line(2, 1, product_id=9, net="100.00", tax="5.00"))])
    assert sales(e, "day", "total", "") == [170000, 8500, 1, 3, 2]
    assert sales(e, "day", "region", "north") == [170000, 8500, 1, 3, 2]
    assert sales(e, "day", "customer_type", "household") == [170000, 8500, 1, 3, 2]
    assert sales(e, "day", "product", "1") == [160000, 8000, 1, 2, 2]
    assert sales(e, "day", "product", "9") == [10000, 500, 1, 1, 0]  # unknown product: no cylinders
    assert sales(e, "day", "category", "") == [10000, 500, 1, 1, 0]
    assert sales(e, "minute", "total", "", int(b.T0.timestamp())) == [170000, 8500, 1, 3, 2]
    month = int(datetime(2026, 11, 1, tzinfo=TAIPEI).timestamp())
    assert sales(e, "month", "sales_employee", "5", month) == [170000, 8500, 1, 3, 2]


def test_updates_deletes_and_cancellation_retract_what_they_added() -> None:
    e = engine()
    first = b.line(1, 1, quantity=1)
    e.apply([b.change("w200.order_master", None, b.order(1)), b.change("w200.order_detail", None, first),
             b.change("w200.order_detail", None, b.line(2, 1))])
    bigger = b.line(1, 1, quantity=3, net="2400.00", tax="120.00")
    e.apply([b.change("w200.order_detail", first, bigger), b.change("w200.order_detail", b.line(2, 1), None)])
    assert sales(e, "day", "total", "") == [240000, 12000, 1, 3, 0]  # no product row: no cylinders known
    e.apply([b.change("w200.order_master", b.order(1), b.order(1, order_status="cancelled"))])
    assert sales(e, "day", "total", "") is None
    assert e.aggregates.get("fulfilment", (day_number(date(2026, 11, 30)), "TPE")) == [0, 0, 0, 1]


def test_arrival_order_does_not_matter() -> None:
    changes = [b.change("w200.order_detail", None, b.line(1, 1)), b.change("w100.customer_master", None, b.customer(1)),
               b.change("w200.order_master", None, b.order(1)), b.change("w110.product_master", None, b.product(1))]
    forward, backward = engine(), engine()
    forward.apply(changes)
    for c in reversed(changes):
        backward.apply([c])
    assert forward.aggregates.snapshot() == backward.aggregates.snapshot()


def test_replayed_changes_are_not_counted_twice() -> None:
    e = engine()
    changes = [b.change("w200.order_master", None, b.order(1)), b.change("w200.order_detail", None, b.line(1, 1))]
    e.apply(changes)
    before = e.aggregates.snapshot()
    out = e.apply(changes)
    assert out.stale == 2 and out.applied == 0
    assert e.aggregates.snapshot() == before


def test_late_payment_changes_last_months_receivable_and_its_own_collection_day() -> None:
    e = engine()
    inv = b.invoice(1, day=date(2026, 10, 15))
    e.apply([b.change("w500.invoice_header", None, inv)])
    assert e.aggregates.get("receivables", (1,)) == [105000, 0, 105000, 0, 105000, 0, 0, 1]  # 46 days old
    pay = b.payment(1, 1, amount="1050.00", day=date(2026, 11, 29))
    e.apply([b.change("w500.payment_record", None, pay)])
    assert e.aggregates.get("receivables", (1,)) == [105000, 105000, 0, 0, 0, 0, 0, 0]
    assert e.aggregates.get("collections", (day_number(date(2026, 11, 29)),)) == [105000, 1]
    e.apply([b.change("w500.payment_record", pay, b.payment(1, 1, amount="1050.00", day=date(2026, 11, 29),
                                                              status="reversed"))])
    assert e.aggregates.get("receivables", (1,)) == [105000, 0, 105000, 0, 105000, 0, 0, 1]
    assert e.aggregates.get("collections", (day_number(date(2026, 11, 29)),)) is None


def test_dispatch_counts_on_time_stops_for_the_current_driver() -> None:
    e = engine()
    arrived = b.T0 + timedelta(hours=1)
    e.apply([b.change("w200.order_master", None, b.order(1)), b.change("w700.dispatch_master", None, b.dispatch(1)),
             b.change("w700.driver_assignment", None, b.driver(1, 1, 40)),
             b.change("w700.route_detail", None, b.stop(1, 1, 1, status="delivered", arrived=arrived))])
    day = day_number(date(2026, 11, 30))
    assert e.aggregates.get("route", (day, "TPE", 1, 40)) == [1, 1, 1, 0, 425, 0]
    e.apply([b.change("w700.driver_assignment", b.driver(1, 1, 40), b.driver(1, 1, 40, status="reassigned")),
             b.change("w700.driver_assignment", None, b.driver(2, 1, 41))])
    assert e.aggregates.get("route", (day, "TPE", 1, 40)) is None
    assert e.aggregates.get("driver_day", (day, 41)) == [1, 1, 1, 1, 0]
    late = b.order(1, promised_to=b.T0 + timedelta(minutes=30))
    e.apply([b.change("w200.order_master", b.order(1), late)])  # the order's window moves: not on time now
    assert e.aggregates.get("driver_day", (day, 41)) == [1, 1, 1, 0, 0]


def test_windows_close_on_wall_clock_time_and_receivables_reage_at_midnight() -> None:
    clock = FixedClock(b.T0)
    e = Engine(clock, close_grace_seconds=60)
    out = e.apply([b.change("w200.order_master", None, b.order(1)),
                   b.change("w500.invoice_header", None, b.invoice(1, day=date(2026, 11, 1)))])
    assert {r["closed"] for r in out.rows["agg_sales"]} == {0}
    clock.advance(timedelta(seconds=120))
    closed = [r for r in e.tick().rows.get("agg_sales", []) if r["closed"]]
    assert [r["grain"] for r in closed] == ["minute"] * len(closed) and closed
    assert e.tick().rows == {}  # closed once, not again
    clock.advance(timedelta(days=1))  # 30 -> 30 days old stays in 0-30; one more day moves it
    e.tick()
    clock.advance(timedelta(days=1))
    out = e.tick()
    assert e.aggregates.get("receivables", (1,)) == [105000, 0, 105000, 0, 105000, 0, 0, 1]
    assert out.rows["agg_receivables"][0]["age_31_60_cents"] == 105000


def test_current_rows_are_versioned_and_moved_rows_leave_a_tombstone() -> None:
    e = engine()
    out = e.apply([b.change("w500.invoice_header", None, b.invoice(1), lsn=100)])
    assert out.rows[current_table("w500.invoice_header")][0]["_version"] == 201
    moved = b.invoice(1, day=date(2026, 12, 1))
    out = e.apply([b.change("w500.invoice_header", b.invoice(1), moved, lsn=200)])
    rows = out.rows["cur_w500_invoice_header"]
    assert [(r["_version"], r["_deleted"], r["invoice_date"]) for r in rows] == [
        (400, 1, date(2026, 11, 1)), (401, 0, date(2026, 12, 1))]


def row_makers(rng: random.Random) -> dict[str, Callable[[int], Any]]:
    """Per table, a maker of a random row for key k (a few values per column, so changes collide)."""
    return {
        "w200.order_master": lambda k: b.order(k, customer_id=rng.randint(1, 3), branch_code=rng.choice(["TPE", "TXG"]),
                                               order_status=rng.choice(["confirmed", "delivered", "cancelled"]),
                                               delivered_at=b.T0 + timedelta(hours=rng.randint(0, 8)),
                                               ordered_at=b.T0 - timedelta(days=rng.randint(0, 40))),
        "w200.order_detail": lambda k: b.line(k, rng.randint(1, 6), product_id=rng.randint(1, 3),
                                              quantity=rng.randint(1, 4), net=f"{rng.randint(1, 900)}.00"),
        "w100.customer_master": lambda k: b.customer(k, rng.choice(["household", "restaurant"])),
        "w110.product_master": lambda k: b.product(k, category_id=rng.randint(1, 2),
                                                   product_type=rng.choice(["gas_refill", "appliance"])),
        "w110.branch": lambda k: b.branch(rng.choice(["TPE", "TXG"]), rng.choice(["north", "central"])),
        "w500.invoice_header": lambda k: b.invoice(k, customer_id=rng.randint(1, 3),
                                                   day=date(2026, 11, 30) - timedelta(days=rng.randint(0, 120)),
                                                   status=rng.choice(["issued", "voided"])),
        "w500.payment_record": lambda k: b.payment(k, rng.randint(1, 4), amount=f"{rng.randint(1, 500)}.00",
                                                   status=rng.choice(["received", "reversed"])),
        "w700.dispatch_master": lambda k: b.dispatch(k, rng.choice(["en_route", "cancelled"])),
        "w700.route_detail": lambda k: b.stop(k, rng.randint(1, 3), rng.randint(1, 6), rng.choice(["delivered", "failed"]),
                                              b.T0 + timedelta(hours=rng.randint(0, 8))),
        "w700.driver_assignment": lambda k: b.driver(k, rng.randint(1, 3), rng.randint(40, 42),
                                                     rng.choice(["on_duty", "reassigned"])),
    }


def _random_changes(rng: random.Random, n: int) -> list[Change]:
    """A random history over a few keys per table, as PostgreSQL would emit it (images consistent)."""
    held: dict[tuple[str, int], Any] = {}
    makers = row_makers(rng)
    changes = []
    for _ in range(n):
        table = rng.choice(list(makers))
        key = rng.randint(1, 6)
        new = makers[table](key)
        if table == "w110.branch":
            key = 1 if new.branch_code == "TPE" else 2
        old = held.get((table, key))
        if old is not None and rng.random() < 0.25:  # a delete
            new = None
        held[(table, key)] = new
        if old is None and new is None:
            continue
        changes.append(b.change(table, old, new))
    return changes


def test_random_histories_equal_a_rebuild_from_the_final_rows() -> None:
    for seed in range(40):
        rng = random.Random(seed)
        changes = _random_changes(rng, 120)
        incremental = engine()
        for start in range(0, len(changes), 7):
            incremental.apply(changes[start:start + 7])
        fresh = engine()
        for table in PROJECTORS:
            for key in incremental.state.keys(table):
                fresh.load(table, key, incremental.state.get(table, key), 0)
        fresh.rebuild()
        assert incremental.aggregates.snapshot() == fresh.aggregates.snapshot(), f"seed {seed}"
        assert incremental.aggregates.size() > 0


def test_an_invoice_not_settled_is_an_open_invoice_cell_voided_ones_with_their_day() -> None:
    e = engine()
    e.apply([b.change("w500.invoice_header", None, b.invoice(1, customer_id=7)),
             b.change("w500.invoice_header", None, b.invoice(2, total="200.00")),
             b.change("w500.payment_record", None, b.payment(1, 1, amount="50.00")),
             b.change("w500.payment_record", None, b.payment(2, 2, amount="200.00"))])
    day, due = day_number(date(2026, 11, 1)), day_number(date(2026, 12, 1))
    assert e.aggregates.get("invoice_open", (1, 7, day, due)) == [105000, 5000, 100000, 0, 0]
    assert e.aggregates.get("invoice_open", (2, 1, day, due)) is None  # settled: no cell
    voided = b.invoice(2, total="200.00", status="voided").model_copy(
        update={"voided_at": datetime(2026, 11, 5, 23, 30, tzinfo=TAIPEI)})
    e.apply([b.change("w500.payment_record", b.payment(2, 2, amount="200.00"),
                      b.payment(2, 2, amount="200.00", status="reversed")),
             b.change("w500.invoice_header", b.invoice(2, total="200.00"), voided)])
    assert e.aggregates.get("invoice_open", (2, 1, day, due)) == [20000, 0, 20000, 1, day_number(date(2026, 11, 5))]
    assert e.aggregates.get("receivables", (1,)) is None  # a voided invoice owes nothing


def test_a_store_kept_in_another_layout_is_not_resumed() -> None:
    store = MemoryStore()
    first = Engine(FixedClock(b.T0), store=store)
    first.apply([b.change("w500.invoice_header", None, b.invoice(1))])
    first.commit(first.stage(), {("t", 0): 1})
    assert Engine(FixedClock(b.T0), store=store).stored_positions() == {("t", 0): 1}
    store.write([(LAYOUT_KEY, encode([["an older layout"]]))])
    assert Engine(FixedClock(b.T0), store=store).stored_positions() is None  # recovered from ClickHouse instead


def test_a_store_knows_the_newest_version_it_produced_or_is_not_resumed() -> None:
    store = MemoryStore()
    first = Engine(FixedClock(b.T0), store=store)
    first.apply([b.change("w500.invoice_header", None, b.invoice(1))])
    newest = first._version
    first.commit(first.stage(), {("t", 0): 1})
    first.apply([b.change("w500.invoice_header", None, b.invoice(2))])  # staged, never committed: lost
    first.stage()
    second = Engine(FixedClock(b.T0), store=store)
    assert second.stored_positions() == {("t", 0): 1} and second.resume() == newest > 0
    assert second.next_version() > newest
    older = Engine(FixedClock(b.T0), store=store)
    older._meta.put("version", None)  # a store written before the version was kept
    older.commit(older.spaces.stage(), {("t", 0): 1})  # not `stage()`: it would record the version again
    assert Engine(FixedClock(b.T0), store=store).stored_positions() is None
