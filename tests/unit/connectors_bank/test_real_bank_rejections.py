"""Still fatal: each defect rejects the whole file, good statements beside it included, with reason and code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from connectors.bank.errors import (
    InvalidStatementFile,
    MalformedStatementFile,
    StatementFileRejected,
    UnbalancedStatementFile,
)
from connectors.bank.importer import read_statement_file
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.real_bank_samples import GOOD, THREE_PAGES, page

RULES = StatementRules()

# A good two-page statement built from `page`: 100 + 50 = 150 | 150 - 30 = 120.
LINE_50 = ":61:2601140114C50,NTRFNONREF\n"
LINE_30 = ":61:2601140114D30,NTRFNONREF\n"
PAGE_1 = page("00070/1", "60F:C260113TWD100,", LINE_50, "62M:C260114TWD150,")
PAGE_2 = page("00070/2", "60M:C260114TWD150,", LINE_30, "62F:C260114TWD120,")


def _reject(text: str) -> StatementFileRejected:
    with pytest.raises(StatementFileRejected) as caught:
        read_statement_file("bad.sta", text.encode("utf-8"), RULES)
    return caught.value


def _codes(error: StatementFileRejected) -> list[tuple[int, str]]:
    return [(p.statement, p.code) for p in error.problems]


def test_the_hand_built_pages_are_good_on_their_own() -> None:
    imported = read_statement_file("ok.sta", (GOOD + PAGE_1 + PAGE_2).encode(), RULES)
    assert [(s.pages, s.closing.amount) for s in imported.statements] == [(1, Decimal(150)), (2, Decimal(120))]


def test_unbalanced_statement_beside_good_ones() -> None:
    bad = page("00071", "60F:C260113TWD100,", LINE_50, "62F:C260114TWD151,")
    error = _reject(GOOD + bad + THREE_PAGES)
    assert isinstance(error, UnbalancedStatementFile)
    assert _codes(error) == [(2, "unbalanced")]
    assert "opening 100 + movements 50 = 150, but closing is 151" in str(error)


def test_an_unbalanced_page_inside_a_chain() -> None:
    # Page 2 of 3 is off by one; its :62M: still equals page 3's :60M:, so only the page is wrong.
    page_2 = page("00070/2", "60M:C260114TWD150,", LINE_30, "62M:C260114TWD121,")
    page_3 = page("00070/3", "60M:C260114TWD121,", "", "62F:C260114TWD121,")
    error = _reject(GOOD + PAGE_1 + page_2 + page_3)
    assert isinstance(error, UnbalancedStatementFile)
    assert _codes(error) == [(3, "unbalanced")]


def test_a_chain_break_between_pages() -> None:
    broken_amount = page("00070/2", "60M:C260114TWD149,", LINE_30, "62F:C260114TWD119,")
    error = _reject(PAGE_1 + broken_amount + GOOD)
    assert isinstance(error, UnbalancedStatementFile)
    assert _codes(error) == [(2, "page_chain")]
    assert ":60M: C 2026-01-14 TWD 149 is not the previous page's :62M: C 2026-01-14 TWD 150" in str(error)
    broken_date = page("00070/2", "60M:C260113TWD150,", LINE_30, "62F:C260114TWD120,")
    assert isinstance(_reject(PAGE_1 + broken_date), MalformedStatementFile)
    other_account = page("00070/2", "60M:C260114TWD150,", LINE_30, "62F:C260114TWD120,", account="0089876543210")
    assert _codes(_reject(PAGE_1 + other_account)) == [(2, "page_chain")]
    same_sequence = page("00070/1", "60M:C260114TWD150,", LINE_30, "62F:C260114TWD120,")
    error = _reject(PAGE_1 + same_sequence)
    assert _codes(error) == [(2, "page_chain")] and "does not follow" in str(error)
    other_number = page("00071/2", "60M:C260114TWD150,", LINE_30, "62F:C260114TWD120,")
    assert _codes(_reject(PAGE_1 + other_number)) == [(2, "page_chain")]


def test_62m_without_its_continuation() -> None:
    at_the_end = _reject(GOOD + PAGE_1)
    assert isinstance(at_the_end, MalformedStatementFile)
    assert _codes(at_the_end) == [(2, "incomplete_statement")]
    assert "file ends" in str(at_the_end)
    followed_by_a_new_statement = _reject(PAGE_1 + GOOD)
    assert _codes(followed_by_a_new_statement) == [(1, "incomplete_statement")]


def test_60m_page_without_a_page_before_it() -> None:
    error = _reject(GOOD + PAGE_2)
    assert isinstance(error, MalformedStatementFile)
    assert _codes(error) == [(2, "page_chain")]


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        (":61:2601140114C5", [(2, "missing_tag"), (2, "bad_field")]),  # cut inside :61:, no :62F:
        (":61:2601140114C50,NTRFNONREF\n:62F:C2601", [(2, "bad_field")]),  # cut inside :62F:
        (":61:2601140114C50,NTRFNONREF\n", [(2, "missing_tag")]),  # cut before :62F:
    ],
    ids=["inside-61", "inside-62F", "no-62F"],
)
def test_a_truncated_file(cut: str, expected: list[tuple[int, str]]) -> None:
    truncated = GOOD + ":20:CUT\n:25:0081234567890\n:28C:00091\n:60F:C260113TWD100,\n" + cut
    error = _reject(truncated)
    assert isinstance(error, MalformedStatementFile)
    assert _codes(error) == expected


def test_text_after_the_last_tag_is_not_a_header() -> None:
    junk_in_field = _reject(GOOD.replace("-\n", "END OF STATEMENT\n-\n"))
    assert _codes(junk_in_field) == [(1, "bad_field")]
    assert "62F" in str(junk_in_field)
    junk_after_end = _reject(GOOD + "END OF FILE 3 RECORDS\n")
    assert isinstance(junk_after_end, MalformedStatementFile)
    assert _codes(junk_after_end) == [(0, "trailing_text")]


def test_a_statement_that_lost_its_20_is_not_skipped_as_a_header() -> None:
    error = _reject(GOOD + GOOD.replace(":20:GOOD0114\n", ""))
    assert _codes(error) == [(0, "tag_outside_statement")]


@pytest.mark.parametrize("code", ["XXQ", "NT$", "XAU"])
def test_an_unknown_currency(code: str) -> None:
    bad = page("00072", f"60F:C260113{code}100,", "", f"62F:C260114{code}100,")
    error = _reject(GOOD + bad)
    assert isinstance(error, MalformedStatementFile)
    assert _codes(error) == [(2, "unknown_currency"), (2, "unknown_currency")]


@pytest.mark.parametrize(
    ("currency", "opening", "line_amount"),
    [("TWD", "100,", "50,001"), ("JPY", "100,", "50,5"), ("KWD", "100,000", "50,0001")],
)
def test_a_non_zero_digit_beyond_the_currency_decimals(currency: str, opening: str, line_amount: str) -> None:
    bad = page("00073", f"60F:C260113{currency}{opening}", f":61:2601140114C{line_amount}NTRFNONREF\n",
               f"62F:C260114{currency}150,")
    error = _reject(GOOD + bad)
    assert isinstance(error, MalformedStatementFile)
    assert _codes(error) == [(2, "bad_amount")]


def test_closing_before_opening() -> None:
    bad = page("00074", "60F:C260115TWD100,", "", "62F:C260114TWD100,")
    error = _reject(bad + GOOD)
    assert isinstance(error, InvalidStatementFile)
    assert _codes(error) == [(1, "date_order")]


def test_mixed_currencies_in_a_statement() -> None:
    available_in_usd = GOOD.replace("-\n", ":64:C260114USD150,\n-\n")
    assert _codes(_reject(GOOD + available_in_usd)) == [(2, "currency_mismatch")]
