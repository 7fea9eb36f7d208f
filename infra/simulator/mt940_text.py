"""The bank's MT940 statements for the simulator's payments: plain rows in, statement text out (pure).

`plan_day` decides what the bank booked on one day (see `infra.simulator.statements` for the rules) and
`render_file` writes the statements as SWIFT MT940 text; `read_closings` reads the closing balances back
from such a text, so a later run continues the balance chain. Every random choice comes from a
`random.Random` seeded by (seed, payment id) or (seed, day), so a payment's fate and a day's extras do not
depend on which other days are written in the same run.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from infra.simulator.identity import person_name

TWD_ACCOUNT = "0081234567890"  # the collection account payments arrive on
USD_ACCOUNT = "0087000111222"  # pays the cylinder importers
OPENING_BALANCES: Mapping[str, Decimal] = {TWD_ACCOUNT: Decimal("5000000.00"), USD_ACCOUNT: Decimal("25000.00")}
CURRENCY = {TWD_ACCOUNT: "TWD", USD_ACCOUNT: "USD"}
REFERENCE_SUFFIX = {TWD_ACCOUNT: "A", USD_ACCOUNT: "U"}
BANK_METHODS = ("bank_transfer", "virtual_account", "check")
DAILY_FEE = Decimal("120.00")
USD_LOW_WATER = Decimal("5000.00")  # below this after the day's payments, the account is topped up
USD_TOP_UP = Decimal("20000.00")
MAX_DETAIL_LINES, MAX_DETAIL_CHARS = 6, 65  # :86: is 6*65x
Fate = Literal["booked", "omitted", "shifted", "difference"]


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """A bank payment of the book (w500.payment_record) with the payer's name (w100.customer_master)."""

    payment_id: int
    payment_date: date
    amount: Decimal
    method: str  # bank_transfer, virtual_account or check
    bank_reference: str | None
    virtual_account: str | None
    customer_name: str


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One :61: line (amount positive, `mark` C or D) with its :86: lines; `kind` says where it came from."""

    value_date: date
    entry_date: date
    mark: Literal["C", "D"]
    amount: Decimal
    type_code: str
    customer_reference: str
    bank_reference: str | None
    details: tuple[str, ...]
    kind: str  # booked / shifted / difference (book payments), unknown, fee, supplier, top_up
    payment_id: int | None = None

    @property
    def signed(self) -> Decimal:
        return self.amount if self.mark == "C" else -self.amount


@dataclass(frozen=True, slots=True)
class Statement:
    """One account's statement of one day: opens on the previous day, closes on `day`."""

    account: str
    day: date
    opening: Decimal
    lines: tuple[StatementLine, ...]

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((line.signed for line in self.lines), Decimal(0))


@dataclass
class DayPlan:
    """The statements of one day's file, and how the book's payments fared."""

    day: date
    statements: list[Statement]
    fates: Counter[str] = field(default_factory=Counter)  # booked / omitted / shifted / difference / unknown


def payment_fate(payment: PaymentRow, seed: int) -> tuple[Fate, random.Random]:
    """~3% omitted (book only), ~10% value-dated the next day, ~3% short by a bank charge, else booked;
    and the payment's own random source for its other details."""
    rng = random.Random(f"{seed}:payment:{payment.payment_id}")
    roll = rng.random()
    if roll < 0.03:
        return "omitted", rng
    if roll < 0.13:
        return "shifted", rng
    if roll < 0.16 and payment.amount > 30:
        return "difference", rng
    return "booked", rng


def wrap_details(*parts: str) -> tuple[str, ...]:
    """:86: lines: each part starts a line and is cut into lines of at most 65 characters; at most 6 lines."""
    lines = [part[i:i + MAX_DETAIL_CHARS] for part in parts if part for i in range(0, len(part), MAX_DETAIL_CHARS)]
    if len(lines) > MAX_DETAIL_LINES:
        raise ValueError(f"details need {len(lines)} lines, :86: allows {MAX_DETAIL_LINES}")
    return tuple(lines)


def _book_line(payment: PaymentRow, day: date, kind: Fate, rng: random.Random) -> StatementLine:
    amount = payment.amount - rng.choice((Decimal(15), Decimal(30))) if kind == "difference" else payment.amount
    reference = payment.bank_reference if payment.bank_reference and len(payment.bank_reference) <= 16 else None
    name = payment.customer_name
    if payment.method == "virtual_account" and payment.virtual_account:
        eref = f"/EREF/{payment.bank_reference}" if payment.bank_reference else ""
        return StatementLine(day, day, "C", amount, "NTRF", payment.virtual_account, reference,
                             wrap_details(f"虛擬帳號 {payment.virtual_account} {name} 貨款", eref), kind,
                             payment.payment_id)
    if payment.method == "check":
        return StatementLine(day, day, "C", amount, "NCHK", f"CHK{rng.randrange(10**7):07d}", None,
                             wrap_details(f"支票存入 {name}"), kind, payment.payment_id)
    remittance = f"/EREF/{payment.bank_reference}/REMI/貨款 {name}" if payment.bank_reference else f"/REMI/貨款 {name}"
    return StatementLine(day, day, "C", amount, "NTRF", "NONREF", reference, wrap_details(remittance), kind,
                         payment.payment_id)


def _unknown_deposit(day: date, rng: random.Random) -> StatementLine:
    # Below 95*10**12, so never our prefix 9501: no customer of the book has this virtual account.
    account = f"{rng.randrange(10**13, 95 * 10**12):014d}"
    amount = Decimal(rng.randrange(300, 20_000)).quantize(Decimal("0.01"))
    return StatementLine(day, day, "C", amount, "NTRF", "NONREF", None,
                         wrap_details(f"虛擬帳號 {account} {person_name(rng)} 轉入"), "unknown")


def _twd_lines(day: date, payments: Sequence[PaymentRow], seed: int, plan: DayPlan) -> list[StatementLine]:
    rng = random.Random(f"{seed}:day:{day.isoformat()}:TWD")
    lines: list[StatementLine] = []
    todays = 0
    for payment in sorted(payments, key=lambda p: (p.payment_date, p.payment_id)):
        fate, own = payment_fate(payment, seed)
        if payment.payment_date == day - timedelta(days=1) and fate == "shifted":
            lines.append(_book_line(payment, day, fate, own))
        elif payment.payment_date == day:
            todays += 1
            plan.fates[fate] += 1
            if fate in ("booked", "difference"):
                lines.append(_book_line(payment, day, fate, own))
    for _ in range(sum(rng.random() < 0.02 for _ in range(todays))):
        lines.insert(rng.randint(0, len(lines)), _unknown_deposit(day, rng))
        plan.fates["unknown"] += 1
    lines.append(StatementLine(day, day, "D", DAILY_FEE, "NCHG", "NONREF", None, wrap_details("跨行匯款手續費"), "fee"))
    return lines


def _usd_lines(day: date, opening: Decimal, seed: int) -> list[StatementLine]:
    rng = random.Random(f"{seed}:day:{day.isoformat()}:USD")
    lines = [
        StatementLine(day, day, "D", Decimal(rng.randrange(30_000, 250_000)) / 100, "NTRF",
                      f"IMP{rng.randrange(10**8):08d}", None, wrap_details("進口鋼瓶貨款"), "supplier")
        for _ in range(rng.choice((0, 1, 1, 2)))
    ]
    if opening + sum((line.signed for line in lines), Decimal(0)) < USD_LOW_WATER:
        lines.append(StatementLine(day, day, "C", USD_TOP_UP, "NTRF", f"FX{rng.randrange(10**8):08d}", None,
                                   wrap_details("購匯轉入 外幣備付金"), "top_up"))
    return lines


def plan_day(day: date, payments: Sequence[PaymentRow], openings: Mapping[str, Decimal], seed: int) -> DayPlan:
    """The statements of `day`: `payments` are the book's bank payments of `day` and the day before (other
    rows are ignored); `openings` the accounts' balances at the end of the day before. An account without
    a movement that day gets no statement (our importer requires at least one :61: line)."""
    plan = DayPlan(day, [])
    relevant = [p for p in payments if p.method in BANK_METHODS and day - timedelta(days=1) <= p.payment_date <= day]
    twd = _twd_lines(day, relevant, seed, plan)
    plan.statements.append(Statement(TWD_ACCOUNT, day, openings[TWD_ACCOUNT], tuple(twd)))
    usd = _usd_lines(day, openings[USD_ACCOUNT], seed)
    if usd:
        plan.statements.append(Statement(USD_ACCOUNT, day, openings[USD_ACCOUNT], tuple(usd)))
    return plan


def swift_amount(value: Decimal) -> str:
    """An unsigned SWIFT amount with a decimal comma: 1234 -> "1234,", 1234.5 -> "1234,50"."""
    text = f"{abs(value):.2f}".replace(".", ",")
    return text.removesuffix("00") if text.endswith(",00") else text


def _balance(tag: str, on: date, currency: str, amount: Decimal) -> str:
    return f":{tag}:{'D' if amount < 0 else 'C'}{on:%y%m%d}{currency}{swift_amount(amount)}"


def render_statement(statement: Statement) -> list[str]:
    """The lines of one statement (:20: to the "-" end line), per the SWIFT MT940 field formats."""
    currency, day = CURRENCY[statement.account], statement.day
    out = [
        f":20:LGB{day:%y%m%d}{REFERENCE_SUFFIX[statement.account]}",
        f":25:{statement.account}",
        f":28C:{day.timetuple().tm_yday:05d}/00001",
        _balance("60F", day - timedelta(days=1), currency, statement.opening),
    ]
    for line in statement.lines:
        bank = f"//{line.bank_reference}" if line.bank_reference else ""
        out.append(f":61:{line.value_date:%y%m%d}{line.entry_date:%m%d}{line.mark}{swift_amount(line.amount)}"
                   f"{line.type_code}{line.customer_reference}{bank}")
        if line.details:
            out.append(f":86:{line.details[0]}")
            out.extend(line.details[1:])
    out.append(_balance("62F", day, currency, statement.closing))
    out.append(_balance("64", day, currency, statement.closing))
    out.append("-")
    return out


def render_file(statements: Sequence[Statement]) -> bytes:
    """The statements as one file: UTF-8, CRLF line ends, each statement ended by a "-" line."""
    return "".join(f"{line}\r\n" for s in statements for line in render_statement(s)).encode("utf-8")


_STATEMENT_BALANCE = re.compile(r"^:25:(?P<account>[^\n]+)$.*?^:62F:(?P<mark>[CD])\d{6}[A-Z]{3}(?P<amount>\d+,\d*)",
                                re.MULTILINE | re.DOTALL)


def read_closings(text: str) -> dict[str, Decimal]:
    """Account -> closing balance (:62F:) of each statement in an MT940 text."""
    closings: dict[str, Decimal] = {}
    for match in _STATEMENT_BALANCE.finditer(text.replace("\r\n", "\n")):
        amount = Decimal(match.group("amount").replace(",", ".") or "0")
        closings[match.group("account").strip()] = -amount if match.group("mark") == "D" else amount
    return closings


def plan_days(
    days: Sequence[date], payments: Sequence[PaymentRow], openings: Mapping[str, Decimal], seed: int
) -> list[DayPlan]:
    """Consecutive days' plans, each opening with the previous day's closing balances."""
    balances = dict(openings)
    plans: list[DayPlan] = []
    for day in days:
        plan = plan_day(day, payments, balances, seed)
        balances.update({s.account: s.closing for s in plan.statements})
        plans.append(plan)
    return plans
