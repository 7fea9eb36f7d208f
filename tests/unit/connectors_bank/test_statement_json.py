"""The imported result as JSON-serialisable dicts, and the exceptions log records."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson

from connectors.bank.errors import MalformedStatementFile, RejectReason, StatementProblem
from connectors.bank.exceptions_log import ExceptionRecord, JsonlExceptionLog
from connectors.bank.importer import read_statement_file
from connectors.bank.statement import statements_to_dicts, statements_to_json
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import TWO_STATEMENTS_CRLF


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
    }
    assert dicts[1]["transactions"][0]["entry_date"] is None
    assert Decimal(dicts[1]["closing"]["amount"]) == imported.statements[1].closing.amount


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
