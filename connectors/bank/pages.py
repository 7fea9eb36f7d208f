"""Join the messages (pages) of a file into logical statements and check the chain between pages.

A long statement may be split over consecutive messages: the first page opens :60F:, each following page
opens :60M:, every page but the last closes :62M:, the last closes :62F:. Contract of `assemble(slots)`:
one `ImportedStatement` per chain of pages, in file order, plus the chain's problems and warnings:

- fatal "incomplete_statement": a page closing :62M: whose continuation (:60M:) is not the next message;
- fatal "page_chain": a :60M: page without a :62M: page right before it; or a following page whose :25:
  account or statement number differs, whose sequence number does not increase (when both are given), or
  whose :60M: is not the previous :62M: (date, mark, currency, amount; a different amount is UNBALANCED);
- fatal "booking_outside_period": a line with an entry date outside first opening date .. last closing date;
  warning "value_date_outside_period": a line without entry date whose value date is outside it
  (back-valued bookings exist).

Each page is balanced and checked on its own before (`validate.check_page`); with the links equal, the
chain as a whole balances too.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from connectors.bank.errors import ImportWarning, RejectReason, StatementProblem
from connectors.bank.fields import Balance, LineFields
from connectors.bank.statement import BankTransaction, ImportedStatement, StatementBalance, StatementNumber


@dataclass(frozen=True, slots=True)
class PageLine:
    """A :61: line with its :86: text and structured sub-fields, and where it is in the file."""

    fields: LineFields
    details: str
    detail_fields: tuple[tuple[str, str], ...]
    tag_line: int


@dataclass(frozen=True, slots=True)
class Page:
    """One message whose fields all passed their formats."""

    index: int
    reference: str
    account: str
    number: StatementNumber
    opening: Balance  # kind "F" (:60F:) or "M" (:60M:)
    closing: Balance  # kind "F" (:62F:) or "M" (:62M:)
    lines: tuple[PageLine, ...]
    available: StatementBalance | None
    forward_available: tuple[StatementBalance, ...]
    information: str

    @property
    def currency(self) -> str:
        return self.opening.balance.currency


@dataclass(frozen=True, slots=True)
class PageSlot:
    """A message's place in the chain: its opening and closing kinds ("F", "M" or None when missing) and
    the page, or None when the message had problems of its own."""

    index: int
    opening: str | None
    closing: str | None
    page: Page | None


@dataclass(frozen=True, slots=True)
class Source:
    file_name: str
    sha256: str
    encoding: str


@dataclass
class _Report:
    problems: list[StatementProblem]
    warnings: list[ImportWarning]

    def fatal(self, index: int, code: str, detail: str, reason: RejectReason = RejectReason.MALFORMED) -> None:
        self.problems.append(StatementProblem(index, code, detail, reason))


def _chains(slots: Sequence[PageSlot], report: _Report) -> list[list[PageSlot]]:
    """The slots grouped into chains; broken chains are reported and left out."""
    chains: list[list[PageSlot]] = []
    current: list[PageSlot] | None = None
    broken = False
    for slot in slots:
        if slot.opening == "M" and current is None:
            report.fatal(slot.index, "page_chain", "opens with :60M: but the message before it does not close "
                                                   "with :62M: (an intermediate page without its first page)")
            current, broken = [], True
        elif slot.opening != "M" and current is not None:
            report.fatal(current[-1].index, "incomplete_statement",
                         "closes with :62M: but the next message starts a new statement instead of going on")
            current, broken = None, False
        current = [*(current or []), slot]
        if slot.closing != "M":
            if not broken:
                chains.append(current)
            current, broken = None, False
    if current is not None:
        report.fatal(current[-1].index, "incomplete_statement",
                     "closes with :62M: but the file ends before the statement's next page")
    return chains


def _check_link(before: Page, after: Page, report: _Report) -> None:
    """`after` must continue `before`: same account and number, growing sequence, :60M: == :62M:."""
    if after.account != before.account:
        report.fatal(after.index, "page_chain", f"account {after.account!r} differs from the previous page's "
                                                f"{before.account!r}")
    if after.number.number != before.number.number:
        report.fatal(after.index, "page_chain", f"statement number {after.number} does not continue "
                                                f"{before.number} of the previous page")
    elif None not in (after.number.sequence, before.number.sequence) and (
        (after.number.sequence or 0) <= (before.number.sequence or 0)
    ):
        report.fatal(after.index, "page_chain", f"sequence number {after.number} does not follow {before.number}")
    opening, closing = after.opening, before.closing
    detail = (f":60M: {opening.mark} {opening.balance.on} {opening.balance.currency} {opening.balance.amount} is "
              f"not the previous page's :62M: {closing.mark} {closing.balance.on} {closing.balance.currency} "
              f"{closing.balance.amount}")
    if (opening.balance.on, opening.balance.currency) != (closing.balance.on, closing.balance.currency):
        report.fatal(after.index, "page_chain", detail)
    elif (opening.mark, opening.balance.amount) != (closing.mark, closing.balance.amount):
        report.fatal(after.index, "page_chain", detail, RejectReason.UNBALANCED)


def _check_period(pages: Sequence[Page], report: _Report) -> None:
    first, last = pages[0].opening.balance.on, pages[-1].closing.balance.on
    for page in pages:
        for line in page.lines:
            booked = line.fields.entry_date or line.fields.value_date
            if first <= booked <= last:
                continue
            if line.fields.entry_date is not None:
                report.fatal(page.index, "booking_outside_period", f":61: on line {line.tag_line} booked "
                                                                   f"{booked}, outside {first}..{last}",
                             RejectReason.INVALID)
            else:
                detail = f":61: on line {line.tag_line} has value date {booked} outside {first}..{last}"
                report.warnings.append(ImportWarning(page.index, "value_date_outside_period", detail))


def _statement(pages: Sequence[Page], source: Source) -> ImportedStatement:
    first, last = pages[0], pages[-1]
    transactions = tuple(
        BankTransaction(
            account=first.account, statement_number=first.number, line=number,
            value_date=line.fields.value_date, entry_date=line.fields.entry_date, mark=line.fields.mark,
            amount=line.fields.amount, currency=page.currency, type_code=line.fields.type_code,
            customer_reference=line.fields.customer_reference, bank_reference=line.fields.bank_reference,
            details=line.details, funds_code=line.fields.funds_code, supplementary=line.fields.supplementary,
            detail_fields=line.detail_fields,
        )
        for number, (page, line) in enumerate(((p, ln) for p in pages for ln in p.lines), start=1)
    )
    return ImportedStatement(
        reference=first.reference, account=first.account, number=first.number,
        opening=first.opening.balance, closing=last.closing.balance, transactions=transactions,
        source_file=source.file_name, file_sha256=source.sha256, encoding=source.encoding,
        information="\n".join(p.information for p in pages if p.information), pages=len(pages),
        available=last.available, forward_available=tuple(b for p in pages for b in p.forward_available),
    )


def assemble(
    slots: Sequence[PageSlot], source: Source
) -> tuple[list[ImportedStatement], list[StatementProblem], list[ImportWarning]]:
    """The logical statements of the file's messages, with the chain's problems and warnings.

    Statements are built only from chains whose every page parsed; any problem rejects the file anyway.
    """
    report = _Report([], [])
    statements: list[ImportedStatement] = []
    for chain in _chains(slots, report):
        pages = [slot.page for slot in chain if slot.page is not None]
        if len(pages) != len(chain):
            continue
        for before, after in itertools.pairwise(pages):
            _check_link(before, after, report)
        _check_period(pages, report)
        statements.append(_statement(pages, source))
    return statements, report.problems, report.warnings
