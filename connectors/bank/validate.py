"""Validate each MT940 statement on its own: tags, SWIFT field formats, our rules, and the balance.

Contract of `check_statement`: returns the typed statement and no problems, or `None` and every problem
found. It never raises for bad input. Checks, in order:
1. tags (`check_tags`): :20: :25: :28C: :60F: :62F: exactly once, at least one :61:, SWIFT order,
   :86: only right after a :61: or after the closing balance, no unknown tags;
2. field formats (`check_fields`): references, 5n[/5n] numbers, balances 1!a6!n3!a15d with a decimal
   comma ("1000," is a whole TWD amount), :61: statement lines, real calendar dates (no Feb 30);
3. only then the mt-940 library parse (it accepts too much to be the validator);
4. rules (`check_rules`): known account, one currency, opening date <= closing date, bookings inside the
   period, closing date not after today, and opening + movements == closing.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from connectors.bank.errors import RejectReason, StatementProblem
from connectors.bank.mt940_parse import RawStatement, RawTag, to_imported_statement
from connectors.bank.statement import ImportedStatement

REQUIRED_ONCE = ("20", "25", "28C", "60F", "62F")
OPTIONAL_ONCE = ("21", "13D", "34F", "64", "90D", "90C")
REPEATABLE = ("61", "86", "65", "NS")
_KNOWN_TAGS = frozenset(REQUIRED_ONCE + OPTIONAL_ONCE + REPEATABLE)
# A :86: belongs to the :61: before it, or (after these) to the whole statement.
_DETAILS_MAY_FOLLOW = frozenset({"61", "62F", "64", "65", "90D", "90C"})

_REFERENCE = re.compile(r"^(?!/)(?!.*//)[^\n]{1,16}(?<!/)$")  # 16x, no leading/trailing "/", no "//"
_ACCOUNT = re.compile(r"^[^\n]{1,35}$")  # 35x
_NUMBER = re.compile(r"^\d{1,5}(?:/\d{1,5})?$")  # 5n[/5n]
_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[A-Z]{3})(?P<amount>\d+,\d{0,2})$")
_LINE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?(?P<amount>\d+,\d{0,2})"
    r"(?P<type>[NSF][A-Z0-9]{3})(?P<reference>(?:(?!//)[^\n]){1,16})(?://(?P<bank>[^\n]{1,16}))?"
    r"(?:\n(?P<supplementary>[^\n]*))?$"
)
_MAX_AMOUNT_CHARS = 15  # "15d": digits plus the decimal comma


@dataclass(frozen=True, slots=True)
class StatementRules:
    """Our rules on top of the SWIFT format; `today` is the Asia/Taipei business day of the import."""

    known_accounts: frozenset[str] = frozenset()
    today: date | None = None


def _problem(raw: RawStatement, code: str, detail: str, reason: RejectReason) -> StatementProblem:
    return StatementProblem(raw.index, code, detail, reason)


def _malformed(raw: RawStatement, code: str, detail: str) -> StatementProblem:
    return _problem(raw, code, detail, RejectReason.MALFORMED)


def _positions(tags: tuple[RawTag, ...], name: str) -> list[int]:
    return [i for i, t in enumerate(tags) if t.tag == name]


def _check_counts(raw: RawStatement) -> list[StatementProblem]:
    counts = Counter(t.tag for t in raw.tags)
    problems = [_malformed(raw, "missing_tag", f":{tag}: is required") for tag in REQUIRED_ONCE if not counts[tag]]
    if not counts["61"]:
        problems.append(_malformed(raw, "missing_tag", "at least one :61: statement line is required"))
    for tag in REQUIRED_ONCE + OPTIONAL_ONCE:
        if counts[tag] > 1:
            problems.append(_malformed(raw, "repeated_tag", f":{tag}: appears {counts[tag]} times"))
    for tag in sorted(set(counts) - _KNOWN_TAGS):
        problems.append(_malformed(raw, "unexpected_tag", f":{tag}: is not an MT940 statement tag we accept"))
    return problems


def _check_order(raw: RawStatement) -> list[StatementProblem]:
    tags = raw.tags
    first = {name: _positions(tags, name) for name in ("20", "25", "28C", "60F", "61", "62F", "64", "65")}
    chain = [("20", first["20"][:1]), ("25", first["25"][:1]), ("28C", first["28C"][:1]),
             ("60F", first["60F"][:1]), ("61", first["61"][:1])]
    present = [(name, pos[0]) for name, pos in chain if pos]
    problems = [
        _malformed(raw, "tag_order", f":{a}: must come before :{b}:")
        for (a, pa), (b, pb) in itertools.pairwise(present)
        if pa > pb
    ]
    if first["62F"] and first["61"] and first["61"][-1] > first["62F"][0]:
        problems.append(_malformed(raw, "tag_order", ":61: lines must come before :62F:"))
    for later in ("64", "65"):
        if first["62F"] and first[later] and first[later][0] < first["62F"][0]:
            problems.append(_malformed(raw, "tag_order", f":{later}: must come after :62F:"))
    for i in _positions(tags, "86"):
        if i == 0 or tags[i - 1].tag not in _DETAILS_MAY_FOLLOW:
            problems.append(_malformed(raw, "tag_order", f":86: on line {tags[i].line} does not follow a :61:"))
    return problems


def check_tags(raw: RawStatement) -> list[StatementProblem]:
    """Tag presence, repetition and order of one statement."""
    return _check_counts(raw) + _check_order(raw)


def _yymmdd(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _check_balance_field(raw: RawStatement, tag: RawTag) -> list[StatementProblem]:
    match = _BALANCE.match(tag.value)
    if not match or len(match.group("amount")) > _MAX_AMOUNT_CHARS:
        return [_malformed(raw, "bad_field", f":{tag.tag}:{tag.value!r} is not 1!a6!n3!a15d (e.g. C260114TWD1000,)")]
    if _yymmdd(match.group("date")) is None:
        return [_malformed(raw, "bad_date", f":{tag.tag}: date {match.group('date')!r} is not a calendar date")]
    return []


def _check_line_field(raw: RawStatement, tag: RawTag) -> list[StatementProblem]:
    match = _LINE.match(tag.value)
    if not match or len(match.group("amount")) > _MAX_AMOUNT_CHARS:
        return [_malformed(raw, "bad_field", f":61: on line {tag.line} {tag.value!r} is not a SWIFT statement line")]
    value_date = _yymmdd(match.group("value"))
    if value_date is None:
        return [_malformed(raw, "bad_date", f":61: on line {tag.line}: value date {match.group('value')!r} is invalid")]
    entry = match.group("entry")
    if entry:
        try:
            date(value_date.year, int(entry[:2]), int(entry[2:]))
        except ValueError:
            return [_malformed(raw, "bad_date", f":61: on line {tag.line}: entry date {entry!r} is invalid")]
    return []


def check_fields(raw: RawStatement) -> list[StatementProblem]:
    """SWIFT formats of the fields present (missing ones are `check_tags`' business)."""
    problems: list[StatementProblem] = []
    for tag in raw.tags:
        if tag.tag == "20" and not _REFERENCE.match(tag.value):
            problems.append(_malformed(raw, "bad_field", f":20:{tag.value!r} is not a 16x reference"))
        elif tag.tag == "25" and not _ACCOUNT.match(tag.value.strip()):
            problems.append(_malformed(raw, "bad_field", f":25:{tag.value!r} is not a 35x account"))
        elif tag.tag == "28C" and not _NUMBER.match(tag.value):
            problems.append(_malformed(raw, "bad_field", f":28C:{tag.value!r} is not 5n[/5n]"))
        elif tag.tag in ("60F", "62F", "64", "65"):
            problems.extend(_check_balance_field(raw, tag))
        elif tag.tag == "61":
            problems.extend(_check_line_field(raw, tag))
    return problems


def check_rules(raw: RawStatement, statement: ImportedStatement, rules: StatementRules) -> list[StatementProblem]:
    """Our rules and the balance equation for one parsed statement."""
    invalid = RejectReason.INVALID
    problems: list[StatementProblem] = []
    if rules.known_accounts and statement.account not in rules.known_accounts:
        problems.append(_problem(raw, "unknown_account", f"account {statement.account!r} is not ours", invalid))
    if statement.opening.currency != statement.closing.currency:
        detail = f"opening in {statement.opening.currency}, closing in {statement.closing.currency}"
        problems.append(_problem(raw, "currency_mismatch", detail, invalid))
    if statement.opening.on > statement.closing.on:
        detail = f"opening balance date {statement.opening.on} is after closing date {statement.closing.on}"
        problems.append(_problem(raw, "date_order", detail, invalid))
    if rules.today is not None and statement.closing.on > rules.today:
        detail = f"closing date {statement.closing.on} is after today ({rules.today})"
        problems.append(_problem(raw, "future_statement", detail, invalid))
    for tx in statement.transactions:
        if not statement.opening.on <= tx.booking_date <= statement.closing.on:
            detail = (f"line {tx.line} booked {tx.booking_date}, outside {statement.opening.on}.."
                      f"{statement.closing.on}")
            problems.append(_problem(raw, "booking_outside_period", detail, invalid))
    movements = sum((tx.amount for tx in statement.transactions), start=Decimal(0))
    if statement.opening.amount + movements != statement.closing.amount:
        detail = (f"opening {statement.opening.amount} + movements {movements} = "
                  f"{statement.opening.amount + movements}, but closing is {statement.closing.amount}")
        problems.append(_problem(raw, "unbalanced", detail, RejectReason.UNBALANCED))
    return problems


def check_statement(
    raw: RawStatement, rules: StatementRules, *, file_name: str, sha256: str, encoding: str
) -> tuple[ImportedStatement | None, list[StatementProblem]]:
    """Validate one statement; (statement, []) when it is good, (None, problems) otherwise."""
    problems = check_tags(raw) + check_fields(raw)
    if problems:
        return None, problems
    try:
        statement = to_imported_statement(raw, file_name=file_name, sha256=sha256, encoding=encoding)
    except Exception as exc:  # the library raises RuntimeError/ValueError/KeyError/decimal errors alike
        return None, [_malformed(raw, "unparseable", f"{type(exc).__name__}: {str(exc)[:200]}")]
    problems = check_rules(raw, statement, rules)
    return (None, problems) if problems else (statement, [])
