"""The PAYMENT_RECORD loader against a real PostgreSQL 15 (a throwaway cluster on a free port).

The table is created here with the columns and checks of `w500.payment_record` but without its foreign
keys, so the test needs no invoices or customers; the loader's SQL is what is under test.
"""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from connectors.bank.book_payments import load_book_payments
from connectors.bank.reconcile import reconcile
from connectors.bank.statement import BankTransaction, StatementNumber
from infra.postgres import runner
from infra.settings import PostgresSettings, StackSettings

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not runner.PG_BIN.joinpath("postgres").exists(), reason="PostgreSQL 15 binaries not installed"),
]

TABLE = """
CREATE SCHEMA w500;
CREATE TABLE w500.payment_record (
    payment_id      bigint PRIMARY KEY,
    invoice_id      bigint NOT NULL,
    customer_id     bigint NOT NULL,
    payment_date    date NOT NULL,
    received_at     timestamptz NOT NULL,
    amount          numeric(14, 2) NOT NULL CHECK (amount > 0),
    method          text NOT NULL CHECK (method IN
                    ('cash', 'bank_transfer', 'check', 'credit_card', 'virtual_account')),
    bank_reference  text,
    virtual_account char(14) CHECK (virtual_account ~ '^[0-9]{14}$'),
    status          text NOT NULL CHECK (status IN ('received', 'cleared', 'bounced', 'reversed')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
INSERT INTO w500.payment_record
    (payment_id, invoice_id, customer_id, payment_date, received_at, amount, method, bank_reference,
     virtual_account, status) VALUES
    (1, 11, 101, '2026-01-13', '2026-01-13 10:00+08', 1000.00, 'virtual_account', NULL, '12345678901234', 'received'),
    (2, 12, 102, '2026-01-14', '2026-01-14 11:00+08', 2500.50, 'bank_transfer', 'INV-2026-0007', NULL, 'cleared'),
    (3, 13, 103, '2026-01-14', '2026-01-14 12:00+08', 800.00, 'cash', NULL, NULL, 'received'),
    (4, 14, 104, '2026-01-14', '2026-01-14 13:00+08', 900.00, 'check', 'CHK000123', NULL, 'bounced'),
    (5, 15, 105, '2026-01-20', '2026-01-20 09:00+08', 300.00, 'bank_transfer', 'LATE', NULL, 'received');
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def payments_db() -> Iterator[str]:
    # Not under pytest's tmp dir: that is 0700 root, and the server runs as OS user postgres.
    state = Path(tempfile.mkdtemp(prefix="lg-bank-pg-"))
    state.chmod(0o755)
    settings = StackSettings(state_dir=state, postgres=PostgresSettings(port=_free_port()))
    try:
        runner.start_postgres(settings, timeout=60)
        with psycopg.connect(settings.postgres.dsn(), autocommit=True) as conn:
            conn.execute(TABLE)
        yield settings.postgres.dsn()
    finally:
        runner.stop_postgres(settings)
        shutil.rmtree(state, ignore_errors=True)


def test_loader_reads_bank_payments_in_the_range(payments_db: str) -> None:
    with psycopg.connect(payments_db) as conn:
        payments = load_book_payments(conn, date(2026, 1, 11), date(2026, 1, 17))
    # cash (3) and bounced (4) are not expected on the statement; 5 is outside the range.
    assert [p.payment_id for p in payments] == [1, 2]
    first = payments[0]
    assert (first.amount, first.virtual_account, first.method, first.status) == (
        Decimal("1000.00"), "12345678901234", "virtual_account", "received"
    )
    assert first.received_at.utcoffset() is not None
    assert payments[1].bank_reference == "INV-2026-0007" and payments[1].virtual_account is None


def test_loader_filters_are_parameters(payments_db: str) -> None:
    with psycopg.connect(payments_db) as conn:
        every = load_book_payments(conn, date(2026, 1, 1), date(2026, 1, 31), methods=("cash", "check",
                                   "bank_transfer", "virtual_account"), statuses=("received", "cleared", "bounced"))
        assert [p.payment_id for p in every] == [1, 2, 3, 4, 5]
        with pytest.raises(ValueError, match="empty date range"):
            load_book_payments(conn, date(2026, 1, 2), date(2026, 1, 1))


def test_loaded_payments_reconcile(payments_db: str) -> None:
    tx = BankTransaction(
        account="0081234567890", statement_number=StatementNumber(12, 1), line=1, value_date=date(2026, 1, 14),
        entry_date=date(2026, 1, 14), mark="C", amount=Decimal(1000), currency="TWD", type_code="NTRF",
        customer_reference="VA12345678901234", bank_reference=None, details="",
    )
    with psycopg.connect(payments_db) as conn:
        payments = load_book_payments(conn, date(2026, 1, 11), date(2026, 1, 17))
    result = reconcile([tx], payments)
    assert [(m.book.payment_id, m.day_difference) for m in result.matched] == [(1, 1)]
    assert [p.payment_id for p in result.unmatched_book] == [2]
