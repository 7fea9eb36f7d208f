"""The imported result: typed statements and transactions, and their JSON form.

Amounts are signed `Decimal`s (credit +, debit -) in the statement currency, exactly as the field wrote
them ("1000," is `Decimal("1000")`, "2500,50" is `Decimal("2500.50")`); no float ever touches them.

JSON (orjson, Chinese kept as characters):
- `statement_to_dict` / `statements_to_dicts` / `statements_to_json`: plain JSON types; amounts are strings
  with the currency's ISO 4217 decimals (TWD "1000.00", JPY "1000", KWD "12.345"), never fewer than the
  amount itself carries, so no decimal is ever lost and no consumer rounds through a float.
- `imported_file_to_json` / `imported_file_from_json`: a whole accepted file, warnings included; the second
  rebuilds exactly what the first was given (`imported_file_from_json(imported_file_to_json(f)) == f`).
  The importer publishes accepted files with the first; consumers rebuild them with the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from connectors.bank.currency import UnknownCurrency, minor_units
from connectors.bank.errors import ImportWarning


@dataclass(frozen=True, slots=True)
class StatementBalance:
    """A :60F:/:60M:/:62F:/:62M:/:64:/:65: balance: its date, currency and signed amount (D is negative)."""

    on: date
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class StatementNumber:
    """The :28C: (or :28:) statement number and optional sequence number, e.g. "00012/001" -> (12, 1)."""

    number: int
    sequence: int | None = None

    def __str__(self) -> str:
        return f"{self.number}" if self.sequence is None else f"{self.number}/{self.sequence}"


@dataclass(frozen=True, slots=True)
class BankTransaction:
    """One :61: statement line with its :86: details.

    `customer_reference` is the :61: "reference for the account owner" (the payer's reference or virtual
    account, as Taiwanese banks fill it); `bank_reference` is the part after "//". `line` is the 1-based
    position in its (logical, possibly multi-page) statement, so (account, statement number, line)
    identifies it. `funds_code` is the optional letter after the mark, `supplementary` the optional second
    :61: line (34x). `details` is the :86: text as sent (lines joined with "\\n"); `detail_fields` its
    structured sub-fields in order of appearance (see `connectors.bank.details`), () for free text.
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
    funds_code: str | None = None
    supplementary: str | None = None
    detail_fields: tuple[tuple[str, str], ...] = ()

    @property
    def booking_date(self) -> date:
        """The day the bank booked the line: the entry date, or the value date when none is given."""
        return self.entry_date or self.value_date

    def detail_field(self, key: str) -> str | None:
        """The first value of a structured :86: sub-field ("EREF", "?20", "GVC" ...), None when absent."""
        for name, value in self.detail_fields:
            if name == key:
                return value
        return None


@dataclass(frozen=True, slots=True)
class ImportedStatement:
    """One validated logical MT940 statement of an accepted file (one message, or several pages).

    A statement split over `pages` messages (:60M:/:62M: intermediate balances) is one statement: opening is
    the first page's :60F:, closing the last page's :62F:, transactions those of all pages in order.
    """

    reference: str  # :20: (of the first page)
    account: str  # :25:
    number: StatementNumber  # :28C: or :28: (of the first page)
    opening: StatementBalance  # :60F:
    closing: StatementBalance  # :62F:
    transactions: tuple[BankTransaction, ...]
    source_file: str
    file_sha256: str
    encoding: str  # "utf-8" or "big5"
    information: str = ""  # statement-level :86: text (after the closing balance), if any
    pages: int = 1
    available: StatementBalance | None = None  # :64: of the last page
    forward_available: tuple[StatementBalance, ...] = ()  # :65: lines, in order

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
    warnings: tuple[ImportWarning, ...] = ()

    @property
    def transaction_count(self) -> int:
        return sum(len(s.transactions) for s in self.statements)


def money_text(amount: Decimal, currency: str) -> str:
    """`amount` with the currency's ISO decimals, or more when the amount itself has more (never rounds)."""
    exponent = amount.as_tuple().exponent
    own = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    try:
        places = max(minor_units(currency), own)
    except UnknownCurrency:
        places = own
    return f"{amount:.{places}f}"


def _balance_to_dict(balance: StatementBalance) -> dict[str, Any]:
    return {"date": balance.on.isoformat(), "currency": balance.currency,
            "amount": money_text(balance.amount, balance.currency)}


def _balance_from_dict(data: dict[str, Any]) -> StatementBalance:
    return StatementBalance(date.fromisoformat(data["date"]), data["currency"], Decimal(data["amount"]))


def transaction_to_dict(tx: BankTransaction) -> dict[str, Any]:
    """A transaction as plain JSON types (dates ISO, amount a string with the currency's decimals)."""
    return {
        "account": tx.account,
        "statement_number": tx.statement_number.number,
        "statement_sequence": tx.statement_number.sequence,
        "line": tx.line,
        "value_date": tx.value_date.isoformat(),
        "entry_date": tx.entry_date.isoformat() if tx.entry_date else None,
        "mark": tx.mark,
        "amount": money_text(tx.amount, tx.currency),
        "currency": tx.currency,
        "type_code": tx.type_code,
        "customer_reference": tx.customer_reference,
        "bank_reference": tx.bank_reference,
        "details": tx.details,
        "funds_code": tx.funds_code,
        "supplementary": tx.supplementary,
        "detail_fields": [[key, value] for key, value in tx.detail_fields],
    }


def transaction_from_dict(data: dict[str, Any]) -> BankTransaction:
    """The inverse of `transaction_to_dict`."""
    entry = data["entry_date"]
    return BankTransaction(
        account=data["account"],
        statement_number=StatementNumber(data["statement_number"], data["statement_sequence"]),
        line=data["line"],
        value_date=date.fromisoformat(data["value_date"]),
        entry_date=date.fromisoformat(entry) if entry is not None else None,
        mark=data["mark"],
        amount=Decimal(data["amount"]),
        currency=data["currency"],
        type_code=data["type_code"],
        customer_reference=data["customer_reference"],
        bank_reference=data["bank_reference"],
        details=data["details"],
        funds_code=data["funds_code"],
        supplementary=data["supplementary"],
        detail_fields=tuple((key, value) for key, value in data["detail_fields"]),
    )


def statement_to_dict(statement: ImportedStatement) -> dict[str, Any]:
    """A statement as plain JSON types, transactions included."""
    available = statement.available
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
        "pages": statement.pages,
        "available": _balance_to_dict(available) if available is not None else None,
        "forward_available": [_balance_to_dict(b) for b in statement.forward_available],
    }


def statement_from_dict(data: dict[str, Any]) -> ImportedStatement:
    """The inverse of `statement_to_dict`."""
    available = data["available"]
    return ImportedStatement(
        reference=data["reference"],
        account=data["account"],
        number=StatementNumber(data["number"], data["sequence"]),
        opening=_balance_from_dict(data["opening"]),
        closing=_balance_from_dict(data["closing"]),
        transactions=tuple(transaction_from_dict(tx) for tx in data["transactions"]),
        source_file=data["source_file"],
        file_sha256=data["file_sha256"],
        encoding=data["encoding"],
        information=data["information"],
        pages=data["pages"],
        available=_balance_from_dict(available) if available is not None else None,
        forward_available=tuple(_balance_from_dict(b) for b in data["forward_available"]),
    )


def statements_to_dicts(statements: Sequence[ImportedStatement]) -> list[dict[str, Any]]:
    """JSON-serialisable dicts for the given statements, in order."""
    return [statement_to_dict(s) for s in statements]


def statements_to_json(statements: Sequence[ImportedStatement]) -> bytes:
    """The statements as one UTF-8 JSON array (Chinese text kept as characters, not escapes)."""
    return orjson.dumps(statements_to_dicts(statements))


def imported_file_to_dict(imported: ImportedFile) -> dict[str, Any]:
    """A whole accepted file (statements and warnings) as plain JSON types."""
    return {
        "file_name": imported.file_name,
        "sha256": imported.sha256,
        "encoding": imported.encoding,
        "statements": statements_to_dicts(imported.statements),
        "warnings": [{"statement": w.statement, "code": w.code, "detail": w.detail} for w in imported.warnings],
    }


def imported_file_to_json(imported: ImportedFile) -> bytes:
    """A whole accepted file as UTF-8 JSON; `imported_file_from_json` rebuilds an equal `ImportedFile`."""
    return orjson.dumps(imported_file_to_dict(imported))


def imported_file_from_json(data: bytes) -> ImportedFile:
    """The `ImportedFile` that `imported_file_to_json` encoded (equal to it, field by field).

    Raises `orjson.JSONDecodeError`, `KeyError`, `TypeError` or `ValueError` on JSON of another shape.
    """
    decoded = orjson.loads(data)
    return ImportedFile(
        file_name=decoded["file_name"],
        sha256=decoded["sha256"],
        encoding=decoded["encoding"],
        statements=tuple(statement_from_dict(s) for s in decoded["statements"]),
        warnings=tuple(ImportWarning(w["statement"], w["code"], w["detail"]) for w in decoded["warnings"]),
    )
