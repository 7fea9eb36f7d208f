"""Pure functions from the bank import's messages and results to the rows of `sinks.bank_tables`.

Contract: no I/O. `file_rows` turns an accepted `ImportedFile` into the rows of its file, statements and
movements; `exception_rows` a rejection record (the JSON `ExceptionRecord.to_dict` gives) into its row;
`movement_transaction` rebuilds a `BankTransaction` from a `bank_movements` row (the inverse of the movement
part of `file_rows`); `reconciliation_rows` a `Reconciliation` into one run row and its item rows.
Rows carry exactly the columns their table defines (the sink checks).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from connectors.bank.book_payments import BookPayment
from connectors.bank.reconcile import Reconciliation
from connectors.bank.statement import BankTransaction, ImportedFile, ImportedStatement, StatementNumber
from sinks.base import Row

_LANDED = {"_version": 1, "_deleted": 0}


def _statement_key(statement: ImportedStatement) -> dict[str, Any]:
    return {"account": statement.account, "currency": statement.currency, "statement_number": statement.number.number,
            "opening_date": statement.opening.on, "opening_amount": statement.opening.amount}


def _statement_row(statement: ImportedStatement) -> Row:
    amounts = [tx.amount for tx in statement.transactions]
    available = statement.available
    return {
        **_statement_key(statement), "statement_sequence": statement.number.sequence,
        "reference": statement.reference, "pages": statement.pages,
        "closing_date": statement.closing.on, "closing_amount": statement.closing.amount,
        "available_date": available.on if available else None,
        "available_amount": available.amount if available else None,
        "forward_available": [(b.on, b.amount) for b in statement.forward_available],
        "movements": len(amounts), "credits": sum((a for a in amounts if a > 0), Decimal(0)),
        "debits": -sum((a for a in amounts if a < 0), Decimal(0)), "information": statement.information,
        "file_sha256": statement.file_sha256, "file_name": statement.source_file, **_LANDED,
    }


def _movement_row(statement: ImportedStatement, tx: BankTransaction) -> Row:
    return {
        **_statement_key(statement), "line": tx.line, "statement_sequence": tx.statement_number.sequence,
        "value_date": tx.value_date, "entry_date": tx.entry_date, "booking_date": tx.booking_date,
        "mark": tx.mark, "amount": tx.amount, "funds_code": tx.funds_code, "type_code": tx.type_code,
        "customer_reference": tx.customer_reference, "bank_reference": tx.bank_reference,
        "supplementary": tx.supplementary, "details": tx.details, "detail_fields": list(tx.detail_fields),
        "end_to_end_reference": tx.detail_field("EREF"), "file_sha256": statement.file_sha256, **_LANDED,
    }


def file_rows(imported: ImportedFile, landed_at: datetime) -> dict[str, list[Row]]:
    """The rows of one accepted file, its statements and their movements."""
    file_row: Row = {
        "file_sha256": imported.sha256, "file_name": imported.file_name, "encoding": imported.encoding,
        "statements": len(imported.statements), "movements": imported.transaction_count,
        "warnings": len(imported.warnings), "warning_details": [str(w) for w in imported.warnings],
        "landed_at": landed_at, **_LANDED,
    }
    return {
        "bank_statement_files": [file_row],
        "bank_statements": [_statement_row(s) for s in imported.statements],
        "bank_movements": [_movement_row(s, tx) for s in imported.statements for tx in s.transactions],
    }


def exception_rows(record: Mapping[str, Any], landed_at: datetime) -> dict[str, list[Row]]:
    """The row of one rejection; raises KeyError/ValueError on a record that is not one."""
    problems = [f"statement {p['statement']}: {p['code']}: {p['detail']}" for p in record["problems"]]
    row: Row = {
        "recorded_at": datetime.fromisoformat(record["recorded_at"]), "file_name": str(record["file_name"]),
        "file_sha256": str(record["sha256"]), "reason": str(record["reason"]), "problems": problems,
        "local_copy": record.get("local_copy"), "landed_at": landed_at, **_LANDED,
    }
    if row["recorded_at"].tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    return {"bank_import_exceptions": [row]}


def movement_transaction(row: Mapping[str, Any]) -> BankTransaction:
    """The `BankTransaction` a `bank_movements` row was made from."""
    return BankTransaction(
        account=row["account"], statement_number=StatementNumber(int(row["statement_number"]),
                                                                 row["statement_sequence"]),
        line=int(row["line"]), value_date=row["value_date"], entry_date=row["entry_date"], mark=row["mark"],
        amount=Decimal(row["amount"]), currency=row["currency"], type_code=row["type_code"],
        customer_reference=row["customer_reference"], bank_reference=row["bank_reference"], details=row["details"],
        funds_code=row["funds_code"], supplementary=row["supplementary"],
        detail_fields=tuple((str(k), str(v)) for k, v in row["detail_fields"]),
    )


@dataclass(frozen=True, slots=True)
class ReconciliationRun:
    """What one reconciliation covered: statements closing `period_start`..`period_end`, and the book
    payments dated within `window_days` of that period (unmatched ones reported only inside it)."""

    ran_at: datetime
    period_start: date
    period_end: date
    window_days: int
    book_payments: int
    opening_dates: Mapping[tuple[str, int, int], date]  # (account, statement number, line) -> opening date


def _bank_item(status: str, tx: BankTransaction, opening: date | None) -> Row:
    return {"status": status, "account": tx.account, "currency": tx.currency,
            "statement_number": tx.statement_number.number, "opening_date": opening, "line": tx.line,
            "value_date": tx.value_date, "bank_amount": tx.amount}


def _book_item(payment: BookPayment | None) -> Row:
    return {"payment_id": payment.payment_id if payment else None,
            "invoice_id": payment.invoice_id if payment else None,
            "customer_id": payment.customer_id if payment else None,
            "payment_date": payment.payment_date if payment else None,
            "book_amount": payment.amount if payment else None}


_NO_BANK: Row = {"account": None, "statement_number": None, "opening_date": None, "line": None,
                 "value_date": None, "bank_amount": None}
_NO_LINK: Row = {"difference": None, "linked_by": None, "day_difference": None}


def _items(result: Reconciliation, run: ReconciliationRun) -> list[Row]:
    def opening(tx: BankTransaction) -> date | None:
        return run.opening_dates.get((tx.account, tx.statement_number.number, tx.line))

    items: list[Row] = []
    for m in result.matched:
        items.append({**_bank_item("matched", m.bank, opening(m.bank)), **_book_item(m.book),
                      "difference": Decimal(0), "linked_by": m.linked_by, "day_difference": m.day_difference})
    for a in result.mismatched_amount:
        items.append({**_bank_item("amount_mismatch", a.bank, opening(a.bank)), **_book_item(a.book),
                      "difference": a.difference, "linked_by": a.linked_by, "day_difference": a.day_difference})
    for status, txs in (("unmatched_bank", result.unmatched_bank), ("other_currency", result.other_currency)):
        items += [{**_bank_item(status, tx, opening(tx)), **_book_item(None), **_NO_LINK} for tx in txs]
    for payment in result.unmatched_book:
        if run.period_start <= payment.payment_date <= run.period_end:
            items.append({"status": "unmatched_book", "currency": "TWD", **_NO_BANK, **_book_item(payment),
                          **_NO_LINK})
    return items


def result_digest(items: Sequence[Row]) -> str:
    """A fingerprint of a reconciliation's items (order-independent): equal results, equal digests."""
    lines = sorted(orjson.dumps(item, default=str, option=orjson.OPT_SORT_KEYS) for item in items)
    return hashlib.sha256(b"\n".join(lines)).hexdigest()


def reconciliation_rows(result: Reconciliation, run: ReconciliationRun) -> tuple[str, dict[str, list[Row]]]:
    """(digest, rows) of one reconciliation run; the run id is the run's UTC time plus the digest."""
    items = _items(result, run)
    digest = result_digest(items)
    run_id = f"{run.ran_at:%Y%m%dT%H%M%S%f}-{digest[:12]}"
    counts = {s: sum(1 for i in items if i["status"] == s)
              for s in ("matched", "amount_mismatch", "unmatched_bank", "unmatched_book", "other_currency")}
    run_row: Row = {
        "run_id": run_id, "ran_at": run.ran_at, "period_start": run.period_start, "period_end": run.period_end,
        "window_days": run.window_days, "bank_movements": len(result.matched) + len(result.mismatched_amount)
        + len(result.unmatched_bank) + len(result.other_currency), "book_payments": run.book_payments, **counts,
        "matched_amount": sum((m.bank.amount for m in result.matched), Decimal(0)),
    }
    item_rows = [{"run_id": run_id, "ran_at": run.ran_at, **item} for item in items]
    return digest, {"bank_reconciliation_runs": [run_row], "bank_reconciliation_items": item_rows}
