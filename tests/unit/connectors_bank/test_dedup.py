"""Duplicate detection across files and days, and the SQLite seen-statement store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.bank.dedup import SqliteSeenStatementStore, StatementKey, find_duplicates
from connectors.bank.errors import DuplicateStatementFile
from connectors.bank.importer import read_statement_file
from connectors.bank.statement import ImportedFile, StatementNumber
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import ACCOUNT, Line, statement, statement_file

DAY_1 = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)


def _file(name: str, *texts: str) -> ImportedFile:
    return read_statement_file(name, statement_file(*texts).encode(), StatementRules())


@pytest.fixture
def store(tmp_path: Path) -> SqliteSeenStatementStore:
    return SqliteSeenStatementStore(tmp_path / "state" / "seen.sqlite3")


def test_key_is_account_number_and_opening_balance_not_the_20_reference() -> None:
    a = _file("a.sta", statement(reference="REF-A", opening="1000,")).statements[0]
    b = _file("b.sta", statement(reference="REF-B", opening="1000,00")).statements[0]
    assert StatementKey.of(a) == StatementKey.of(b)
    assert StatementKey.of(a).as_text() == f"{ACCOUNT}|12/1|2026-01-13|1000.00"
    c = _file("c.sta", statement(opening="1001,")).statements[0]
    assert StatementKey.of(c) != StatementKey.of(a)
    assert StatementKey(ACCOUNT, StatementNumber(12, 1), date(2026, 1, 13), Decimal(1000)) == StatementKey.of(a)


def test_a_new_file_has_no_duplicates_and_is_remembered_across_reopen(
    store: SqliteSeenStatementStore, tmp_path: Path
) -> None:
    first = _file("day1.sta", statement(number="00012"), statement(number="00013", account="0080000000001"))
    assert find_duplicates(first, store) == []
    store.record(first, DAY_1)
    reopened = SqliteSeenStatementStore(tmp_path / "state" / "seen.sqlite3")
    seen = reopened.file_seen(first.sha256)
    assert seen is not None and (seen.file_name, seen.imported_at) == ("day1.sta", DAY_1)
    keys = [StatementKey.of(s) for s in first.statements]
    assert set(reopened.statements_seen(keys)) == set(keys)


def test_same_statement_in_a_file_of_another_day_is_a_duplicate(store: SqliteSeenStatementStore) -> None:
    store.record(_file("day1.sta", statement(reference="MORNING")), DAY_1)
    # Next day the bank re-sends the statement under a new :20: next to a genuinely new one.
    new_one = statement(number="00013", opening_date="260114", closing_date="260115", opening="151000,",
                        lines=(Line(value="260115", entry="0115"),))
    day2 = _file("day2.sta", statement(reference="RESENT"), new_one)
    problems = find_duplicates(day2, store)
    assert [(p.statement, p.code) for p in problems] == [(1, "duplicate_statement")]
    assert "day1.sta" in problems[0].detail


def test_exact_redelivery_is_caught_by_the_file_hash(store: SqliteSeenStatementStore) -> None:
    text = statement()
    store.record(_file("x.sta", text), DAY_1)
    again = _file("x-renamed.sta", text)
    codes = [p.code for p in find_duplicates(again, store)]
    assert codes == ["duplicate_file", "duplicate_statement"]


def test_a_statement_twice_in_one_file_is_a_duplicate(store: SqliteSeenStatementStore) -> None:
    twice = _file("twice.sta", statement(reference="A"), statement(reference="B"))
    problems = find_duplicates(twice, store)
    assert [(p.statement, p.code) for p in problems] == [(2, "duplicate_statement")]
    assert "repeats statement 1" in problems[0].detail


def test_record_is_all_or_nothing(store: SqliteSeenStatementStore) -> None:
    store.record(_file("a.sta", statement(number="00001")), DAY_1)
    mixed = _file("b.sta", statement(number="00002"), statement(number="00001", reference="AGAIN"))
    with pytest.raises(DuplicateStatementFile) as caught:
        store.record(mixed, DAY_1 + timedelta(days=1))
    assert [(p.statement, p.code) for p in caught.value.problems] == [(2, "duplicate_statement")]
    # Neither the file nor its new statement 00002 was remembered.
    assert store.file_seen(mixed.sha256) is None
    assert store.statements_seen([StatementKey.of(mixed.statements[0])]) == {}


def test_record_refuses_naive_times(store: SqliteSeenStatementStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record(_file("a.sta", statement()), datetime(2026, 1, 14))  # noqa: DTZ001 - the point of the test
