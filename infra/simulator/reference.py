"""Master data of a Taiwanese LPG distributor: branches, products and prices, staff, parameters, accounts.

Every function is pure: the same `random.Random` state gives the same rows. Rows are dicts keyed by
column name, ready for COPY; ids are assigned here so that later generators can refer to them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from infra.simulator.identity import DISTRICTS, ROADS, mobile, person_name

Row = dict[str, Any]

BRANCHES: tuple[tuple[str, str, str, str], ...] = (
    ("TPE", "台北分公司", "north", "台北市"),
    ("NTP", "新北分公司", "north", "新北市"),
    ("TYN", "桃園分公司", "north", "桃園市"),
    ("HSZ", "新竹分公司", "north", "新竹市"),
    ("TXG", "台中分公司", "central", "台中市"),
    ("CHW", "彰化分公司", "central", "彰化縣"),
    ("TNN", "台南分公司", "south", "台南市"),
    ("KHH", "高雄分公司", "south", "高雄市"),
    ("PIF", "屏東分公司", "south", "屏東縣"),
    ("HUN", "花蓮分公司", "east", "花蓮縣"),
    ("TTT", "台東分公司", "east", "台東縣"),
)

CATEGORIES: tuple[tuple[int, str, str, str, int | None], ...] = (
    (1, "GAS", "液化石油氣", "LPG refills", None),
    (2, "CYL", "鋼瓶與押金", "Cylinders and deposits", None),
    (3, "APP", "瓦斯器具", "Gas appliances", None),
    (4, "STOVE", "瓦斯爐", "Gas stoves", 3),
    (5, "HEATER", "熱水器", "Water heaters", 3),
    (6, "ACC", "配件", "Accessories", None),
    (7, "SVC", "服務", "Services", None),
)

CYLINDER_SIZES = (4, 16, 20, 50)
# Pre-tax household price of one refill by cylinder size (TWD), before grade and customer-type factors.
REFILL_BASE_PRICE = {4: Decimal(230), 16: Decimal(640), 20: Decimal(780), 50: Decimal(1850)}
DEPOSIT_BY_SIZE = {4: Decimal(800), 16: Decimal(1300), 20: Decimal(1500), 50: Decimal(3200)}
CUSTOMER_TYPE_FACTOR = {"household": Decimal("1.00"), "restaurant": Decimal("0.95"), "industrial": Decimal("0.90")}
APPLIANCE_BRANDS = ("林內", "櫻花", "莊頭北", "喜特麗", "豪山")
ROLES: tuple[tuple[int, str, str, bool, int], ...] = (
    # (role_id, code, name, can_view_financials, people per branch)
    (1, "manager", "分公司經理", True, 1),
    (2, "dispatcher", "調度員", False, 2),
    (3, "driver", "司機", False, 8),
    (4, "sales", "業務", False, 4),
    (5, "warehouse", "倉管", False, 2),
    (6, "accountant", "會計", True, 2),
)

CHART_OF_ACCOUNTS: tuple[tuple[str, str, str, str, str, str | None, bool], ...] = (
    ("1000", "資產", "Assets", "asset", "debit", None, False),
    ("1101", "現金", "Cash", "asset", "debit", "1000", True),
    ("1113", "銀行存款", "Bank deposits", "asset", "debit", "1000", True),
    ("1191", "應收帳款", "Accounts receivable", "asset", "debit", "1000", True),
    ("1231", "存貨－瓦斯", "Inventory - LPG", "asset", "debit", "1000", True),
    ("1232", "存貨－器具", "Inventory - appliances", "asset", "debit", "1000", True),
    ("1551", "運輸設備", "Transport equipment", "asset", "debit", "1000", True),
    ("1559", "累計折舊－運輸設備", "Accumulated depreciation - transport", "asset", "credit", "1000", True),
    ("2000", "負債", "Liabilities", "liability", "credit", None, False),
    ("2101", "應付帳款", "Accounts payable", "liability", "credit", "2000", True),
    ("2194", "銷項稅額", "Output VAT", "liability", "credit", "2000", True),
    ("2201", "存入保證金－鋼瓶", "Cylinder deposits held", "liability", "credit", "2000", True),
    ("2171", "應付薪資", "Salaries payable", "liability", "credit", "2000", True),
    ("3000", "權益", "Equity", "equity", "credit", None, False),
    ("3101", "股本", "Share capital", "equity", "credit", "3000", True),
    ("4000", "營業收入", "Revenue", "revenue", "credit", None, False),
    ("4101", "銷貨收入－瓦斯", "Sales - LPG", "revenue", "credit", "4000", True),
    ("4102", "銷貨收入－器具", "Sales - appliances", "revenue", "credit", "4000", True),
    ("4111", "勞務收入", "Service revenue", "revenue", "credit", "4000", True),
    ("5000", "營業成本", "Cost of sales", "expense", "debit", None, False),
    ("5101", "銷貨成本－瓦斯", "COGS - LPG", "expense", "debit", "5000", True),
    ("5102", "銷貨成本－器具", "COGS - appliances", "expense", "debit", "5000", True),
    ("6000", "營業費用", "Operating expenses", "expense", "debit", None, False),
    ("6101", "薪資支出", "Salaries", "expense", "debit", "6000", True),
    ("6102", "租金支出", "Rent", "expense", "debit", "6000", True),
    ("6103", "燃料費", "Vehicle fuel", "expense", "debit", "6000", True),
    ("6104", "修繕費", "Vehicle repairs", "expense", "debit", "6000", True),
    ("6105", "水電瓦斯費", "Utilities", "expense", "debit", "6000", True),
    ("6106", "保險費", "Insurance", "expense", "debit", "6000", True),
    ("6107", "折舊", "Depreciation", "expense", "debit", "6000", True),
    ("6108", "雜項費用", "Sundry expenses", "expense", "debit", "6000", True),
)

SYSTEM_PARAMETERS: tuple[tuple[str, str, str, str, str], ...] = (
    ("tax.business_tax_rate", "0.05", "decimal", "calculation", "營業稅率"),
    ("tax.rounding", "half_up_integer", "text", "calculation", "稅額以元為單位四捨五入"),
    ("credit.default_terms_days", "30", "int", "business_rule", "月結客戶預設付款天數"),
    ("credit.suspend_after_days_overdue", "90", "int", "business_rule", "逾期九十天停止供貨"),
    ("delivery.window_hours", "2", "int", "business_rule", "配送承諾時段長度（小時）"),
    ("delivery.on_time_grace_minutes", "15", "int", "business_rule", "準時送達寬限（分鐘）"),
    ("inventory.reorder_review_hours", "1", "int", "business_rule", "安全庫存檢查頻率"),
    ("report.currency_format", "NT$#,##0", "text", "report_format", "報表金額格式"),
    ("report.date_format", "yyyy/MM/dd", "text", "report_format", "報表日期格式"),
    ("report.roc_year", "true", "bool", "report_format", "報表使用民國年"),
    ("system.business_timezone", "Asia/Taipei", "text", "system", "營業日時區"),
)


TRACKED_TYPES = ("gas_refill", "new_cylinder", "appliance", "accessory")  # kept in stock, costed on delivery


@dataclass(frozen=True)
class Product:
    product_id: int
    product_type: str
    cylinder_kg: int | None
    category_id: int
    standard_cost: Decimal
    base_price: Decimal  # household, before tax
    deposit: Decimal
    returnable: bool
    name_zh: str = ""

    @property
    def tracked(self) -> bool:
        """Held in warehouse stock (services and deposits are not)."""
        return self.product_type in TRACKED_TYPES


@dataclass
class Catalog:
    """The products an order line is drawn from, indexed once (orders are generated by the million)."""

    refills_by_kg: dict[int, list[Product]]
    deposit_by_kg: dict[int, Product]
    extras: list[Product]  # appliances, accessories, services

    @classmethod
    def of(cls, products: list[Product]) -> Catalog:
        refills: dict[int, list[Product]] = {}
        deposits: dict[int, Product] = {}
        for p in products:
            if p.product_type == "gas_refill" and p.cylinder_kg:
                refills.setdefault(p.cylinder_kg, []).append(p)
            elif p.product_type == "cylinder_deposit" and p.cylinder_kg:
                deposits[p.cylinder_kg] = p
        extras = [p for p in products if p.product_type in ("appliance", "accessory", "service")]
        return cls(refills, deposits, extras)


@dataclass
class Reference:
    """Master data plus the indexes later generators need."""

    rows: dict[str, list[Row]] = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    employees_by_role: dict[tuple[str, str], list[int]] = field(default_factory=dict)  # (branch, role) -> ids
    branches: list[str] = field(default_factory=list)  # branch codes, also the warehouses and cost centres
    _catalog: Catalog | None = None
    _index: dict[int, Product] | None = None

    def staff(self, branch: str, role: str) -> list[int]:
        return self.employees_by_role.get((branch, role), [])

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = Catalog.of(self.products)
        return self._catalog

    @property
    def product_index(self) -> dict[int, Product]:
        if self._index is None:
            self._index = {p.product_id: p for p in self.products}
        return self._index


def build_reference(rng: random.Random, start: date, products_target: int = 500) -> Reference:
    """All master data, effective from `start`."""
    ref = Reference(branches=[code for code, *_ in BRANCHES])
    ref.rows["w110.branch"] = [
        _branch_row(n, code, name, region, city) for n, (code, name, region, city) in enumerate(BRANCHES)
    ]
    ref.rows["w110.product_category"] = [
        {"category_id": cid, "code": code, "name_zh": zh, "name_en": en, "parent_id": parent}
        for cid, code, zh, en, parent in CATEGORIES
    ]
    ref.rows["w110.product_master"], ref.products = _products(rng, products_target)
    ref.rows["w110.product_price"] = _prices(ref.products, start)
    ref.rows["w300.inventory_master"] = [
        {
            "product_id": p.product_id,
            "standard_cost": p.standard_cost,
            "lead_time_days": 1 if p.cylinder_kg else 5,
            "is_returnable": p.returnable,
            "is_tracked": p.tracked,
        }
        for p in ref.products
    ]
    ref.rows["w110.employee_role"] = [
        {"role_id": rid, "code": code, "name_zh": zh, "can_view_financials": fin} for rid, code, zh, fin, _ in ROLES
    ]
    ref.rows["w110.employee_master"] = _employees(rng, ref, start)
    ref.rows["w110.system_parameter"] = [
        {"param_key": k, "param_value": v, "value_type": t, "category": c, "description_zh": d}
        for k, v, t, c, d in SYSTEM_PARAMETERS
    ]
    ref.rows["w600.gl_master"] = [
        {
            "account_code": code,
            "name_zh": zh,
            "name_en": en,
            "account_type": kind,
            "normal_balance": normal,
            "parent_code": parent,
            "is_postable": postable,
        }
        for code, zh, en, kind, normal, parent, postable in CHART_OF_ACCOUNTS
    ]
    return ref


def _branch_row(n: int, code: str, name: str, region: str, city: str) -> Row:
    centre = DISTRICTS[code][0]
    return {
        "branch_code": code,
        "name_zh": name,
        "region": region,
        "city_zh": city,
        "address_zh": f"{centre.city_zh}{centre.district_zh}{ROADS[n % len(ROADS)]}{n % 3 + 1}段{18 + 7 * n}號",
        "latitude": centre.latitude,
        "longitude": centre.longitude,
        "is_active": True,
    }


def _products(rng: random.Random, target: int) -> tuple[list[Row], list[Product]]:
    rows: list[Row] = []
    products: list[Product] = []

    def add(
        sku: str,
        cat: int,
        zh: str,
        en: str,
        kind: str,
        kg: int | None,
        unit: str,
        cost: Decimal,
        price: Decimal,
        deposit: Decimal = Decimal(0),
        returnable: bool = False,
    ) -> None:
        pid = len(products) + 1
        rows.append(
            {
                "product_id": pid,
                "sku": sku,
                "category_id": cat,
                "name_zh": zh,
                "name_en": en,
                "product_type": kind,
                "cylinder_kg": kg,
                "unit_zh": unit,
                "tax_type": "taxable",
                "is_active": True,
            }
        )
        products.append(Product(pid, kind, kg, cat, cost, price, deposit, returnable, zh))

    for kg in CYLINDER_SIZES:
        for grade, (zh, factor) in enumerate((("家庭用", "1.00"), ("營業用", "0.97"), ("高熱值", "1.06"))):
            price = (REFILL_BASE_PRICE[kg] * Decimal(factor)).quantize(Decimal(1))
            add(
                f"GAS-{kg:02d}-{grade}",
                1,
                f"{kg}公斤{zh}液化石油氣",
                f"LPG refill {kg} kg grade {grade}",
                "gas_refill",
                kg,
                "桶",
                (price * Decimal("0.72")).quantize(Decimal(1)),
                price,
                returnable=True,
            )
        add(
            f"DEP-{kg:02d}",
            2,
            f"{kg}公斤鋼瓶押金",
            f"Cylinder deposit {kg} kg",
            "cylinder_deposit",
            kg,
            "支",
            Decimal(0),
            Decimal(0),
            DEPOSIT_BY_SIZE[kg],
        )
        for brand in ("新海", "三興", "大統"):
            cost = DEPOSIT_BY_SIZE[kg] * Decimal("0.9")
            add(
                f"CYL-{kg:02d}-{brand}",
                2,
                f"{brand}{kg}公斤新鋼瓶",
                f"New cylinder {kg} kg",
                "new_cylinder",
                kg,
                "支",
                cost.quantize(Decimal(1)),
                (cost * Decimal("1.3")).quantize(Decimal(1)),
            )
    services = (("安全檢查", 300), ("瓦斯爐安裝", 800), ("熱水器安裝", 1500), ("管線檢修", 600), ("遷移管線", 1200))
    for i, (zh, fee) in enumerate(services):
        add(f"SVC-{i:02d}", 7, zh, f"Service {i}", "service", None, "次", Decimal(fee // 3), Decimal(fee))
    remaining = max(0, target - len(products))
    for i in range(remaining):
        brand = rng.choice(APPLIANCE_BRANDS)
        kind, cat, zh, low, high = rng.choice(
            (
                ("appliance", 4, "瓦斯爐", 3000, 18000),
                ("appliance", 5, "熱水器", 6000, 32000),
                ("accessory", 6, rng.choice(("調整器", "瓦斯管", "安全開關", "防傾倒架")), 150, 900),
            )
        )
        price = Decimal(rng.randrange(low, high, 50))
        add(
            f"{'APP' if kind == 'appliance' else 'ACC'}-{i:04d}",
            cat,
            f"{brand}{zh} {rng.choice('ABCDEFGHJK')}{rng.randint(100, 999)}",
            f"{kind} {i}",
            kind,
            None,
            "台" if kind == "appliance" else "個",
            (price * Decimal("0.65")).quantize(Decimal(1)),
            price,
        )
    return rows, products


def _prices(products: list[Product], start: date) -> list[Row]:
    rows: list[Row] = []
    for p in products:
        for ctype, factor in CUSTOMER_TYPE_FACTOR.items():
            price = (p.base_price * (factor if p.product_type == "gas_refill" else Decimal(1))).quantize(Decimal(1))
            rows.append(
                {
                    "price_id": len(rows) + 1,
                    "product_id": p.product_id,
                    "customer_type": ctype,
                    "unit_price": price,
                    "deposit_amount": p.deposit,
                    "effective_from": start,
                    "effective_to": None,
                }
            )
    return rows


def _employees(rng: random.Random, ref: Reference, start: date) -> list[Row]:
    rows: list[Row] = []
    for code, *_ in BRANCHES:
        for role_id, role, _, _, count in ROLES:
            for _ in range(count):
                eid = len(rows) + 1
                hired = date(rng.randint(2008, start.year - 1), rng.randint(1, 12), rng.randint(1, 28))
                rows.append(
                    {
                        "employee_id": eid,
                        "employee_no": f"E{eid:05d}",
                        "name_zh": person_name(rng),
                        "role_id": role_id,
                        "branch_code": code,
                        "mobile": mobile(rng),
                        "email": f"e{eid:05d}@luckygas.com.tw",
                        "hire_date": hired,
                        "status": "active",
                        "commission_rate": Decimal("0.0150") if role == "sales" else Decimal(0),
                    }
                )
                ref.employees_by_role.setdefault((code, role), []).append(eid)
    return rows
