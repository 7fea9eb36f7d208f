"""Each statement is validated on its own; any bad statement rejects the whole file with every reason."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.bank.errors import (
    InvalidStatementFile,
    MalformedStatementFile,
    RejectReason,
    StatementFileRejected,
    StatementProblem,
    UnbalancedStatementFile,
)
from connectors.bank.importer import read_statement_file
from connectors.bank.validate import StatementRules
from tests.unit.connectors_bank.mt940_samples import (
    ACCOUNT,
    OTHER_ACCOUNT,
    Line,
    statement,
    statement_file,
    without_tag,
)

RULES = StatementRules()


def _reject(text: str, rules: StatementRules = RULES) -> StatementFileRejected:
    with pytest.raises(StatementFileRejected) as caught:
        read_statement_file("bad.sta", text.encode("utf-8"), rules)
    return caught.value


def _codes(error: StatementFileRejected) -> list[tuple[int, str]]:
    return [(p.statement, p.code) for p in error.problems]


@pytest.mark.parametrize("tag", [":20:", ":25:", ":28C:", ":60F:", ":62F:"])
def test_each_required_tag_missing_is_malformed(tag: str) -> None:
    error = _reject(without_tag(statement(), tag))
    assert isinstance(error, MalformedStatementFile)
    if tag == ":20:":  # without :20: there is no statement start at all
        assert _codes(error) == [(0, "no_statements")]
    else:
        assert (1, "missing_tag") in _codes(error)
        assert tag.strip(":") in str(error)


def test_a_statement_without_lines_is_accepted_only_when_it_balances() -> None:
    # No :61: is no longer a missing tag: a day without movements has opening = closing.
    (st,) = read_statement_file("e.sta", statement(lines=(), opening="5000,").encode(), RULES).statements
    assert st.transactions == () and st.opening.amount == st.closing.amount == 5000
    error = _reject(without_tag(statement(), ":61:"))  # the closing still counts the removed line
    assert isinstance(error, UnbalancedStatementFile) and _codes(error) == [(1, "unbalanced")]


def test_repeated_and_unknown_tags_are_malformed() -> None:
    text = statement().replace(":28C:", ":25:0081234567890\n:99X:odd\n:28C:")
    error = _reject(text)
    assert set(_codes(error)) >= {(1, "repeated_tag"), (1, "unexpected_tag")}


def test_tags_out_of_order_are_malformed() -> None:
    lines = statement().split("\n")  # 20 25 28C 60F 61 62F
    swapped = "\n".join([lines[0], lines[2], lines[1], *lines[3:]])
    assert (1, "tag_order") in _codes(_reject(swapped))
    closing_first = statement().replace(":61:", ":62F:C260114TWD151000,\n:61:").rsplit("\n:62F:", 1)[0] + "\n"
    assert (1, "tag_order") in _codes(_reject(closing_first))


def test_details_not_following_a_statement_line_are_malformed() -> None:
    text = statement().replace(":28C:", ":86:stray details\n:28C:")
    assert (1, "tag_order") in _codes(_reject(text))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (statement(lines=(Line(value="260230"),)), "bad_date"),  # Feb 30 (the library would "fix" it)
        (statement(opening_date="261340"), "bad_date"),  # month 13
        (statement(lines=(Line(entry="0132"),)), "bad_date"),  # entry date Jan 32
        (statement(opening="150000"), "bad_field"),  # no decimal comma
        (statement(opening="150000,123"), "bad_amount"),  # a third, non-zero decimal: TWD has two
        (statement(lines=(Line(amount="12.50"),)), "bad_field"),  # a point is not the SWIFT separator
        (statement(number="12/3/4"), "bad_field"),
        (statement(reference=""), "bad_field"),  # :20: is mandatory 16x (a long one only warns)
        (statement(currency="NT$"), "unknown_currency"),
        (statement(currency="XXQ"), "unknown_currency"),
        (statement(lines=(Line(reference=""),)), "bad_field"),  # 16x customer reference is mandatory
    ],
    ids=["feb30", "month13", "entry-day", "no-comma", "decimals", "point", "number", "no-20", "ccy", "ccy-iso", "no-ref"],
)
def test_bad_fields_and_dates_are_malformed(text: str, code: str) -> None:
    error = _reject(text)
    assert isinstance(error, MalformedStatementFile)
    assert (1, code) in _codes(error)


def test_unbalanced_statement_is_rejected_with_the_numbers() -> None:
    error = _reject(statement(opening="150000,", lines=(Line(amount="1000,"),), closing="150999,"))
    assert isinstance(error, UnbalancedStatementFile)
    assert _codes(error) == [(1, "unbalanced")]
    assert "opening 150000 + movements 1000 = 151000, but closing is 150999" in str(error)


def test_debit_balances_count_negative() -> None:
    # D500 opening, +700 credit -> C200 closing: balanced.
    text = statement(opening="500,", opening_mark="D", lines=(Line(amount="700,"),))
    (st,) = read_statement_file("d.sta", text.encode(), RULES).statements
    assert st.closing.amount == 200
    wrong_mark = statement(opening="500,", opening_mark="D", lines=(Line(amount="700,"),), closing_mark="D")
    assert isinstance(_reject(wrong_mark), UnbalancedStatementFile)


def test_rules_unknown_account_future_and_bookings_outside_the_period_are_invalid() -> None:
    rules = StatementRules(known_accounts=frozenset({ACCOUNT}), today=date(2026, 1, 14))
    error = _reject(statement(account=OTHER_ACCOUNT), rules)
    assert isinstance(error, InvalidStatementFile) and _codes(error) == [(1, "unknown_account")]
    assert _codes(_reject(statement(closing_date="260115"), rules)) == [(1, "future_statement")]
    outside = statement(lines=(Line(value="260110", entry="0110"),))
    assert _codes(_reject(outside, rules)) == [(1, "booking_outside_period")]
    # Without an entry date only the value date is known: a back-valued line, accepted with a warning.
    back_valued = read_statement_file("b.sta", statement(lines=(Line(value="260110", entry=None),)).encode(), rules)
    assert [(w.statement, w.code) for w in back_valued.warnings] == [(1, "value_date_outside_period")]
    reversed_dates = statement(opening_date="260115", closing_date="260114", lines=(Line(value="260114"),))
    assert (1, "date_order") in _codes(_reject(reversed_dates))


def test_currency_mismatch_between_balances_is_invalid() -> None:
    text = statement().replace(":62F:C260114TWD", ":62F:C260114USD")
    assert (1, "currency_mismatch") in _codes(_reject(text))


def test_one_bad_statement_rejects_the_whole_file_and_names_it() -> None:
    good_1 = statement(reference="OK1", number="00001")
    bad = statement(reference="BAD2", number="00002", closing="1,")
    good_3 = statement(reference="OK3", number="00003")
    error = _reject(statement_file(good_1, bad, good_3))
    assert isinstance(error, UnbalancedStatementFile)
    assert _codes(error) == [(2, "unbalanced")]
    assert error.file_name == "bad.sta" and len(error.sha256) == 64


def test_the_most_basic_failure_names_the_rejection_and_all_problems_are_kept() -> None:
    unbalanced = statement(reference="U1", number="00001", closing="1,")
    malformed = without_tag(statement(reference="M2", number="00002"), ":25:")
    error = _reject(statement_file(unbalanced, malformed))
    assert isinstance(error, MalformedStatementFile)
    assert _codes(error) == [(1, "unbalanced"), (2, "missing_tag")]
    assert error.reason is RejectReason.MALFORMED


def test_rejection_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        StatementFileRejected.for_problems("f", "0" * 64, ())
    problem = StatementProblem(3, "unbalanced", "x", RejectReason.UNBALANCED)
    assert str(problem) == "statement 3: unbalanced: x"
