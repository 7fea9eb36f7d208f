"""Reconciliation of bank transactions against PAYMENT_RECORD rows (pure function)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.bank.book_payments import BookPayment
from connectors.bank.importer import read_statement_file
from connectors.bank.reconcile import book_date_range, link, reconcile
from connectors.bank.statement import BankTransaction, StatementNumber
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import TWO_STATEMENTS_CRLF

VA = "12345678901234"
STAMP = datetime(2026, 1, 14, 3, 0, tzinfo=UTC)


def bank_tx(
    line: int, amount: str, value: date = date(2026, 1, 14), *, reference: str = "NONREF",
    bank_reference: str | None = None, details: str = "", currency: str = "TWD",
) -> BankTransaction:
    return BankTransaction(
        account="0081234567890", statement_number=StatementNumber(12, 1), line=line, value_date=value,
        entry_date=value, mark="C" if Decimal(amount) >= 0 else "D", amount=Decimal(amount), currency=currency,
        type_code="NTRF", customer_reference=reference, bank_reference=bank_reference, details=details,
    )


def payment(
    payment_id: int, amount: str, paid: date = date(2026, 1, 14), *, virtual_account: str | None = None,
    bank_reference: str | None = None, method: str = "bank_transfer",
) -> BookPayment:
    return BookPayment(
        payment_id=payment_id, invoice_id=9000 + payment_id, customer_id=500 + payment_id, payment_date=paid,
        received_at=STAMP, amount=Decimal(amount), method=method,  # type: ignore[arg-type]
        bank_reference=bank_reference, virtual_account=virtual_account, status="received",
        created_at=STAMP, updated_at=STAMP,
    )


def test_statement_lines_match_by_virtual_account_and_reference() -> None:
    imported = read_statement_file("f.sta", TWO_STATEMENTS_CRLF.encode(), StatementRules())
    lines = [tx for st in imported.statements for tx in st.transactions]
    book = [
        payment(1, "1000", virtual_account=VA, method="virtual_account"),
        payment(2, "2500.50", date(2026, 1, 12), bank_reference="inv 2026 0007"),
        payment(3, "780", bank_reference="NOT-ON-STATEMENT"),
    ]
    result = reconcile(lines, book)
    assert [(m.bank.line, m.book.payment_id, m.linked_by, m.day_difference) for m in result.matched] == [
        (1, 1, "virtual_account", 0), (1, 2, "reference", 2)
    ]
    assert [tx.amount for tx in result.unmatched_bank] == [Decimal(-250)]  # the bank fee
    assert [p.payment_id for p in result.unmatched_book] == [3]
    assert result.mismatched_amount == ()


def test_same_link_different_amount_is_a_mismatch_with_the_difference() -> None:
    result = reconcile([bank_tx(1, "990", reference=f"VA{VA}")], [payment(7, "1000", virtual_account=VA)])
    (mismatch,) = result.mismatched_amount
    assert (mismatch.book.payment_id, mismatch.difference, mismatch.linked_by) == (7, Decimal(-10), "virtual_account")
    assert result.matched == () and result.unmatched_bank == () and result.unmatched_book == ()


@pytest.mark.parametrize(("days", "matched"), [(-3, True), (3, True), (4, False), (-4, False)])
def test_date_window_is_plus_minus_three_days_by_default(days: int, matched: bool) -> None:
    tx = bank_tx(1, "1000", details=f"虛擬帳號{VA}")
    book = [payment(1, "1000", date(2026, 1, 14) + timedelta(days=days), virtual_account=VA)]
    result = reconcile([tx], book)
    assert len(result.matched) == int(matched)
    assert len(result.unmatched_bank) == len(result.unmatched_book) == int(not matched)


def test_window_is_configurable() -> None:
    tx = bank_tx(1, "1000", details=VA)
    book = [payment(1, "1000", date(2026, 1, 9), virtual_account=VA)]
    assert reconcile([tx], book).matched == ()
    assert len(reconcile([tx], book, window_days=5).matched) == 1
    with pytest.raises(ValueError, match="window_days"):
        reconcile([tx], book, window_days=-1)


def test_each_payment_is_used_once_nearest_date_first() -> None:
    txs = [bank_tx(1, "1000", date(2026, 1, 14), details=VA), bank_tx(2, "1000", date(2026, 1, 15), details=VA)]
    book = [payment(10, "1000", date(2026, 1, 15), virtual_account=VA), payment(11, "1000", date(2026, 1, 14),
                                                                               virtual_account=VA)]
    result = reconcile(txs, book)
    assert [(m.bank.line, m.book.payment_id) for m in result.matched] == [(1, 11), (2, 10)]


def test_an_exact_partner_is_never_taken_by_a_mismatch() -> None:
    # Line 1 is linked to both payments and equals neither; payment 21 is nearest to it by date but is line 2's
    # exact partner. Exact matches are settled first, so line 1 gets payment 22 as a mismatch.
    txs = [bank_tx(1, "999", date(2026, 1, 13), details=VA), bank_tx(2, "1000", date(2026, 1, 15), details=VA)]
    book = [payment(21, "1000", date(2026, 1, 13), virtual_account=VA), payment(22, "1200", date(2026, 1, 16),
                                                                               virtual_account=VA)]
    result = reconcile(txs, book)
    assert [(m.bank.line, m.book.payment_id) for m in result.matched] == [(2, 21)]
    assert [(m.bank.line, m.book.payment_id, m.difference) for m in result.mismatched_amount] == [
        (1, 22, Decimal(-201))
    ]


def test_amount_and_date_alone_do_not_match_and_foreign_currency_is_left_aside() -> None:
    result = reconcile(
        [bank_tx(1, "1000"), bank_tx(2, "1000", details=VA, currency="USD")],
        [payment(1, "1000"), payment(2, "1000", virtual_account=VA)],
    )
    assert result.matched == () and result.mismatched_amount == ()
    assert [tx.line for tx in result.unmatched_bank] == [1]
    assert [tx.line for tx in result.other_currency] == [2]  # never reconciled across currencies
    assert [p.payment_id for p in result.unmatched_book] == [1, 2]


def test_a_reference_in_a_structured_details_field_links_as_a_whole_reference() -> None:
    structured = replace(bank_tx(1, "1500", details="/EREF/TX26011412/REMI/貨款"),
                         detail_fields=(("EREF", "TX26011412"), ("REMI", "貨款")))
    short = replace(bank_tx(2, "700", details="/EREF/AB12/REMI/x"), detail_fields=(("EREF", "AB12"), ("REMI", "x")))
    result = reconcile([structured, short], [payment(1, "1500", bank_reference="TX26011412"),
                                             payment(2, "700", bank_reference="AB12")])
    # "AB12" is too short to be trusted inside free text, but as the EREF sub-field it is the whole reference.
    assert [(m.bank.line, m.book.payment_id, m.linked_by) for m in result.matched] == [
        (1, 1, "reference"), (2, 2, "reference")]


def test_link_rules() -> None:
    assert link(bank_tx(1, "1", details="轉入 1234567890123\n4 王小明"), payment(1, "1", virtual_account=VA)) == (
        "virtual_account"  # a number cut by the 65-character line wrap of :86:
    )
    assert link(bank_tx(1, "1", details=f"9{VA}"), payment(1, "1", virtual_account=VA)) is None  # 15 digits
    assert link(bank_tx(1, "1", bank_reference="bk-77"), payment(1, "1", bank_reference="BK77")) == "reference"
    assert link(bank_tx(1, "1", details="付款 CHK123456 謝謝"), payment(1, "1", bank_reference="chk123456")) == (
        "reference"
    )
    # Short references are only trusted as the whole field, not somewhere inside free text.
    assert link(bank_tx(1, "1", details="CHK12 謝謝"), payment(1, "1", bank_reference="CHK12")) is None
    assert link(bank_tx(1, "1", reference="CHK12"), payment(1, "1", bank_reference="CHK12")) == "reference"


def test_book_date_range_covers_the_window() -> None:
    txs = [bank_tx(1, "1", date(2026, 1, 14)), bank_tx(2, "1", date(2026, 1, 20))]
    assert book_date_range(txs) == (date(2026, 1, 11), date(2026, 1, 23))
    with pytest.raises(ValueError):
        book_date_range([])


def test_book_payment_refuses_values_the_table_refuses() -> None:
    with pytest.raises(ValueError, match="14 digits"):
        payment(1, "1", virtual_account="123")
    with pytest.raises(ValueError, match="method"):
        payment(1, "1", method="bitcoin")
