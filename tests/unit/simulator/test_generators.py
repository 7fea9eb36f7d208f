"""Pure parts of the simulator: identities, tax, and a small history that keeps every invariant."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest

from infra.simulator.history import generate
from infra.simulator.identity import DISTRICTS, address_in, make_ubn, ubn_is_valid, virtual_account
from infra.simulator.money import split_tax, tax_of
from infra.simulator.world import invoice_no


@pytest.mark.parametrize(("ubn", "valid"), [("04595257", True), ("04595258", False), ("10458575", True),
                                            ("1045857", False), ("abcdefgh", False)])
def test_unified_business_number_checksum(ubn: str, valid: bool) -> None:
    assert ubn_is_valid(ubn) is valid


def test_generated_business_numbers_are_valid_and_deterministic() -> None:
    first = [make_ubn(random.Random(7)) for _ in range(3)]
    assert first == [make_ubn(random.Random(7)) for _ in range(3)]
    assert all(ubn_is_valid(u) for u in (make_ubn(random.Random(s)) for s in range(200)))


def test_virtual_accounts_are_14_digits_and_unique() -> None:
    accounts = {virtual_account(i) for i in range(1, 5000)}
    assert len(accounts) == 4999 and all(len(a) == 14 and a.isdigit() for a in accounts)


def test_addresses_are_in_taiwan() -> None:
    rng = random.Random(3)
    for districts in DISTRICTS.values():
        for d in districts:
            text, lat, lon, _ = address_in(rng, d)
            assert text.startswith(d.city_zh) and 21.8 <= lat <= 25.4 and 119.3 <= lon <= 122.1


def test_business_tax_is_five_percent_rounded_to_the_dollar() -> None:
    assert tax_of(Decimal("1520")) == Decimal("76.00")
    assert tax_of(Decimal("10")) == Decimal("1.00")  # 0.5 rounds half up
    assert tax_of(Decimal("9")) == Decimal("0.00")
    lines = [Decimal("780"), Decimal("1500"), Decimal("33")]
    assert sum(split_tax(lines)) == tax_of(sum(lines, Decimal(0))) == Decimal("116.00")
    assert split_tax([]) == [] and split_tax([Decimal(0)]) == [Decimal("0.00")]


def test_invoice_numbers_follow_the_e_invoice_format() -> None:
    number = invoice_no(date(2026, 11, 24), 123)
    assert len(number) == 10 and number[:2].isalpha() and number[2:] == "00000123"


@pytest.fixture(scope="module")
def history() -> dict[str, list[dict[str, object]]]:
    rows, _ = generate(seed=5, days=3, end=date(2026, 1, 20), customers=300, orders_per_day=120)
    return rows


def test_same_seed_same_history(history: dict[str, list[dict[str, object]]]) -> None:
    again, _ = generate(seed=5, days=3, end=date(2026, 1, 20), customers=300, orders_per_day=120)
    assert again == history
    other, _ = generate(seed=6, days=3, end=date(2026, 1, 20), customers=300, orders_per_day=120)
    assert other["w200.order_master"] != history["w200.order_master"]


def test_history_keeps_the_books(history: dict[str, list[dict[str, object]]]) -> None:
    journals: dict[object, Decimal] = defaultdict(Decimal)
    for line in history["w600.gl_transaction"]:
        journals[line["journal_no"]] += line["debit"] - line["credit"]  # type: ignore[operator]
    assert journals and all(v == 0 for v in journals.values())
    moved: dict[tuple[object, object], int] = defaultdict(int)
    for m in history["w300.stock_movement"]:
        moved[(m["warehouse_code"], m["product_id"])] += m["quantity"]  # type: ignore[operator]
    for s in history["w300.warehouse_stock"]:
        assert s["qty_full"] == moved[(s["warehouse_code"], s["product_id"])] >= 0
    paid: dict[object, Decimal] = defaultdict(Decimal)
    for p in history["w500.payment_record"]:
        paid[p["invoice_id"]] += p["amount"]  # type: ignore[operator]
    for inv in history["w500.invoice_header"]:
        assert inv["paid_amount"] == paid[inv["invoice_id"]] <= inv["total_amount"]  # type: ignore[operator]
        assert inv["total_amount"] == inv["sales_amount"] + inv["tax_amount"]  # type: ignore[operator]


def test_history_has_the_business_patterns(history: dict[str, list[dict[str, object]]]) -> None:
    orders = history["w200.order_master"]
    statuses = {o["order_status"] for o in orders}
    assert statuses == {"delivered", "cancelled"}
    assert any(o["channel"] == "walk_in" for o in orders) and any(o["channel"] != "walk_in" for o in orders)
    delivered_by_truck = {r["order_id"] for r in history["w700.route_detail"]}
    assert all(o["order_id"] in delivered_by_truck for o in orders
               if o["order_status"] == "delivered" and o["channel"] != "walk_in")
    assert {r["customer_type"] for r in history["w100.customer_master"]} == {"household", "restaurant", "industrial"}
    assert all(ubn_is_valid(str(c["tax_id"])) for c in history["w100.customer_master"] if c["tax_id"])
