"""The PAYMENT_RECORD loader and reconciliation against the real operational database (the shared stack,
with the simulator's history), so the loader's SQL runs on the real table and real payments."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest

from connectors.bank.book_payments import BookPayment, load_book_payments
from connectors.bank.reconcile import reconcile
from connectors.bank.statement import BankTransaction, StatementNumber
from infra.settings import StackSettings

pytestmark = pytest.mark.integration


def history_range(stack: StackSettings) -> tuple[date, date]:
    with psycopg.connect(stack.postgres.dsn()) as conn:
        first, last = conn.execute("SELECT min(payment_date), max(payment_date) FROM w500.payment_record").fetchone()  # type: ignore[misc]
    return first, last


def test_loader_returns_exactly_the_bank_payments_of_the_range(stack: StackSettings) -> None:
    start, end = history_range(stack)
    with psycopg.connect(stack.postgres.dsn()) as conn:
        loaded = load_book_payments(conn, start, end)
        expected = [row[0] for row in conn.execute(
            "SELECT payment_id FROM w500.payment_record WHERE payment_date BETWEEN %s AND %s AND method IN "
            "('bank_transfer', 'check', 'virtual_account') AND status IN ('received', 'cleared') "
            "ORDER BY payment_date, payment_id", (start, end))]
        everything = load_book_payments(conn, start, end, methods=("cash", "credit_card", "bank_transfer", "check",
                                                                   "virtual_account"))
        with pytest.raises(ValueError, match="empty date range"):
            load_book_payments(conn, end, start - timedelta(days=1))
    assert expected, "the history should contain bank payments"
    assert [p.payment_id for p in loaded] == expected
    assert len(everything) > len(loaded)
    assert all(p.received_at.utcoffset() is not None and p.amount > 0 for p in loaded)


def _bank_line(p: BookPayment, line: int, amount: Decimal | None = None) -> BankTransaction:
    return BankTransaction(
        account="0081234567890", statement_number=StatementNumber(1, 1), line=line, value_date=p.payment_date,
        entry_date=p.payment_date, mark="C", amount=amount if amount is not None else p.amount, currency="TWD",
        type_code="NTRF", customer_reference=f"VA{p.virtual_account}", bank_reference=None, details="",
    )


def test_real_payments_reconcile_with_a_statement_built_from_them(stack: StackSettings) -> None:
    start, end = history_range(stack)
    with psycopg.connect(stack.postgres.dsn()) as conn:
        by_account = {p.virtual_account: p for p in load_book_payments(conn, start, end) if p.virtual_account}
    book = sorted(by_account.values(), key=lambda p: p.payment_id)[:30]  # one payment per payer: unambiguous
    assert len(book) >= 5
    lines = [_bank_line(p, i) for i, p in enumerate(book[:-2], start=1)]
    lines[0] = replace(lines[0], amount=book[0].amount + Decimal(1))  # the bank saw a different amount
    result = reconcile(lines, book)
    assert {m.book.payment_id for m in result.matched} == {p.payment_id for p in book[1:-2]}
    assert [m.book.payment_id for m in result.mismatched_amount] == [book[0].payment_id]
    assert {p.payment_id for p in result.unmatched_book} == {p.payment_id for p in book[-2:]}
    assert result.unmatched_bank == ()
