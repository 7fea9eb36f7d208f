"""The imported result: typed statements and transactions, and their JSON form.

Amounts are signed `Decimal`s (credit +, debit -) in the statement currency; TWD files carry whole
dollars ("1000,"), which stay exact. `statements_to_dicts` gives JSON-serialisable dicts (amounts as
strings with two decimals so no consumer rounds them through a float); `statements_to_json` encodes
them with orjson. The streaming work publishes these dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class StatementBalance:
    """A :60F: / :62F: balance: its date, currency and signed amount (a D mark makes it negative)."""

    on: date
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class StatementNumber:
    """The :28C: statement number and optional sequence number, e.g. "00012/001" -> (12, 1)."""

    number: int
    sequence: int | None = None

    def __str__(self) -> str:
        return f"{self.number}" if self.sequence is None else f"{self.number}/{self.sequence}"


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One :61: statement line with its :86: details.

    `customer_reference` is the :61: "reference for the account owner" (the payer's reference or virtual
    account, as Taiwanese banks fill it); `bank_reference` is the part after "//". `line` is the 1-based
    position in its statement, so (account, statement number, line) identifies it.
    """

    account: str
    statement_number: StatementNumber
    line: int
    value_date: date
    entry_date: date | None
    mark: str  # C, D, RC (reversal of credit) or RD (reversal of debit)
    amount: Decimal  # signed: C/RD positive, D/RC negative
    currency: str
    type_code: str | None  # e.g. NTRF, NCHG, NMSC
    customer_reference: str
    bank_reference: str | None
    details: str  # :86: text (Traditional Chinese allowed), "" when absent

    @property
    def booking_date(self) -> date:
        """The day the bank booked the line: the entry date, or the value date when none is given."""
        return self.entry_date or self.value_date


@dataclass(frozen=True, slots=True)
class ImportedStatement:
    """One validated MT940 statement of an accepted file."""

    reference: str  # :20:
    account: str  # :25:
    number: StatementNumber  # :28C:
    opening: StatementBalance  # :60F:
    closing: StatementBalance  # :62F:
    transactions: tuple[BankTransaction, ...]
    source_file: str
    file_sha256: str
    encoding: str  # "utf-8" or "big5"
    information: str = ""  # statement-level :86: text (after the closing balance), if any

    @property
    def currency(self) -> str:
        return self.opening.currency


@dataclass(frozen=True, slots=True)
class ImportedFile:
    """An accepted statement file: every statement in it passed validation and none was seen before."""

    file_name: str
    sha256: str
    encoding: str
    statements: tuple[ImportedStatement, ...]

    @property
    def transaction_count(self) -> int:
        return sum(len(s.transactions) for s in self.statements)


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _balance_to_dict(balance: StatementBalance) -> dict[str, Any]:
    return {"date": balance.on.isoformat(), "currency": balance.currency, "amount": _money(balance.amount)}


def transaction_to_dict(tx: BankTransaction) -> dict[str, Any]:
    """A transaction as plain JSON types (dates ISO, amount a 2-decimal string)."""
    return {
        "account": tx.account,
        "statement_number": tx.statement_number.number,
        "statement_sequence": tx.statement_number.sequence,
        "line": tx.line,
        "value_date": tx.value_date.isoformat(),
        "entry_date": tx.entry_date.isoformat() if tx.entry_date else None,
        "mark": tx.mark,
        "amount": _money(tx.amount),
        "currency": tx.currency,
        "type_code": tx.type_code,
        "customer_reference": tx.customer_reference,
        "bank_reference": tx.bank_reference,
        "details": tx.details,
    }


def statement_to_dict(statement: ImportedStatement) -> dict[str, Any]:
    """A statement as plain JSON types, transactions included."""
    return {
        "reference": statement.reference,
        "account": statement.account,
        "number": statement.number.number,
        "sequence": statement.number.sequence,
        "opening": _balance_to_dict(statement.opening),
        "closing": _balance_to_dict(statement.closing),
        "transactions": [transaction_to_dict(tx) for tx in statement.transactions],
        "source_file": statement.source_file,
        "file_sha256": statement.file_sha256,
        "encoding": statement.encoding,
        "information": statement.information,
    }


def statements_to_dicts(statements: Sequence[ImportedStatement]) -> list[dict[str, Any]]:
    """JSON-serialisable dicts for the given statements, in order."""
    return [statement_to_dict(s) for s in statements]


def statements_to_json(statements: Sequence[ImportedStatement]) -> bytes:
    """The statements as one UTF-8 JSON array (Chinese text kept as characters, not escapes)."""
    return orjson.dumps(statements_to_dicts(statements))
