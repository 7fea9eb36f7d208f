"""Duplicate detection across files and days: statement keys, and the store contract on the in-memory store."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.bank.dedup import (
    MemorySeenStatementStore,
    PostgresSeenStatementStore,
    StatementKey,
    advisory_lock_key,
    canonical_amount,
)
from connectors.bank.statement import StatementNumber
from tests.unit.connectors_bank.mt940_samples import ACCOUNT, statement
from tests.unit.connectors_bank.seen_store_contract import SeenStatementStoreContract, imported_file


class TestMemorySeenStatementStore(SeenStatementStoreContract):
    @pytest.fixture
    def store(self) -> MemorySeenStatementStore:
        return MemorySeenStatementStore()

    @pytest.fixture
    def twin(self, store: MemorySeenStatementStore) -> MemorySeenStatementStore:
        return store  # in memory, "another handle on the same data" is the store itself


def test_key_is_account_currency_number_and_opening_balance_not_the_20_reference() -> None:
    a = imported_file("a.sta", statement(reference="REF-A", opening="1000,")).statements[0]
    b = imported_file("b.sta", statement(reference="REF-B", opening="1000,00")).statements[0]
    assert StatementKey.of(a) == StatementKey.of(b)
    assert StatementKey.of(a).as_text() == StatementKey.of(b).as_text() == f"{ACCOUNT}|TWD|12/1|2026-01-13|1000"
    c = imported_file("c.sta", statement(opening="1001,")).statements[0]
    assert StatementKey.of(c) != StatementKey.of(a)
    usd = imported_file("d.sta", statement(opening="1000,", currency="USD")).statements[0]
    assert StatementKey.of(usd) != StatementKey.of(a) and StatementKey.of(usd).as_text().split("|")[1] == "USD"
    assert StatementKey(ACCOUNT, "TWD", StatementNumber(12, 1), date(2026, 1, 13), Decimal(1000)) == StatementKey.of(a)


@pytest.mark.parametrize(
    ("amount", "text"),
    [("1000", "1000"), ("1000.00", "1000"), ("1000.50", "1000.5"), ("0.00", "0"), ("-0", "0"), ("-250.10", "-250.1"),
     ("12345678901234.99", "12345678901234.99"), ("1E+3", "1000")],
)
def test_canonical_amount_has_no_exponent_and_no_trailing_zeros(amount: str, text: str) -> None:
    assert canonical_amount(Decimal(amount)) == text


def test_the_advisory_lock_key_is_a_fixed_bigint_per_schema() -> None:
    key = advisory_lock_key("bank_import")
    assert key == advisory_lock_key("bank_import") and -(2**63) <= key < 2**63
    assert advisory_lock_key("bank_import_test") != key and advisory_lock_key("bank_import", "ddl") != key
    assert PostgresSeenStatementStore("host=unused").lock_key == key  # no connection until first use
