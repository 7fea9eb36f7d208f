"""The general ledger: which journals the business produces, and their rows.

A day's business is booked by the day close (日結), per branch (= cost centre), from that day's totals:
sales (AR / revenue / output tax), deposits, cost of sales, stock purchases and count adjustments,
receipts and reversed receipts, and the cash taken to the bank. Fuel is booked per completed dispatch
run, fixed costs at each month end, other expenses when they occur. The same journal shapes serve the
backfill (totals kept in memory) and live mode (totals summed in SQL), so the ledger always ties to the
sub-ledgers: for every closed day, AR = unpaid invoice amounts, output tax = invoice tax, revenue =
invoice sales, inventory = stock on hand at standard cost.

Invariants: every journal balances (debits = credits per journal_no); every line has exactly one of
debit and credit non-zero; account_balance holds each (account, period, cost centre)'s debits and
credits with closing = opening + debits - credits and opening = the previous period's closing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from infra.simulator.orders import taipei
from infra.simulator.world import Row, World

ZERO = Decimal("0.00")
FUEL_PER_KM = Decimal("6.5")  # TWD of diesel per kilometre driven
REVENUE_ACCOUNT = {
    "gas_refill": "4101",
    "new_cylinder": "4102",
    "appliance": "4102",
    "accessory": "4102",
    "cylinder_deposit": "4102",
    "service": "4111",
}
INVENTORY_ACCOUNT = {"gas": "1231", "goods": "1232"}
COGS_ACCOUNT = {"gas": "5101", "goods": "5102"}
MONTHLY_COSTS = (
    ("6101", "2171", 380_000, "本月薪資"),
    ("6102", "1113", 85_000, "本月租金"),
    ("6105", "1113", 18_000, "本月水電"),
    ("6106", "1113", 9_000, "本月保險"),
    ("6107", "1559", 24_000, "本月折舊"),
)
# Keys of a day's totals per branch (all TWD):
TOTAL_KEYS = (
    "4101",
    "4102",
    "4111",  # revenue by account (invoice line amounts)
    "tax",
    "ar",  # invoice tax and invoice totals
    "deposits",  # cylinder deposits collected (a liability, not revenue)
    "cogs_gas",
    "cogs_goods",  # standard cost of what was delivered
    "purchase_gas",
    "purchase_goods",  # standard cost of what the supplier brought
    "adjust_gas",
    "adjust_goods",  # count differences at standard cost (negative: shrinkage)
    "cash_in",
    "bank_in",  # receipts (card and cheque count as bank)
    "bank_reversed",  # receipts reversed (mis-assigned transfers)
)

Line = tuple[str, Decimal, Decimal, str]  # account, debit, credit, cost centre


@dataclass(frozen=True)
class Journal:
    day: date
    module: str  # W200 … W700
    lines: list[Line]
    description_zh: str
    source_ref: str | None

    @property
    def balanced(self) -> bool:
        return sum(d for _, d, _, _ in self.lines) == sum(c for _, _, c, _ in self.lines)


def dr(account: str, amount: Decimal, branch: str) -> Line:
    """A debit line (a negative amount becomes a credit, so signed totals book the right way round)."""
    return (account, amount, ZERO, branch) if amount >= 0 else (account, ZERO, -amount, branch)


def cr(account: str, amount: Decimal, branch: str) -> Line:
    return (account, ZERO, amount, branch) if amount >= 0 else (account, -amount, ZERO, branch)


def day_ref(day: date) -> str:
    """source_ref of the day close's journals: the mark by which live mode finds the last closed day."""
    return f"DAY-{day:%Y-%m-%d}"


def day_journals(day: date, branch: str, t: dict[str, Decimal], fuel_km: dict[str, Decimal]) -> list[Journal]:
    """The day close of one branch from its totals (missing keys count as zero) and the kilometres each of
    its vehicles drove on runs that ended that day (fuel is paid by card, one charge per vehicle a day)."""
    g = defaultdict(lambda: ZERO, t)
    ref = day_ref(day)
    out: list[Journal] = []

    def add(module: str, text: str, *lines: Line) -> None:
        kept = [line for line in lines if line[1] or line[2]]
        if kept:
            out.append(Journal(day, module, kept, text, ref))

    add(
        "W500",
        "銷貨日結",
        dr("1191", g["ar"], branch),
        *(cr(a, g[a], branch) for a in ("4101", "4102", "4111")),
        cr("2194", g["tax"], branch),
    )
    add("W200", "鋼瓶押金收取", dr("1101", g["deposits"], branch), cr("2201", g["deposits"], branch))
    for cls in ("gas", "goods"):
        add(
            "W300",
            "銷貨成本",
            dr(COGS_ACCOUNT[cls], g[f"cogs_{cls}"], branch),
            cr(INVENTORY_ACCOUNT[cls], g[f"cogs_{cls}"], branch),
        )
        add(
            "W300",
            "進貨",
            dr(INVENTORY_ACCOUNT[cls], g[f"purchase_{cls}"], branch),
            cr("2101", g[f"purchase_{cls}"], branch),
        )
        add(
            "W300",
            "盤點調整",
            dr(INVENTORY_ACCOUNT[cls], g[f"adjust_{cls}"], branch),
            cr("6108", g[f"adjust_{cls}"], branch),
        )
    received = g["cash_in"] + g["bank_in"]
    add(
        "W500",
        "收款日結",
        dr("1101", g["cash_in"], branch),
        dr("1113", g["bank_in"], branch),
        cr("1191", received, branch),
    )
    add("W500", "沖銷收款", dr("1191", g["bank_reversed"], branch), cr("1113", g["bank_reversed"], branch))
    add("W600", "現金存入銀行", dr("1113", g["cash_in"], branch), cr("1101", g["cash_in"], branch))
    for plate, km in sorted(fuel_km.items()):
        fuel = (km * FUEL_PER_KM).quantize(Decimal("0.01"))
        add("W700", f"配送燃料費 {plate}", dr("6103", fuel, branch), cr("1113", fuel, branch))
    return out


def month_end_journals(day: date, branch: str) -> list[Journal]:
    """Salaries, rent, utilities, insurance and depreciation of the month, on its last day."""
    return [
        Journal(
            day,
            "W600",
            [(debit, Decimal(v), ZERO, branch), (credit, ZERO, Decimal(v), branch)],
            text,
            f"MONTH-{day:%Y-%m}",
        )
        for debit, credit, v, text in MONTHLY_COSTS
    ]


def is_month_end(day: date) -> bool:
    return (day + timedelta(days=1)).day == 1


def opening_journal(day: date, branch: str, value: dict[str, Decimal]) -> Journal:
    """Opening stock at standard cost, against share capital."""
    cent = Decimal("0.01")
    lines: list[Line] = [(INVENTORY_ACCOUNT[c], v.quantize(cent), ZERO, branch) for c, v in value.items() if v]
    total = sum((d for _, d, _, _ in lines), ZERO)
    return Journal(day, "W300", [*lines, ("3101", ZERO, total, branch)], "期初存貨", "OPENING")


def journal_rows(world: World, journal: Journal, at: datetime, posted_by: int | None) -> list[Row]:
    """gl_transaction rows; the journal number carries the day and the first line's id (unique)."""
    if not journal.balanced:
        raise ValueError(f"unbalanced journal {journal}")
    rows: list[Row] = []
    for line_no, (account, debit, credit, branch) in enumerate(journal.lines, start=1):
        txn_id = world.ids.next("w600.gl_transaction")
        number = rows[0]["journal_no"] if rows else f"J{journal.day:%Y%m%d}-{txn_id:08d}"
        rows.append(
            {
                "txn_id": txn_id,
                "journal_no": number,
                "line_no": line_no,
                "account_code": account,
                "posting_date": journal.day,
                "period": f"{journal.day:%Y-%m}",
                "debit": debit,
                "credit": credit,
                "cost_center": branch,
                "source_module": journal.module,
                "source_ref": journal.source_ref,
                "description_zh": journal.description_zh,
                "posted_by": posted_by,
                "created_at": at,
                "updated_at": at,
            }
        )
    return rows


class Ledger:
    """The backfill's books: day totals in memory, journal rows out, period sums for account_balance."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.totals: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        self.fuel: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        self.sums: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        self.rows: list[Row] = []

    def add(self, day: date, branch: str, key: str, amount: Decimal) -> None:
        self.totals[(day, branch)][key] += amount

    def drove(self, day: date, branch: str, plate: str, km: Decimal) -> None:
        self.fuel[(day, branch)][plate] += km

    def post(self, journal: Journal, at: datetime) -> None:
        branch = journal.lines[0][3]
        accountants = self.world.ref.staff(branch, "accountant")
        for row in journal_rows(self.world, journal, at, accountants[0] if accountants else None):
            self.rows.append(row)
            key = (row["account_code"], row["period"], row["cost_center"])
            self.sums[key][0] += row["debit"]
            self.sums[key][1] += row["credit"]

    def close_day(self, day: date, branches: list[str]) -> None:
        """Post the day close of every branch (and the month-end costs on the last day of a month)."""
        at = taipei(day, 22)
        for branch in branches:
            totals = self.totals.pop((day, branch), None)
            fuel = self.fuel.pop((day, branch)) if (day, branch) in self.fuel else {}
            for journal in day_journals(day, branch, totals or {}, fuel):
                self.post(journal, at)
            if is_month_end(day):
                for journal in month_end_journals(day, branch):
                    self.post(journal, at)

    def drain(self) -> list[Row]:
        rows, self.rows = self.rows, []
        return rows

    def balance_rows(self, end: date) -> list[Row]:
        """account_balance rows of a fresh history: openings chained from zero, earlier periods closed."""
        rows: list[Row] = []
        closing: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        current = f"{end:%Y-%m}"
        for (account, period, branch), (debit, credit) in sorted(self.sums.items(), key=lambda kv: (kv[0][1], kv[0])):
            opening = closing[(account, branch)]
            closing[(account, branch)] = opening + debit - credit
            rows.append(balance_row(self.world, account, period, branch, opening, debit, credit, period < current))
        return rows


def balance_row(
    world: World,
    account: str,
    period: str,
    branch: str,
    opening: Decimal,
    debit: Decimal,
    credit: Decimal,
    closed: bool,
) -> dict[str, Any]:
    budget = ((debit + credit) * Decimal(str(round(world.rng.uniform(0.9, 1.1), 3)))).quantize(Decimal(1000))
    return {
        "balance_id": world.ids.next("w600.account_balance"),
        "account_code": account,
        "period": period,
        "cost_center": branch,
        "opening_balance": opening,
        "period_debit": debit,
        "period_credit": credit,
        "closing_balance": opening + debit - credit,
        "budget_amount": budget,
        "is_closed": closed,
    }
