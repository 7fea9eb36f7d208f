"""The imported result as JSON-serialisable dicts, and the exceptions log records."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson

from connectors.bank.errors import MalformedStatementFile, RejectReason, StatementProblem
from connectors.bank.exceptions_log import ExceptionRecord, JsonlExceptionLog
from connectors.bank.importer import read_statement_file
from connectors.bank.statement import (
    imported_file_from_json,
    imported_file_to_json,
    statements_to_dicts,
    statements_to_json,
)
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import TWO_STATEMENTS_CRLF
from tests.unit.connectors_bank.real_bank_samples import (
    ENVELOPE,
    EUR_VARIANTS,
    KWD_AND_JPY,
    LONG_FIELDS,
    SOH_ETX,
    THREE_PAGES,
    YEAR_END,
)


def test_statements_become_plain_json_with_exact_amounts_and_chinese_text() -> None:
    imported = read_statement_file("twb.sta", TWO_STATEMENTS_CRLF.encode("big5"), StatementRules())
    dicts = statements_to_dicts(imported.statements)
    encoded = statements_to_json(imported.statements)
    assert orjson.loads(encoded) == dicts
    assert "大同瓦斯行".encode() in encoded  # characters, not \\u escapes
    first = dicts[0]
    assert first["opening"] == {"date": "2026-01-13", "currency": "TWD", "amount": "150000.00"}
    assert (first["number"], first["sequence"], first["encoding"]) == (12, 1, "big5")
    assert first["transactions"][0] == {
        "account": "0081234567890", "statement_number": 12, "statement_sequence": 1, "line": 1,
        "value_date": "2026-01-14", "entry_date": "2026-01-14", "mark": "C", "amount": "1000.00",
        "currency": "TWD", "type_code": "NTRF", "customer_reference": "VA12345678901234",
        "bank_reference": "BK0001", "details": "大同瓦斯行 虛擬帳號 12345678901234 一月貨款",
        "funds_code": None, "supplementary": None, "detail_fields": [],
    }
    assert (first["pages"], first["available"], first["forward_available"]) == (1, None, [])
    assert dicts[1]["transactions"][0]["entry_date"] is None
    assert Decimal(dicts[1]["closing"]["amount"]) == imported.statements[1].closing.amount


def test_an_imported_file_round_trips_exactly_through_json() -> None:
    # Every feature at once: pages, :64:/:65:, :28:, funds code, supplementary, GVC and SWIFT :86:, KWD/JPY/
    # USD/EUR/TWD, year-end entry dates, long fields, and warnings of several kinds.
    text = "BANK HEADER\n" + THREE_PAGES + EUR_VARIANTS + KWD_AND_JPY + LONG_FIELDS + YEAR_END + SOH_ETX + ENVELOPE
    imported = read_statement_file("all.sta", text.encode("big5"), StatementRules())
    assert len(imported.statements) == 12 and imported.encoding == "big5"
    assert {w.code for w in imported.warnings} == {
        "header_text_skipped", "blank_reference", "extra_decimals", "long_field", "reference_slashes",
        "value_date_outside_period",
    }
    encoded = imported_file_to_json(imported)
    rebuilt = imported_file_from_json(encoded)
    assert rebuilt == imported
    assert imported_file_to_json(rebuilt) == encoded
    assert "大同瓦斯行".encode() in encoded
    by_reference = {s["reference"]: s for s in orjson.loads(encoded)["statements"]}
    kwd, jpy = by_reference["KW0114"], by_reference["JP0114"]
    assert (kwd["opening"]["amount"], kwd["transactions"][0]["amount"], kwd["closing"]["amount"]) == (
        "1250.125", "12.345", "1262.470"
    )
    assert [tx["amount"] for tx in jpy["transactions"]] == ["-1000", "500"]
    assert by_reference["STMT260114P1"]["pages"] == 3
    assert by_reference["STMT260114P1"]["available"] == {"date": "2026-01-14", "currency": "TWD", "amount": "150000.00"}
    eur = by_reference["NL-STMT-0114"]
    assert eur["sequence"] is None and len(eur["forward_available"]) == 2
    assert eur["transactions"][1]["funds_code"] == "R" and eur["transactions"][2]["supplementary"] == "CHARGES JAN 2026"
    assert eur["transactions"][0]["detail_fields"][0] == ["TRTP", "SEPA OVERBOEKING"]


def test_exception_records_append_and_read_back(tmp_path: Path) -> None:
    log = JsonlExceptionLog(tmp_path / "logs" / "bank-exceptions.jsonl")
    assert log.read_all() == []
    problems = (StatementProblem(2, "bad_date", ":61: value date '260230' is invalid"),)
    error = MalformedStatementFile("a.sta", "ab" * 32, problems)
    at = datetime(2026, 1, 14, 22, 0, tzinfo=UTC)
    first = ExceptionRecord.of(error, at, tmp_path / "a.sta")
    second = ExceptionRecord(at, "b.sta", "cd" * 32, RejectReason.DUPLICATE,
                             (StatementProblem(0, "duplicate_file", "same bytes", RejectReason.DUPLICATE),))
    log.append(first)
    log.append(second)
    assert log.read_all() == [first, second]
    lines = (tmp_path / "logs" / "bank-exceptions.jsonl").read_bytes().splitlines()
    assert orjson.loads(lines[0])["problems"][0]["code"] == "bad_date"
