"""MT940 files as real banks send them are accepted, with the right statements, movements and warnings."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal

import pytest

from connectors.bank.importer import read_statement_file
from connectors.bank.statement import ImportedFile, StatementBalance, StatementNumber
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.real_bank_samples import (
    EMPTY,
    ENVELOPE,
    EUR_VARIANTS,
    HEADER_LINES,
    KWD_AND_JPY,
    LONG_FIELDS,
    SOH_ETX,
    THREE_PAGES,
    YEAR_END,
)

RULES = StatementRules()
D = Decimal


def _read(text: str, encoding: str = "utf-8") -> ImportedFile:
    return read_statement_file("bank.sta", text.encode(encoding), RULES)


def _warnings(imported: ImportedFile) -> Counter[tuple[int, str]]:
    return Counter((w.statement, w.code) for w in imported.warnings)


@pytest.mark.parametrize("encoding", ["utf-8", "big5"])
def test_three_pages_with_intermediate_balances_are_one_statement(encoding: str) -> None:
    imported = _read(THREE_PAGES, encoding)
    long, short = imported.statements
    assert (long.reference, long.account, long.number, long.pages) == (
        "STMT260114P1", "0081234567890", StatementNumber(12, 1), 3
    )
    assert long.opening == StatementBalance(date(2026, 1, 13), "TWD", D(150000))
    assert long.closing == StatementBalance(date(2026, 1, 14), "TWD", D(150000))
    assert long.available == StatementBalance(date(2026, 1, 14), "TWD", D(150000))
    assert [tx.line for tx in long.transactions] == [1, 2, 3, 4]
    assert [tx.amount for tx in long.transactions] == [D(1000), D(-250), D("2500.50"), D("-3250.50")]
    assert [tx.customer_reference for tx in long.transactions] == [
        "VA12345678901234", "NONREF", "INV-2026-0007", "PAYROLL-01"
    ]
    assert {tx.statement_number for tx in long.transactions} == {StatementNumber(12, 1)}
    assert long.transactions[2].details == "INV-2026-0007 台中分公司"
    assert (short.reference, short.pages, short.opening.amount, short.closing.amount) == ("STMT260114B", 1, D(500), D(600))
    assert imported.warnings == () and imported.transaction_count == 5


def test_a_statement_without_movements_is_accepted() -> None:
    (st,) = _read(EMPTY).statements
    assert st.transactions == () and st.opening.amount == st.closing.amount == D(5000)
    assert (st.opening.on, st.closing.on) == (date(2026, 1, 13), date(2026, 1, 14))


def test_soh_etx_framing_with_crlf() -> None:
    imported = _read(SOH_ETX)
    assert [(s.reference, s.number, len(s.transactions)) for s in imported.statements] == [
        ("SOH1", StatementNumber(21), 1), ("SOH2", StatementNumber(22), 0)
    ]
    assert imported.statements[0].closing.amount == D(1010) and imported.warnings == ()


def test_header_lines_are_skipped_the_940_line_silently() -> None:
    imported = _read(HEADER_LINES)
    assert [s.reference for s in imported.statements] == ["HDR1", "HDR2"]
    assert [(w.statement, w.code) for w in imported.warnings] == [(1, "header_text_skipped"), (2, "header_text_skipped")]
    assert "BANK OF TAIWAN  MT940 EXPORT 20260114" in imported.warnings[0].detail
    assert "'PAGE 2'" in imported.warnings[1].detail and ":940:" not in str(imported.warnings)


def test_swift_envelopes_several_per_file() -> None:
    imported = _read(ENVELOPE)
    first, second = imported.statements
    assert (first.reference, first.number, first.closing.amount) == ("ENV1", StatementNumber(41, 1), D(1500))
    assert first.transactions[0].amount == D(-500)
    assert (second.reference, second.account, second.transactions) == ("ENV2", "0089876543210", ())
    assert imported.warnings == ()


def test_mixed_line_ends_are_one_file() -> None:
    mixed = EMPTY.replace("\n", "\r\n", 2).replace(":60F:", "\r:60F:", 1)
    assert [s.reference for s in _read(mixed).statements] == ["EMPTY260114"]


def test_eur_statement_with_28_iban_account_and_every_line_variant() -> None:
    imported = _read(EUR_VARIANTS)
    (st,) = imported.statements
    assert (st.account, st.number, st.currency) == ("NL91ABNA0417164300EUR", StatementNumber(7, None), "EUR")
    assert (st.opening.amount, st.closing.amount) == (D("1500.00"), D(2100))
    no_entry, funds, supplementary, spaced, blank, half, reversal = st.transactions
    assert (no_entry.value_date, no_entry.entry_date, no_entry.booking_date) == (date(2026, 1, 14), None, date(2026, 1, 14))
    assert (no_entry.customer_reference, no_entry.bank_reference, no_entry.supplementary) == ("NONREF", None, None)
    assert (funds.mark, funds.funds_code, funds.amount, funds.bank_reference) == ("C", "R", D(200), "BK77")
    assert (supplementary.amount, supplementary.type_code, supplementary.bank_reference) == (D(-50), "NCHG", "BK78")
    assert supplementary.supplementary == "CHARGES JAN 2026" and supplementary.details == ""
    assert (spaced.type_code, spaced.customer_reference, spaced.amount) == ("NTRF", "NONREF", D(300))
    assert (blank.type_code, blank.customer_reference, blank.amount) == ("NMSC", "", D(-25))
    assert (half.amount, reversal.mark, reversal.amount) == (D("75.5"), "RC", D("-0.50"))
    assert sum(tx.amount for tx in st.transactions) == st.closing.amount - st.opening.amount
    assert st.available == StatementBalance(date(2026, 1, 14), "EUR", D("2100.00"))
    assert st.forward_available == (
        StatementBalance(date(2026, 1, 15), "EUR", D("2100.00")), StatementBalance(date(2026, 1, 16), "EUR", D("2050.00"))
    )
    assert st.information == "Saldo per 14-01-2026"
    assert [(w.statement, w.code) for w in imported.warnings] == [(1, "blank_reference")]


def test_structured_86_swift_style() -> None:
    tx = _read(EUR_VARIANTS).statements[0].transactions[0]
    assert tx.details == ("/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/\n"
                          "Lucky Gas BV/REMI/Factuur 2026/0042/EREF/E2E-0042")
    assert tx.detail_fields == (
        ("TRTP", "SEPA OVERBOEKING"), ("IBAN", "NL91ABNA0417164300"), ("BIC", "ABNANL2A"),
        ("NAME", "Lucky Gas BV"), ("REMI", "Factuur 2026/0042"), ("EREF", "E2E-0042"),
    )
    assert tx.detail_field("EREF") == "E2E-0042" and tx.detail_field("KREF") is None


def test_structured_86_gvc_style_with_sepa_keywords() -> None:
    st = _read(EUR_VARIANTS).statements[0]
    wrapped, short = st.transactions[1], st.transactions[5]
    assert wrapped.details.startswith("166?00SEPA-GUTSCHRIFT?109310?20EREF+INV-2026-0042?21KREF+K77\n?22SVWZ")
    assert wrapped.detail_fields == (
        ("GVC", "166"), ("?00", "SEPA-GUTSCHRIFT"), ("?10", "9310"), ("?20", "EREF+INV-2026-0042"),
        ("?21", "KREF+K77"), ("?22", "SVWZ+Rechnung 2026-0042 Gas"), ("?23", "lieferung Januar"),
        ("?30", "COBADEFFXXX"), ("?31", "DE89370400440532013000"), ("?32", "Muster GmbH"),
        ("EREF", "INV-2026-0042"), ("KREF", "K77"), ("SVWZ", "Rechnung 2026-0042 Gaslieferung Januar"),
    )
    assert short.detail_fields == (
        ("GVC", "166"), ("?00", "GUTSCHRIFT"), ("?20", "EREF+TX123"), ("?21", "SVWZ+Rechnung 7"),
        ("?30", "BLZ"), ("?31", "ACCT"), ("?32", "NAME"), ("EREF", "TX123"), ("SVWZ", "Rechnung 7"),
    )
    assert short.detail_field("SVWZ") == "Rechnung 7" and short.detail_field("GVC") == "166"


def test_taiwanese_free_text_has_no_structured_fields() -> None:
    tx = _read(THREE_PAGES, "big5").statements[0].transactions[0]
    assert tx.details == "大同瓦斯行 虛擬帳號 12345678901234 一月貨款" and tx.detail_fields == ()


def test_entry_dates_across_the_year_end_and_a_bank_code_account() -> None:
    (st,) = _read(YEAR_END).statements
    assert st.account == "12345678/0532013000"
    december, january = st.transactions
    assert (december.value_date, december.entry_date) == (date(2026, 12, 31), date(2027, 1, 2))
    assert (january.value_date, january.entry_date) == (date(2027, 1, 2), date(2026, 12, 31))
    assert st.closing == StatementBalance(date(2027, 1, 2), "USD", D(1060))


def test_three_decimal_kwd_and_zero_decimal_jpy() -> None:
    imported = _read(KWD_AND_JPY)
    kwd, jpy = imported.statements
    assert (kwd.opening.amount, kwd.transactions[0].amount, kwd.closing.amount) == (
        D("1250.125"), D("12.345"), D("1262.470")
    )
    assert [tx.amount for tx in jpy.transactions] == [D(-1000), D(500)]
    assert jpy.closing.amount == D(99500) and jpy.currency == "JPY"
    assert [(w.statement, w.code) for w in imported.warnings] == [(2, "extra_decimals")]
    assert "'500,0' has 1 decimals, the currency has 0" in imported.warnings[0].detail


def test_fields_longer_than_swift_allows_are_accepted_with_warnings() -> None:
    imported = _read(LONG_FIELDS)
    long, slashed = imported.statements
    assert long.reference == "LUCKYGAS-STMT-2026-01-14"
    assert long.account == "DE89370400440532013000EUR/SUBACCOUNT-0001"
    assert long.number == StatementNumber(123456, 1)
    (tx,) = long.transactions
    assert (tx.customer_reference, tx.bank_reference) == ("VA1234567890123456789", "BK-REFERENCE-TOO-LONG-0001")
    assert tx.amount == D("1234567890123.45") and tx.details.count("\n") == 6
    assert slashed.reference == "/STMT/0114/"
    assert slashed.transactions[0].value_date == date(2026, 1, 10)
    assert _warnings(imported) == Counter({
        (1, "long_field"): 8,  # :20: :25: :28C: :62F: amount, :61: amount, reference, bank reference, :86:
        (2, "reference_slashes"): 1, (2, "value_date_outside_period"): 1,
    })
    details = " | ".join(w.detail for w in imported.warnings)
    for expected in ("'LUCKYGAS-STMT-2026-01-14' is 24 characters, SWIFT allows 16", "allows 35",
                     "statement number '123456' is 6 characters, SWIFT allows 5", "reference 'VA1234567890123456789'",
                     "bank reference 'BK-REFERENCE-TOO-LONG-0001'", "amount '1234567890123,45' is 16 characters",
                     "7 lines", "value date 2026-01-10 outside 2026-01-13..2026-01-14"):
        assert expected in details


def test_the_mt940_library_reads_an_in_format_statement_as_we_do() -> None:
    """An independent reading: the mt-940 library on a statement inside the SWIFT formats."""
    import mt940  # the library stays our cross-check for what both can read

    text = THREE_PAGES.split("-\n")[3]  # the ordinary statement
    library = mt940.models.Transactions(options=mt940.Options(reversal_sign=True))
    library.parse(text)
    (ours,) = _read(text).statements
    assert library.data["final_opening_balance"].amount.amount == ours.opening.amount
    assert library.data["final_closing_balance"].amount.amount == ours.closing.amount
    (theirs,) = library.transactions
    (tx,) = ours.transactions
    assert (theirs.data["amount"].amount, theirs.data["date"], theirs.data["entry_date"]) == (
        tx.amount, tx.value_date, tx.entry_date
    )
    assert (theirs.data["id"], theirs.data["customer_reference"]) == (tx.type_code, tx.customer_reference)
