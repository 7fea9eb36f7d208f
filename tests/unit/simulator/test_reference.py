"""Master data: branches across Taiwan, ~500 products with prices per customer type, ~200 staff, the chart
of accounts and system parameters, all the same for the same seed."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date
from decimal import Decimal

from infra.simulator.reference import build_reference

START = date(2026, 1, 1)


def test_same_seed_same_master_data_other_seed_other_products() -> None:
    a = build_reference(random.Random(1), START)
    assert a.rows == build_reference(random.Random(1), START).rows
    assert a.rows["w110.product_master"] != build_reference(random.Random(2), START).rows["w110.product_master"]


def test_branches_cover_the_regions_of_taiwan() -> None:
    branches = build_reference(random.Random(1), START).rows["w110.branch"]
    assert 8 <= len(branches) <= 12
    assert {b["region"] for b in branches} == {"north", "central", "south", "east"}
    assert {"台北市", "新北市", "桃園市", "台中市", "台南市", "高雄市", "花蓮縣"} <= {b["city_zh"] for b in branches}
    assert all(21.8 <= b["latitude"] <= 25.4 and 119.3 <= b["longitude"] <= 122.1 for b in branches)


def test_products_prices_and_stocked_items() -> None:
    ref = build_reference(random.Random(1), START)
    products = ref.rows["w110.product_master"]
    assert len(products) == 500 and len({p["sku"] for p in products}) == 500
    assert Counter(p["product_type"] for p in products).keys() == {
        "gas_refill",
        "cylinder_deposit",
        "new_cylinder",
        "appliance",
        "accessory",
        "service",
    }
    assert {p["cylinder_kg"] for p in products if p["product_type"] == "gas_refill"} == {4, 16, 20, 50}
    names = " ".join(p["name_zh"] for p in products)
    assert all(word in names for word in ("瓦斯爐", "熱水器", "調整器", "瓦斯管", "安全檢查", "押金"))
    prices = ref.rows["w110.product_price"]
    assert len(prices) == 3 * len(products) and all(p["effective_to"] is None for p in prices)
    refill = next(p["product_id"] for p in products if p["sku"] == "GAS-20-0")
    by_type = {p["customer_type"]: p["unit_price"] for p in prices if p["product_id"] == refill}
    assert by_type["household"] > by_type["restaurant"] > by_type["industrial"] > 0
    deposits = {
        p["deposit_amount"]
        for p in prices
        if p["product_id"] in {q["product_id"] for q in products if q["product_type"] == "cylinder_deposit"}
    }
    assert min(deposits) > 0
    tracked = {r["product_id"] for r in ref.rows["w300.inventory_master"] if r["is_tracked"]}
    assert tracked == {p.product_id for p in ref.products if p.tracked}


def test_staff_roles_and_accounts() -> None:
    ref = build_reference(random.Random(1), START)
    staff = ref.rows["w110.employee_master"]
    assert 180 <= len(staff) <= 220
    roles = {r["role_id"]: r["code"] for r in ref.rows["w110.employee_role"]}
    assert Counter(roles[e["role_id"]] for e in staff).keys() == {
        "driver",
        "sales",
        "dispatcher",
        "accountant",
        "warehouse",
        "manager",
    }
    assert all(e["mobile"].startswith("09") and len(e["mobile"]) == 10 for e in staff)
    accounts = {a["account_code"]: a for a in ref.rows["w600.gl_master"]}
    for code in ("1101", "1113", "1191", "1231", "2194", "4101", "5101", "6101", "6103"):
        assert accounts[code]["is_postable"], code
    assert all(a["parent_code"] is None or a["parent_code"] in accounts for a in accounts.values())
    params = {p["param_key"]: p for p in ref.rows["w110.system_parameter"]}
    assert Decimal(params["tax.business_tax_rate"]["param_value"]) == Decimal("0.05")
    assert {p["category"] for p in params.values()} == {"business_rule", "calculation", "report_format", "system"}
