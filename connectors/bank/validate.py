"""Validate the messages of an MT940 file: tags, SWIFT field formats, our rules, balances, page chains.

Contract of `check_file`: the logical statements, the problems and the warnings of all messages. It never
raises for bad input; any problem means the caller rejects the whole file. Checks, in order:
1. tags per message (`check_tags`): :20: :25: :28C:|:28: :60F:|:60M: :62F:|:62M: exactly once each, in
   SWIFT order (:61: lines between the opening and closing balance, :64:/:65: after the closing balance),
   :86: only right after a :61: or after the closing/available balances, no unknown tags;
2. field formats (`mt940_parse.read_page` with `fields` and `details`);
3. page rules (`check_page_rules`): known account, one currency, opening date <= closing date, closing date
   not after today, and opening + movements == closing;
4. pages joined into statements (`pages.assemble`): the :60M:/:62M: chain, bookings inside the period.

Tolerated, with an `ImportWarning` beside the import (never a rejection):
- text before a message's :20: ("header_text_skipped"; the ":940:" line and SWIFT envelope blocks, SOH/ETX,
  "-" markers and blank lines are skipped silently);
- fields longer than SWIFT allows ("long_field"): :20: > 16x, :25: > 35x, statement or sequence number
  > 5n, :61: reference > 16x, bank reference > 16x, supplementary details > 34x, amount > 15d, :86: over
  6 lines of 65;
- a :20: with a leading/trailing "/" or "//" ("reference_slashes");
- an amount with more decimals than its currency has, the extra ones zeros ("extra_decimals");
- a :61: reference of blanks ("blank_reference"), "//" without a bank reference ("empty_bank_reference");
- a :61: without entry date whose value date is outside the statement period ("value_date_outside_period").
Accepted silently: no :61: at all (opening = closing), :28: instead of :28C:, pages (:60M:/:62M:), IBAN or
bank-code/account in :25:, any ISO 4217 currency with its own decimals and fewer written ("1000,"), a
funds code, no entry date, no bank reference, the second :61: line or not, spaces before the reference,
entry dates across a year end, structured :86: (GVC "?NN", SWIFT "/KEY/"), :64:/:65:, CRLF/LF/CR.

Fatal (the whole file is rejected with every problem): MALFORMED -- undecodable bytes, no statement,
a missing/repeated/unknown tag or tags out of order ("missing_tag", "repeated_tag", "unexpected_tag",
"tag_order"), a tag outside any message, text after the last message, a field that breaks its format
or is cut short ("bad_field", e.g. a file truncated inside :61: or :62F:), invalid calendar dates
("bad_date"), an unknown currency ("unknown_currency"), a non-zero digit beyond the currency's decimals
("bad_amount"), a :62M: page without its continuation ("incomplete_statement"), a :60M: page without a
page before it or not continuing it ("page_chain"); INVALID -- an unknown account, mixed currencies
("currency_mismatch"), a closing date before the opening date ("date_order"), a future statement, an
entry date outside the period ("booking_outside_period"); UNBALANCED -- a page whose opening + movements
!= closing ("unbalanced"), or a :60M: amount that is not the previous :62M: ("page_chain").
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from connectors.bank.errors import ImportWarning, RejectReason, StatementProblem
from connectors.bank.fields import Findings
from connectors.bank.mt940_parse import RawStatement, RawTag, read_page
from connectors.bank.pages import Page, PageSlot, Source, assemble
from connectors.bank.statement import ImportedStatement

# Each group: exactly one of its tags per message.
REQUIRED_ONCE: tuple[tuple[str, ...], ...] = (("20",), ("25",), ("28C", "28"), ("60F", "60M"), ("62F", "62M"))
OPTIONAL_ONCE = ("21", "13D", "34F", "64", "90D", "90C")
REPEATABLE = ("61", "86", "65", "NS")
_KNOWN_TAGS = frozenset(itertools.chain(*REQUIRED_ONCE, OPTIONAL_ONCE, REPEATABLE))
# A :86: belongs to the :61: before it, or (after these) to the whole statement.
_DETAILS_MAY_FOLLOW = frozenset({"61", "62F", "62M", "64", "65", "90D", "90C"})


@dataclass(frozen=True, slots=True)
class StatementRules:
    """Our rules on top of the SWIFT format; `today` is the Asia/Taipei business day of the import."""

    known_accounts: frozenset[str] = frozenset()
    today: date | None = None


@dataclass(frozen=True, slots=True)
class CheckedFile:
    statements: tuple[ImportedStatement, ...]
    problems: tuple[StatementProblem, ...]
    warnings: tuple[ImportWarning, ...]


def _malformed(raw: RawStatement, code: str, detail: str) -> StatementProblem:
    return StatementProblem(raw.index, code, detail, RejectReason.MALFORMED)


def _names(group: tuple[str, ...]) -> str:
    return " or ".join(f":{tag}:" for tag in group)


def _check_counts(raw: RawStatement) -> list[StatementProblem]:
    counts = Counter(t.tag for t in raw.tags)
    problems: list[StatementProblem] = []
    for group in REQUIRED_ONCE:
        total = sum(counts[tag] for tag in group)
        if not total:
            problems.append(_malformed(raw, "missing_tag", f"{_names(group)} is required"))
        elif total > 1:
            problems.append(_malformed(raw, "repeated_tag", f"{_names(group)} appears {total} times"))
    for tag in OPTIONAL_ONCE:
        if counts[tag] > 1:
            problems.append(_malformed(raw, "repeated_tag", f":{tag}: appears {counts[tag]} times"))
    for tag in sorted(set(counts) - _KNOWN_TAGS):
        problems.append(_malformed(raw, "unexpected_tag", f":{tag}: is not an MT940 statement tag we accept"))
    return problems


def _first(tags: tuple[RawTag, ...], group: tuple[str, ...]) -> tuple[str, int] | None:
    return next(((t.tag, i) for i, t in enumerate(tags) if t.tag in group), None)


def _check_order(raw: RawStatement) -> list[StatementProblem]:
    tags = raw.tags
    present = [found for group in REQUIRED_ONCE if (found := _first(tags, group)) is not None]
    problems = [
        _malformed(raw, "tag_order", f":{a}: must come before :{b}:")
        for (a, pa), (b, pb) in itertools.pairwise(present)
        if pa > pb
    ]
    lines = [i for i, t in enumerate(tags) if t.tag == "61"]
    opening, closing = _first(tags, ("60F", "60M")), _first(tags, ("62F", "62M"))
    if lines and opening and lines[0] < opening[1]:
        problems.append(_malformed(raw, "tag_order", f":61: lines must come after :{opening[0]}:"))
    if lines and closing and lines[-1] > closing[1]:
        problems.append(_malformed(raw, "tag_order", f":61: lines must come before :{closing[0]}:"))
    available, forward = _first(tags, ("64",)), _first(tags, ("65",))
    for later in (available, forward):
        if closing and later and later[1] < closing[1]:
            problems.append(_malformed(raw, "tag_order", f":{later[0]}: must come after :{closing[0]}:"))
    if available and forward and forward[1] < available[1]:
        problems.append(_malformed(raw, "tag_order", ":65: must come after :64:"))
    for i, tag in enumerate(tags):
        if tag.tag == "86" and (i == 0 or tags[i - 1].tag not in _DETAILS_MAY_FOLLOW):
            problems.append(_malformed(raw, "tag_order", f":86: on line {tag.line} does not follow a :61:"))
    return problems


def check_tags(raw: RawStatement) -> list[StatementProblem]:
    """Tag presence, repetition and order of one message."""
    return _check_counts(raw) + _check_order(raw)


def check_page_rules(page: Page, rules: StatementRules, findings: Findings) -> None:
    """Our rules and the balance equation for one parsed page; problems go to `findings`."""
    invalid = RejectReason.INVALID
    opening, closing = page.opening.balance, page.closing.balance
    if rules.known_accounts and page.account not in rules.known_accounts:
        findings.fatal("unknown_account", f"account {page.account!r} is not ours", invalid)
    currencies = {opening.currency, closing.currency, *(b.currency for b in page.forward_available)}
    if page.available is not None:
        currencies.add(page.available.currency)
    if len(currencies) > 1:
        findings.fatal("currency_mismatch", f"opening in {opening.currency}, but balances in "
                                            f"{', '.join(sorted(currencies - {opening.currency}))}", invalid)
    if opening.on > closing.on:
        findings.fatal("date_order", f"opening balance date {opening.on} is after closing date {closing.on}", invalid)
    if rules.today is not None and closing.on > rules.today:
        findings.fatal("future_statement", f"closing date {closing.on} is after today ({rules.today})", invalid)
    movements = sum((line.fields.amount for line in page.lines), start=Decimal(0))
    if opening.amount + movements != closing.amount:
        detail = (f"opening {opening.amount} + movements {movements} = {opening.amount + movements}, "
                  f"but closing is {closing.amount}")
        findings.fatal("unbalanced", detail, RejectReason.UNBALANCED)


def _kind(raw: RawStatement, opening_or_closing: str) -> str | None:
    found = _first(raw.tags, (f"{opening_or_closing}F", f"{opening_or_closing}M"))
    return found[0][-1] if found else None


def check_page(raw: RawStatement, rules: StatementRules, findings: Findings) -> Page | None:
    """One message checked on its own: its page when tags and fields are good (rules may still have
    failed: see `findings`), None otherwise. Problems and warnings go to `findings`."""
    findings.problems.extend(check_tags(raw))
    page = read_page(raw, findings)  # field problems too, so a cut field is named beside the missing tag
    if page is None or findings.problems:
        return None
    check_page_rules(page, rules, findings)
    return page


def check_file(
    raws: Sequence[RawStatement], rules: StatementRules, *, file_name: str, sha256: str, encoding: str
) -> CheckedFile:
    """Every message checked, pages joined into statements; problems and warnings ordered by message."""
    problems: list[StatementProblem] = []
    warnings: list[ImportWarning] = []
    slots: list[PageSlot] = []
    for raw in raws:
        findings = Findings(raw.index)
        page = check_page(raw, rules, findings)
        slots.append(PageSlot(raw.index, _kind(raw, "60"), _kind(raw, "62"), page))
        problems.extend(findings.problems)
        warnings.extend(findings.warnings)
    statements, chain_problems, chain_warnings = assemble(slots, Source(file_name, sha256, encoding))
    return CheckedFile(
        tuple(statements),
        tuple(sorted([*problems, *chain_problems], key=lambda p: p.statement)),
        tuple(sorted([*warnings, *chain_warnings], key=lambda w: w.statement)),
    )
