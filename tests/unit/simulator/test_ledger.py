"""Journal shapes of the day close, month end and opening stock; vehicle plates of the fleet."""

from __future__ import annotations

import random
import re
from datetime import date
from decimal import Decimal

from infra.simulator.dispatch import fleet
from infra.simulator.ledger import TOTAL_KEYS, day_journals, month_end_journals, opening_journal
from infra.simulator.reference import BRANCHES


def _random_totals(rng: random.Random) -> dict[str, Decimal]:
    t = {key: Decimal(rng.randrange(0, 500_000)) / 100 for key in TOTAL_KEYS if rng.random() < 0.7}
    sales = sum((t.get(a, Decimal(0)) for a in ("4101", "4102", "4111")), Decimal(0))
    t["tax"] = (sales * Decimal("0.05")).quantize(Decimal(1))
    t["ar"] = sales + t["tax"]  # the day's invoices: AR = sales + tax
    t["adjust_gas"] = -Decimal(rng.randrange(0, 5000))  # shrinkage
    return t


def test_every_day_close_journal_balances_and_has_one_sided_lines() -> None:
    rng = random.Random(3)
    for _ in range(200):
        journals = day_journals(date(2026, 1, 5), "TPE", _random_totals(rng), {"KAB-1234": Decimal("42.5")})
        assert journals
        for j in journals:
            assert j.balanced and j.source_ref == "DAY-2026-01-05"
            assert all((d == 0) != (c == 0) and d >= 0 and c >= 0 and cc == "TPE" for _, d, c, cc in j.lines)


def test_day_close_books_sales_receipts_shrinkage_and_fuel_to_the_right_accounts() -> None:
    totals = {
        "4101": Decimal(1000),
        "tax": Decimal(50),
        "ar": Decimal(1050),
        "cash_in": Decimal(1050),
        "adjust_gas": Decimal(-300),
    }
    journals = {
        j.description_zh: j.lines for j in day_journals(date(2026, 1, 5), "KHH", totals, {"KAB-1234": Decimal(10)})
    }
    assert journals["銷貨日結"] == [("1191", 1050, 0, "KHH"), ("4101", 0, 1000, "KHH"), ("2194", 0, 50, "KHH")]
    assert journals["收款日結"] == [("1101", 1050, 0, "KHH"), ("1191", 0, 1050, "KHH")]
    assert journals["盤點調整"] == [("1231", 0, 300, "KHH"), ("6108", 300, 0, "KHH")]  # a loss: Cr stock, Dr expense
    assert journals["配送燃料費 KAB-1234"] == [("6103", 65, 0, "KHH"), ("1113", 0, 65, "KHH")]
    assert day_journals(date(2026, 1, 5), "KHH", {}, {}) == []


def test_month_end_and_opening_journals_balance() -> None:
    assert all(j.balanced for j in month_end_journals(date(2026, 1, 31), "HUN"))
    opening = opening_journal(date(2026, 1, 1), "HUN", {"gas": Decimal("123.4"), "goods": Decimal(1000)})
    assert opening.balanced and opening.lines[-1] == ("3101", 0, Decimal("1123.40"), "HUN")


def test_each_branch_has_a_fixed_fleet_with_valid_plates() -> None:
    for code, *_ in BRANCHES:
        vehicles = fleet(code)
        assert vehicles == fleet(code) and 5 <= len(vehicles) <= 8
        assert all(re.fullmatch(r"[A-Z0-9]{2,4}-[A-Z0-9]{2,4}", v.plate) for v in vehicles)
        assert {v.vehicle_type for v in vehicles} <= {"truck_3_5t", "light_truck", "scooter"}
