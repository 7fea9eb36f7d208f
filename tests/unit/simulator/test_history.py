"""A small generated history (in memory, no database): deterministic, with the business patterns, and
keeping every invariant the database checks (journals balance, stock = movements, paid = payments …)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from infra.simulator.backfill import BackfillPlan, generate
from infra.simulator.identity import ubn_is_valid
from infra.simulator.orders import expected_orders
from infra.simulator.reference import TRACKED_TYPES

Rows = dict[str, list[dict[str, Any]]]
# 23 December 2025 .. Sunday 1 February 2026: two month ends, and long enough for credit terms to fall due.
PLAN = BackfillPlan(days=41, end=date(2026, 2, 1), seed=5, customers=1_500, products=120, orders_per_day=120)


@pytest.fixture(scope="module")
def rows() -> Rows:
    return generate(PLAN)


def test_same_seed_same_history_other_seed_other_history() -> None:
    small = BackfillPlan(days=3, end=date(2026, 2, 1), seed=5, customers=300, products=60, orders_per_day=80)
    first = generate(small)
    assert generate(small) == first
    other = generate(BackfillPlan(**{**small.__dict__, "seed": 6}))
    assert other["w200.order_master"] != first["w200.order_master"]
    assert other["w100.customer_master"] != first["w100.customer_master"]


def test_journals_balance_and_period_balances_equal_the_ledger(rows: Rows) -> None:
    net: dict[str, Decimal] = defaultdict(Decimal)
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for line in rows["w600.gl_transaction"]:
        assert (line["debit"] == 0) != (line["credit"] == 0)
        net[line["journal_no"]] += line["debit"] - line["credit"]
        key = (line["account_code"], line["period"], line["cost_center"])
        sums[key][0] += line["debit"]
        sums[key][1] += line["credit"]
    assert net and all(v == 0 for v in net.values())
    balances = rows["w600.account_balance"]
    assert {
        (b["account_code"], b["period"], b["cost_center"]): [b["period_debit"], b["period_credit"]] for b in balances
    } == sums
    closing: dict[tuple[str, str], Decimal] = {}
    for b in sorted(balances, key=lambda b: b["period"]):
        assert b["opening_balance"] == closing.get((b["account_code"], b["cost_center"]), 0)
        assert b["closing_balance"] == b["opening_balance"] + b["period_debit"] - b["period_credit"]
        closing[(b["account_code"], b["cost_center"])] = b["closing_balance"]
    assert {b["period"] for b in balances if b["is_closed"]} == {"2025-12", "2026-01"}
    month_end = {line["description_zh"] for line in rows["w600.gl_transaction"] if line["posting_date"] == PLAN.end}
    assert "本月薪資" not in month_end and "本月薪資" in {
        line["description_zh"] for line in rows["w600.gl_transaction"] if line["posting_date"] == date(2026, 1, 31)
    }


def _ledger(rows: Rows, accounts: tuple[str, ...]) -> Decimal:
    return sum(
        (g["debit"] - g["credit"] for g in rows["w600.gl_transaction"] if g["account_code"] in accounts), Decimal(0)
    )


def test_the_ledger_ties_to_invoices_payments_and_stock(rows: Rows) -> None:
    invoices, payments = rows["w500.invoice_header"], rows["w500.payment_record"]
    assert _ledger(rows, ("1191",)) == sum(i["total_amount"] for i in invoices) - sum(p["amount"] for p in payments)
    assert -_ledger(rows, ("2194",)) == sum(i["tax_amount"] for i in invoices)
    assert -_ledger(rows, ("4101", "4102", "4111")) == sum(i["sales_amount"] for i in invoices)
    cost = {r["product_id"]: r["standard_cost"] for r in rows["w300.inventory_master"]}
    assert _ledger(rows, ("1231", "1232")) == sum(
        m["quantity"] * cost[m["product_id"]] for m in rows["w300.stock_movement"]
    )


def test_stock_is_the_sum_of_its_movements_and_never_negative(rows: Rows) -> None:
    moved: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    for m in rows["w300.stock_movement"]:
        moved[(m["warehouse_code"], m["product_id"])][0] += m["quantity"]
        moved[(m["warehouse_code"], m["product_id"])][1] += m["empty_quantity"]
    stock = rows["w300.warehouse_stock"]
    assert len(stock) == len(moved)
    for s in stock:
        assert [s["qty_full"], s["qty_empty"]] == moved[(s["warehouse_code"], s["product_id"])]
        assert s["qty_full"] >= 0 and s["qty_empty"] >= 0
    kinds = Counter(m["movement_type"] for m in rows["w300.stock_movement"])
    assert kinds.keys() == {"opening", "delivery", "receipt"}


def test_orders_invoices_and_payments_add_up(rows: Rows) -> None:
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for d in rows["w200.order_detail"]:
        assert d["line_amount"] == d["quantity"] * d["unit_price"]
        lines[d["order_id"]].append(d)
    for o in rows["w200.order_master"]:
        assert o["subtotal"] == sum(d["line_amount"] for d in lines[o["order_id"]])
        assert o["tax_amount"] == sum(d["tax_amount"] for d in lines[o["order_id"]])
        assert o["tax_amount"] == (o["subtotal"] * Decimal("0.05")).quantize(Decimal(1), ROUND_HALF_UP)
        assert o["total_amount"] == o["subtotal"] + o["tax_amount"]
    paid: dict[int, Decimal] = defaultdict(Decimal)
    for p in rows["w500.payment_record"]:
        paid[p["invoice_id"]] += p["amount"]
    orders = {o["order_id"]: o for o in rows["w200.order_master"]}
    for i in rows["w500.invoice_header"]:
        assert re.fullmatch(r"[A-Z]{2}[0-9]{8}", i["invoice_no"])
        assert i["paid_amount"] == paid[i["invoice_id"]] <= i["total_amount"]
        assert i["status"] == (
            "issued" if not i["paid_amount"] else "paid" if i["paid_amount"] == i["total_amount"] else "partially_paid"
        )
        order = orders[i["order_id"]]
        assert (i["sales_amount"], i["tax_amount"]) == (order["subtotal"], order["tax_amount"])
        assert (i["invoice_type"] == "B2B") == (i["buyer_tax_id"] is not None)
        assert i["buyer_tax_id"] is None or ubn_is_valid(i["buyer_tax_id"])
    assert {i["status"] for i in rows["w500.invoice_header"]} == {"issued", "partially_paid", "paid"}
    assert {i["invoice_type"] for i in rows["w500.invoice_header"]} == {"B2B", "B2C"}


def test_order_workflow_status_logs_and_deliveries(rows: Rows) -> None:
    orders = rows["w200.order_master"]
    statuses = Counter(o["order_status"] for o in orders)
    assert statuses.keys() == {"delivered", "cancelled", "confirmed"}  # confirmed: the last evening's
    assert 0.01 < statuses["cancelled"] / len(orders) < 0.08
    assert all(
        o["ordered_at"].date() == PLAN.end and o["ordered_at"].hour >= 19
        for o in orders
        if o["order_status"] == "confirmed"
    )
    last: dict[int, dict[str, Any]] = {}
    for log in rows["w200.order_status_log"]:
        if log["order_id"] not in last or (log["changed_at"], log["log_id"]) > (
            last[log["order_id"]]["changed_at"],
            last[log["order_id"]]["log_id"],
        ):
            last[log["order_id"]] = log
    assert all(last[o["order_id"]]["to_status"] == o["order_status"] for o in orders)
    stops = defaultdict(list)
    for r in rows["w700.route_detail"]:
        stops[r["order_id"]].append(r["stop_status"])
    for o in orders:
        if o["order_status"] == "delivered" and o["channel"] != "walk_in":
            assert stops[o["order_id"]][-1] == "delivered"
    assert any("failed" in s for s in stops.values())
    runs = rows["w700.dispatch_master"]
    assert all(r["status"] == "completed" and r["actual_km"] > 0 for r in runs)
    assert {a["dispatch_id"] for a in rows["w700.driver_assignment"] if a["role"] == "driver"} == {
        r["dispatch_id"] for r in runs
    }


def test_business_day_patterns() -> None:
    sunday, monday = date(2026, 2, 1), date(2026, 2, 2)
    assert expected_orders(sunday, 1000) < 0.6 * expected_orders(monday, 1000)
    assert expected_orders(date(2026, 1, 14), 1000) > 1.5 * expected_orders(date(2026, 7, 15), 1000)


def test_orders_come_at_meal_hour_peaks_and_at_the_planned_volume(rows: Rows) -> None:
    orders = rows["w200.order_master"]
    by_hour = Counter(o["ordered_at"].hour for o in orders)
    peaks = sum(by_hour[h] for h in (10, 11, 16, 17)) / 4
    others = sum(by_hour[h] for h in (8, 13, 14, 19)) / 4
    assert peaks > 1.8 * others
    by_day = Counter(o["ordered_at"].date() for o in orders)
    for day, n in by_day.items():
        assert abs(n - expected_orders(day, PLAN.orders_per_day)) < 0.25 * expected_orders(day, PLAN.orders_per_day)


def test_customers_stocked_products_and_positions(rows: Rows) -> None:
    customers = rows["w100.customer_master"]
    assert Counter(c["customer_type"] for c in customers).keys() == {"household", "restaurant", "industrial"}
    assert all(
        c["tax_id"] is None if c["customer_type"] == "household" else ubn_is_valid(c["tax_id"]) for c in customers
    )
    assert all(
        21.8 <= a["latitude"] <= 25.4 and 119.3 <= a["longitude"] <= 122.1 for a in rows["w100.customer_address"]
    )
    products = {p["product_id"]: p["product_type"] for p in rows["w110.product_master"]}
    assert all(products[m["product_id"]] in TRACKED_TYPES for m in rows["w300.stock_movement"])
