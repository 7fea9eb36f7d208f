"""Stock movements and the general ledger that follow from the day's business.

Invariants kept: warehouse_stock.qty_full / qty_empty = sum of that warehouse and product's movements;
every journal balances (debits = credits); account_balance per (account, period, cost centre) holds the
period's debits and credits and closing = opening + debits - credits, opening = previous closing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.simulator.reference import BRANCHES, Product
from infra.simulator.world import Row, World, taipei

ZERO = Decimal("0.00")
REVENUE_ACCOUNT = {
    "gas_refill": "4101",
    "new_cylinder": "4102",
    "appliance": "4102",
    "accessory": "4102",
    "service": "4111",
    "cylinder_deposit": "4102",
}
FUEL_PER_KM = Decimal("6.5")
MONTHLY_COSTS = (
    ("6101", "2171", 380_000, "薪資"),
    ("6102", "1113", 85_000, "租金"),
    ("6105", "1113", 18_000, "水電"),
    ("6106", "1113", 9_000, "保險"),
    ("6107", "1232", 24_000, "折舊"),
)


def tracked(p: Product) -> bool:
    return p.product_type in ("gas_refill", "new_cylinder", "appliance", "accessory")


class Book:
    """Collects the day's effects; `close` turns them into movement, stock and ledger rows."""

    def __init__(self, world: World, start: date) -> None:
        self.world = world
        self.start = start
        self.products = {p.product_id: p for p in world.ref.products}
        self.stock: dict[tuple[str, int], list[int]] = {}  # (warehouse, product) -> [stock_id, full, empty]
        self.movements: list[Row] = []
        self.delivered: dict[tuple[date, str, int], int] = defaultdict(int)
        self.daily: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        self.runs: list[tuple[date, str, Decimal]] = []

    # ------------------------------------------------------------ effects
    def open_stock(self, rows: dict[str, list[Row]]) -> None:
        at = taipei(self.start, 0)
        for code, *_ in BRANCHES:
            for p in self.world.ref.products:
                if tracked(p):
                    qty = (100 if p.cylinder_kg == 50 else 300) if p.product_type == "gas_refill" else 8
                    self.stock[(code, p.product_id)] = [self.world.ids.next("w300.warehouse_stock"), 0, 0]
                    self._move(code, p.product_id, "opening", qty, 0, "opening", None, at)

    def _move(
        self, wh: str, pid: int, kind: str, qty: int, empty: int, ref_type: str | None, ref_id: int | None, at: datetime
    ) -> None:
        self.movements.append(
            {
                "movement_id": self.world.ids.next("w300.stock_movement"),
                "warehouse_code": wh,
                "product_id": pid,
                "movement_type": kind,
                "quantity": qty,
                "empty_quantity": empty,
                "reference_type": ref_type,
                "reference_id": ref_id,
                "moved_at": at,
                "employee_id": None,
                "created_at": at,
                "updated_at": at,
            }
        )
        entry = self.stock[(wh, pid)]
        entry[1] += qty
        entry[2] += empty

    def sale(self, order: Row, details: list[Row], customer: Any, invoice: Row) -> None:
        day, branch = invoice["invoice_date"], order["branch_code"]
        totals = self.daily[(day, branch)]
        for d in details:
            p = self.products[d["product_id"]]
            totals[REVENUE_ACCOUNT[p.product_type]] += d["line_amount"]
            totals["deposits"] += d["deposit_amount"]
            if tracked(p):
                self._move(
                    branch,
                    p.product_id,
                    "delivery",
                    -d["quantity"],
                    d["cylinders_returned"] if p.product_type == "gas_refill" else 0,
                    "order",
                    order["order_id"],
                    order["delivered_at"],
                )
                self.delivered[(day, branch, p.product_id)] += d["quantity"]
                totals["cogs_gas" if p.product_type == "gas_refill" else "cogs_goods"] += (
                    p.standard_cost * d["quantity"]
                )
        totals["tax"] += invoice["tax_amount"]
        totals["ar"] += invoice["total_amount"]

    def receipt(self, branch: str, day: date, amount: Decimal, method: str) -> None:
        self.daily[(day, branch)]["cash_in" if method == "cash" else "bank_in"] += amount

    def run_expense(self, branch: str, day: date, km: Decimal) -> None:
        self.runs.append((day, branch, km))

    def day_entries(self, rows: dict[str, list[Row]], day: date) -> None:
        """Restock at 06:30 what the branch delivered that day; the supplier takes the empties back."""
        at = taipei(day, 6, 30)
        for (d, branch, pid), qty in list(self.delivered.items()):
            if d != day:
                continue
            restock = -(-qty // 10) * 10
            empties = min(self.stock[(branch, pid)][2], restock)
            self._move(branch, pid, "receipt", restock, -empties, "purchase", None, at)

    # ------------------------------------------------------------ closing
    def close(self, rows: dict[str, list[Row]], end: date) -> None:
        rows["w300.stock_movement"].extend(sorted(self.movements, key=lambda m: m["movement_id"]))
        for (wh, pid), (stock_id, full, empty) in self.stock.items():
            gas = self.products[pid].product_type == "gas_refill"
            reorder = (30 if self.products[pid].cylinder_kg == 50 else 80) if gas else 2
            rows["w300.warehouse_stock"].append(
                {
                    "stock_id": stock_id,
                    "warehouse_code": wh,
                    "product_id": pid,
                    "qty_full": full,
                    "qty_empty": empty,
                    "reorder_point": reorder,
                    "safety_stock": reorder // 2,
                    "last_counted_at": taipei(self.start, 0),
                }
            )
        lines = self._journals(end)
        rows["w600.gl_transaction"].extend(lines)
        rows["w600.account_balance"].extend(balances(self.world, lines, end))

    def _journals(self, end: date) -> list[Row]:
        journals: list[tuple[date, str, str, list[tuple[str, Decimal, Decimal]]]] = []
        for (day, branch), t in sorted(self.daily.items()):
            if day > end:
                continue
            sales = [(acct, ZERO, t[acct]) for acct in ("4101", "4102", "4111") if t[acct]]
            if t["ar"]:
                journals.append((day, branch, "W500", [("1191", t["ar"], ZERO), *sales, ("2194", ZERO, t["tax"])]))
            if t["deposits"]:
                journals.append((day, branch, "W200", [("1101", t["deposits"], ZERO), ("2201", ZERO, t["deposits"])]))
            cogs = [
                (debit, credit, t[key])
                for key, debit, credit in (("cogs_gas", "5101", "1231"), ("cogs_goods", "5102", "1232"))
                if t[key]
            ]
            for debit, credit, amount in cogs:
                journals.append((day, branch, "W300", [(debit, amount, ZERO), (credit, ZERO, amount)]))
            received = t["cash_in"] + t["bank_in"]
            if received:
                cash = [(a, v, ZERO) for a, v in (("1101", t["cash_in"]), ("1113", t["bank_in"])) if v]
                journals.append((day, branch, "W500", [*cash, ("1191", ZERO, received)]))
            if t["cash_in"]:
                journals.append((day, branch, "W600", [("1113", t["cash_in"], ZERO), ("1101", ZERO, t["cash_in"])]))
        for day, branch, km in self.runs:
            fuel = (km * FUEL_PER_KM).quantize(Decimal("0.01"))
            journals.append((day, branch, "W700", [("6103", fuel, ZERO), ("1101", ZERO, fuel)]))
        day = self.start
        while day <= end:
            if (day + timedelta(days=1)).day == 1:
                for code, *_ in BRANCHES:
                    for debit, credit, monthly, _ in MONTHLY_COSTS:
                        value = Decimal(monthly)
                        journals.append((day, code, "W600", [(debit, value, ZERO), (credit, ZERO, value)]))
            day += timedelta(days=1)
        return self._lines(sorted(journals, key=lambda j: (j[0], j[1])))

    def _lines(self, journals: list[tuple[date, str, str, list[tuple[str, Decimal, Decimal]]]]) -> list[Row]:
        out: list[Row] = []
        for n, (day, branch, module, entries) in enumerate(journals, start=1):
            at = taipei(day, 22)
            for line_no, (account, debit, credit) in enumerate(entries, start=1):
                out.append(
                    gl_line(
                        self.world, f"J{day:%Y%m%d}-{n:06d}", line_no, account, day, debit, credit, branch, module, at
                    )
                )
        return out


def gl_line(
    world: World,
    journal_no: str,
    line_no: int,
    account: str,
    day: date,
    debit: Decimal,
    credit: Decimal,
    branch: str,
    module: str,
    at: datetime,
) -> Row:
    return {
        "txn_id": world.ids.next("w600.gl_transaction"),
        "journal_no": journal_no,
        "line_no": line_no,
        "account_code": account,
        "posting_date": day,
        "period": f"{day:%Y-%m}",
        "debit": debit,
        "credit": credit,
        "cost_center": branch,
        "source_module": module,
        "source_ref": None,
        "description_zh": "日結分錄",
        "posted_by": None,
        "created_at": at,
        "updated_at": at,
    }


def balances(world: World, lines: list[Row], end: date) -> list[Row]:
    """account_balance rows from the ledger lines: one per account, period and cost centre."""
    sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in lines:
        key = (line["account_code"], line["period"], line["cost_center"])
        sums[key][0] += line["debit"]
        sums[key][1] += line["credit"]
    rows: list[Row] = []
    closing: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    current = f"{end:%Y-%m}"
    for (account, period, branch), (debit, credit) in sorted(sums.items(), key=lambda kv: (kv[0][1], kv[0])):
        opening = closing[(account, branch)]
        closing[(account, branch)] = opening + debit - credit
        budget = ((debit + credit) * Decimal(world.rng.uniform(0.9, 1.1))).quantize(Decimal(1000))
        rows.append(
            {
                "balance_id": world.ids.next("w600.account_balance"),
                "account_code": account,
                "period": period,
                "cost_center": branch,
                "opening_balance": opening,
                "period_debit": debit,
                "period_credit": credit,
                "closing_balance": opening + debit - credit,
                "budget_amount": budget,
                "is_closed": period < current,
            }
        )
    return rows
