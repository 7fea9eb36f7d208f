"""Bank import messages to ClickHouse rows: every row fits its table, movements come back as they went in,
reconciliation runs count what they hold and equal results give equal digests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from agents.bank_rows import (
    ReconciliationRun,
    exception_rows,
    file_rows,
    movement_transaction,
    reconciliation_rows,
)
from connectors.bank.book_payments import BookPayment
from connectors.bank.errors import RejectReason, StatementFileRejected, StatementProblem
from connectors.bank.exceptions_log import ExceptionRecord
from connectors.bank.importer import read_statement_file
from connectors.bank.reconcile import reconcile
from connectors.bank.validate import StatementRules
from sinks.bank_tables import bank_create_statements, bank_table_defs
from sinks.memory import MemorySink
from tests.unit.connectors_bank.mt940_samples import Line, statement, statement_file

NOW = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
VA = "12345678901234"


def _file() -> Any:
    text = statement_file(
        statement(reference="T1", lines=(
            Line(amount="1500,", reference=VA, bank_reference="TX2601140001", details=f"虛擬帳號 {VA} 大同瓦斯行"),
            Line(amount="700,", details="/EREF/TX2601140002/REMI/貨款 王小明"),
            Line(amount="120,", mark="D", type_code="NCHG", details="手續費"),
        )),
        statement(reference="U1", account="0087000111222", number="00014/001", currency="USD", opening="25000,",
                  lines=(Line(amount="310,25", mark="D", reference="IMP0001"),)),
    )
    return read_statement_file("LGB_20260114.sta", text.encode(), StatementRules())


def test_file_rows_fit_their_tables_and_movements_come_back_as_they_went_in() -> None:
    imported = _file()
    rows = file_rows(imported, NOW)
    sink = MemorySink(dict(bank_table_defs()))
    for table, table_rows in rows.items():
        sink.add(table, table_rows)
    assert sink.flush() == 1 + 2 + 4
    assert [tx for s in imported.statements for tx in s.transactions] == [
        movement_transaction(row) for row in rows["bank_movements"]]
    twd = rows["bank_statements"][0]
    assert (twd["credits"], twd["debits"], twd["movements"]) == (Decimal(2200), Decimal(120), 3)
    assert twd["opening_amount"] + twd["credits"] - twd["debits"] == twd["closing_amount"]
    assert rows["bank_movements"][1]["end_to_end_reference"] == "TX2601140002"
    # Replaying the record lands on the same keys: nothing new.
    for table, table_rows in file_rows(imported, NOW).items():
        sink.add(table, table_rows)
    sink.flush()
    assert len(sink.latest("bank_movements")) == 4 and len(sink.latest("bank_statement_files")) == 1


def test_exception_rows_keep_every_problem() -> None:
    error = StatementFileRejected.for_problems("bad.sta", "ab" * 32, (
        StatementProblem(2, "unbalanced", "opening 1 + movements 2 = 3, but closing is 4", RejectReason.UNBALANCED),))
    record = ExceptionRecord.of(error, NOW, None).to_dict()
    (row,) = exception_rows(record, NOW)["bank_import_exceptions"]
    assert row["reason"] == "unbalanced" and row["problems"] == [
        "statement 2: unbalanced: opening 1 + movements 2 = 3, but closing is 4"]
    MemorySink(dict(bank_table_defs())).add("bank_import_exceptions", [row])


def _payment(payment_id: int, amount: str, **kwargs: Any) -> BookPayment:
    values: dict[str, Any] = {"invoice_id": 1, "customer_id": 1, "payment_date": date(2026, 1, 14),
                              "received_at": NOW, "method": "bank_transfer", "bank_reference": None,
                              "virtual_account": None, "status": "received", "created_at": NOW, "updated_at": NOW}
    return BookPayment(payment_id=payment_id, amount=Decimal(amount), **{**values, **kwargs})


def test_reconciliation_rows_count_each_outcome_and_digest_only_the_result() -> None:
    imported = _file()
    transactions = [tx for s in imported.statements for tx in s.transactions]
    book = [_payment(1, "1500", method="virtual_account", virtual_account=VA),
            _payment(2, "715", bank_reference="TX2601140002"),  # the bank deducted a 15 TWD charge
            _payment(3, "999", payment_date=date(2026, 1, 13)),  # not on the statement
            _payment(4, "50", payment_date=date(2026, 1, 10))]  # outside the period: a candidate, not reported
    result = reconcile(transactions, book)
    run = ReconciliationRun(NOW, date(2026, 1, 13), date(2026, 1, 14), 3, len(book), {})
    digest, rows = reconciliation_rows(result, run)
    (summary,) = rows["bank_reconciliation_runs"]
    assert {k: summary[k] for k in ("matched", "amount_mismatch", "unmatched_bank", "unmatched_book",
                                    "other_currency", "bank_movements")} == {
        "matched": 1, "amount_mismatch": 1, "unmatched_bank": 1, "unmatched_book": 1, "other_currency": 1,
        "bank_movements": 4}
    mismatch = next(i for i in rows["bank_reconciliation_items"] if i["status"] == "amount_mismatch")
    assert (mismatch["payment_id"], mismatch["difference"]) == (2, Decimal(-15))
    sink = MemorySink(dict(bank_table_defs()))
    for table, table_rows in rows.items():
        sink.add(table, table_rows)
    sink.flush()
    later, _ = reconciliation_rows(result, replace(run, ran_at=datetime(2026, 1, 15, tzinfo=UTC)))
    assert later == digest
    changed, _ = reconciliation_rows(reconcile(transactions, book[:1]), run)
    assert changed != digest


def test_bank_ddl_creates_every_table_and_the_latest_run_views() -> None:
    statements = bank_create_statements("luckygas")
    assert sum(s.startswith("CREATE TABLE IF NOT EXISTS") for s in statements) == len(bank_table_defs())
    assert any("bank_reconciliation_latest" in s for s in statements)
