"""Decoding, splitting and parsing MT940 files into typed statements."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from connectors.bank.importer import file_sha256, read_statement_file
from connectors.bank.mt940_parse import (
    NoStatements,
    UndecodableFile,
    decode_statement_bytes,
    split_statements,
)
from connectors.bank.statement import StatementNumber
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import (
    ACCOUNT,
    TWO_STATEMENTS_CRLF,
    Line,
    statement,
    statement_file,
)

RULES = StatementRules()


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (TWO_STATEMENTS_CRLF.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + TWO_STATEMENTS_CRLF.encode("utf-8"), "utf-8"),
        (TWO_STATEMENTS_CRLF.encode("big5"), "big5"),
    ],
    ids=["utf-8", "utf-8-bom", "big5"],
)
def test_decode_detects_utf8_and_big5(data: bytes, encoding: str) -> None:
    decoded = decode_statement_bytes(data)
    assert decoded.encoding == encoding
    assert decoded.text == TWO_STATEMENTS_CRLF


def test_decode_refuses_bytes_that_are_neither_utf8_nor_big5() -> None:
    # 0xFF is no lead byte in Big5/cp950 and invalid in UTF-8.
    with pytest.raises(UndecodableFile, match="neither UTF-8 nor Big5"):
        decode_statement_bytes(b":20:X\n:86:\xff\xfe\xff\n")


def test_split_gives_one_raw_statement_per_20_block() -> None:
    raws = split_statements(TWO_STATEMENTS_CRLF.replace("\r\n", "\n"))
    assert [r.index for r in raws] == [1, 2]
    assert raws[0].values("20") == ["STMT260114A"]
    assert raws[1].values("25") == ["0089876543210"]
    assert [t.tag for t in raws[0].tags] == ["20", "25", "28C", "60F", "61", "86", "61", "86", "62F"]


def test_split_unwraps_swift_envelopes() -> None:
    one = statement(reference="ENV1")
    two = statement(reference="ENV2", number="00013")
    text = (
        "{1:F01BKTWTWTPAXXX0000000000}{2:O9400000260114BKTWTWTPAXXX00000000002601140000N}{4:\n" + one + "-}"
        "{1:F01BKTWTWTPAXXX0000000000}{2:O9400000260114BKTWTWTPAXXX00000000002601140000N}{4:\n" + two + "-}"
    )
    assert [r.values("20") for r in split_statements(text)] == [["ENV1"], ["ENV2"]]


@pytest.mark.parametrize(
    "text",
    ["", "hello bank\n", "{1:F01BKTWTWTPAXXX0000000000}{2:O940}", ":25:0081234567890\n"],
    ids=["empty", "only-text", "envelope-without-body", "no-20"],
)
def test_split_refuses_files_without_statements(text: str) -> None:
    with pytest.raises(NoStatements):
        split_statements(text)


def test_text_before_the_first_20_is_skipped_with_a_warning() -> None:
    imported = read_statement_file("h.sta", ("hello bank\n" + statement()).encode(), RULES)
    assert len(imported.statements) == 1
    assert [(w.statement, w.code) for w in imported.warnings] == [(1, "header_text_skipped")]
    assert "'hello bank'" in imported.warnings[0].detail


def test_multi_statement_file_parses_each_statement_with_its_own_balances() -> None:
    data = TWO_STATEMENTS_CRLF.encode("big5")
    imported = read_statement_file("twb_20260114.sta", data, RULES)
    first, second = imported.statements
    assert imported.encoding == "big5"
    assert imported.sha256 == file_sha256(data)
    assert (first.reference, first.account, first.number) == ("STMT260114A", ACCOUNT, StatementNumber(12, 1))
    assert (first.opening.amount, first.closing.amount) == (Decimal(150000), Decimal(150750))
    assert (second.opening.amount, second.closing.amount) == (Decimal(-500), Decimal("2000.50"))
    assert second.number == StatementNumber(7, None)
    assert [len(first.transactions), len(second.transactions)] == [2, 1]


def test_transaction_fields_keep_twd_amounts_references_and_chinese_details() -> None:
    imported = read_statement_file("a.sta", TWO_STATEMENTS_CRLF.encode("utf-8"), RULES)
    credit, fee = imported.statements[0].transactions
    assert credit.amount == Decimal(1000) and credit.currency == "TWD" and credit.mark == "C"
    assert (credit.value_date, credit.entry_date) == (date(2026, 1, 14), date(2026, 1, 14))
    assert (credit.customer_reference, credit.bank_reference) == ("VA12345678901234", "BK0001")
    assert credit.details == "大同瓦斯行 虛擬帳號 12345678901234 一月貨款"
    assert (credit.type_code, credit.line, credit.account) == ("NTRF", 1, ACCOUNT)
    assert fee.amount == Decimal(-250) and fee.bank_reference is None and fee.details == "跨行手續費"
    no_entry = imported.statements[1].transactions[0]
    assert no_entry.entry_date is None and no_entry.booking_date == date(2026, 1, 14)
    assert no_entry.amount == Decimal("2500.50")


def test_reversals_are_signed_and_statement_level_details_stay_off_the_last_line() -> None:
    lines = (
        Line(amount="500,", mark="C", details="客戶匯款"),
        Line(amount="200,", mark="RC", details="沖正 貸方"),
        Line(amount="100,", mark="RD", details="沖正 借方"),
        Line(amount="50,", mark="D", details="第一行\n第二行 續"),
    )
    text = statement(opening="1000,", lines=lines, information="本對帳單共四筆")
    imported = read_statement_file("r.sta", text.encode("utf-8"), RULES)
    (st,) = imported.statements
    assert [tx.amount for tx in st.transactions] == [Decimal(500), Decimal(-200), Decimal(100), Decimal(-50)]
    assert st.closing.amount == Decimal(1350)
    assert st.transactions[-1].details == "第一行\n第二行 續"
    assert st.information == "本對帳單共四筆"


def test_entry_date_in_the_next_year_is_read_across_the_year_end() -> None:
    line = Line(value="251231", entry="0102", amount="300,")
    text = statement(opening_date="251231", closing_date="260102", lines=(line,))
    (st,) = read_statement_file("ye.sta", text.encode(), RULES).statements
    assert st.transactions[0].value_date == date(2025, 12, 31)
    assert st.transactions[0].entry_date == date(2026, 1, 2)


def test_many_statements_in_one_file_are_not_merged() -> None:
    texts = [statement(reference=f"S{i}", number=f"{i:05d}", opening=f"{i * 100},") for i in range(1, 6)]
    imported = read_statement_file("five.sta", statement_file(*texts).encode(), RULES)
    assert [s.reference for s in imported.statements] == ["S1", "S2", "S3", "S4", "S5"]
    assert [s.opening.amount for s in imported.statements] == [Decimal(i * 100) for i in range(1, 6)]
