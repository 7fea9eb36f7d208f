"""The simulator's bank statements for the stack's history: written once, deterministic, accepted by our
importer, balance chained day to day, and reconcilable against the book they were made from."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from connectors.bank.book_payments import load_book_payments
from connectors.bank.importer import read_statement_file
from connectors.bank.reconcile import book_date_range, reconcile
from connectors.bank.statement import BankTransaction, ImportedStatement
from connectors.bank.validate import StatementRules
from infra.settings import StackSettings
from infra.simulator.mt940_text import TWD_ACCOUNT, USD_ACCOUNT
from infra.simulator.statements import write_statement_files, write_statements

pytestmark = pytest.mark.integration
DAYS = 5


def last_payment_day(stack: StackSettings) -> date:
    with psycopg.connect(stack.postgres.dsn()) as conn:
        row = conn.execute("SELECT max(payment_date) FROM w500.payment_record WHERE method <> 'cash'").fetchone()
    assert row is not None and row[0] is not None, "the history should contain payments"
    day: date = row[0]
    return day


def test_statements_are_written_once_deterministic_and_reconcile(stack: StackSettings, tmp_path: Path) -> None:
    end, dsn = last_payment_day(stack), stack.postgres.dsn()
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    written = write_statements(dsn, inbox, DAYS, 44, end)
    assert [p.name for p in written] == [f"LGB_{end - timedelta(days=n):%Y%m%d}.sta" for n in reversed(range(DAYS))]
    assert sorted(p.name for p in inbox.iterdir()) == [p.name for p in written]  # no temp file left behind
    again = write_statement_files(dsn, inbox, DAYS, 44, end)
    assert again.written == [] and len(again.skipped) == DAYS
    fresh = write_statements(dsn, tmp_path / "fresh", DAYS, 44, end)
    assert [p.read_bytes() for p in fresh] == [p.read_bytes() for p in written]

    # The importer moved the first day to its archive: it is not written again, and the chain goes on.
    archive.mkdir()
    written[0].rename(archive / f"20260101T060000_0123456789ab_{written[0].name}")
    later = write_statement_files(dsn, inbox, DAYS + 1, 44, end + timedelta(days=1), archived=[archive])
    assert [p.name for p in later.written] == [f"LGB_{end + timedelta(days=1):%Y%m%d}.sta"]

    rules = StatementRules(frozenset({TWD_ACCOUNT, USD_ACCOUNT}), today=end + timedelta(days=2))
    files = [archive / f"20260101T060000_0123456789ab_{written[0].name}", *written[1:], *later.written]
    statements: list[ImportedStatement] = [
        s for path in files for s in read_statement_file(path.name, path.read_bytes(), rules).statements]
    for account in (TWD_ACCOUNT, USD_ACCOUNT):
        chain = [s for s in statements if s.account == account]
        assert all(a.closing.amount == b.opening.amount for a, b in itertools.pairwise(chain))
    assert next(s.opening.amount for s in statements if s.account == TWD_ACCOUNT) == 5_000_000

    transactions: list[BankTransaction] = [tx for s in statements for tx in s.transactions]
    twd_credits = [tx for tx in transactions if tx.currency == "TWD" and tx.mark == "C" and tx.type_code == "NTRF"]
    with psycopg.connect(dsn) as conn:
        book = load_book_payments(conn, *book_date_range(transactions))
    result = reconcile(transactions, book)
    assert {tx.currency for tx in result.other_currency} == {"USD"}
    assert all(tx.currency == "TWD" for tx in [m.bank for m in result.matched])
    assert all(m.difference in (-15, -30) for m in result.mismatched_amount)  # the bank charges deducted
    matched = {m.bank for m in result.matched} | {m.bank for m in result.mismatched_amount}
    assert len([tx for tx in twd_credits if tx in matched]) >= 0.8 * len(twd_credits)
    assert all(tx.type_code in ("NCHG", "NCHK", "NTRF") for tx in result.unmatched_bank)
