"""Read and check single MT940 fields against the SWIFT formats, tolerating what real banks send.

Each `read_*` takes a `RawTag` and a `Findings` collector and returns the typed value, or None after
recording a fatal problem; harmless deviations are recorded as warnings and the value is still returned.
Formats (SWIFT MT940, x = any character, n = digit, d = digits with a decimal comma):

- :20: 16x | :25: 35x | :28C:/:28: 5n[/5n] -- longer values are accepted with a "long_field" warning; a
  :20: with a leading/trailing "/" or "//" is accepted with "reference_slashes"; empty or multi-line is fatal.
- balances 1!a6!n3!a15d (mark C/D, YYMMDD, ISO 4217 currency, amount): an unknown currency is fatal
  ("unknown_currency"), an invalid date too ("bad_date").
- :61: 6!n[4!n]2a[1!a]15d1!a3!c16x[//16x] plus an optional second line 34x: value date, entry date MMDD
  (its year is the one nearest the value date, so 261231/0102 is 2027-01-02), mark C/D/RC/RD, funds code,
  amount, type code (N/S/F + 3), reference (spaces before it are dropped; a blank one warns
  "blank_reference"), "//" bank reference (empty: "empty_bank_reference"), supplementary details.
- amounts: fewer decimals than the currency has are fine ("1000," everywhere); more, all zeros, warn
  "extra_decimals"; a non-zero digit beyond the currency's decimals is fatal ("bad_amount"); more than 15
  characters warns "long_field".
- :86: 6*65x: more or longer lines warn "long_field".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from connectors.bank.currency import UnknownCurrency, minor_units
from connectors.bank.errors import ImportWarning, RejectReason, StatementProblem
from connectors.bank.framing import RawTag
from connectors.bank.statement import StatementBalance, StatementNumber

_NUMBER = re.compile(r"^(?P<number>\d+)(?:/(?P<sequence>\d+))?$")
_BALANCE = re.compile(r"^(?P<mark>[CD])(?P<date>\d{6})(?P<currency>[^\d\s]{3})(?P<amount>\d+,\d*)$")
_LINE = re.compile(
    r"^(?P<value>\d{6})(?P<entry>\d{4})?(?P<mark>R?[CD])(?P<funds>[A-Z])?(?P<amount>\d+,\d*)"
    r"(?P<type>[NSF][A-Z0-9]{3})(?P<reference>(?:(?!//).)+)(?://(?P<bank>.*))?$"
)
_MAX_AMOUNT_CHARS = 15  # "15d": digits plus the decimal comma
_DETAIL_LINES, _DETAIL_LINE_CHARS = 6, 65


@dataclass
class Findings:
    """Problems (fatal) and warnings found in one message; `index` is the message's 1-based position."""

    index: int
    problems: list[StatementProblem] = field(default_factory=list)
    warnings: list[ImportWarning] = field(default_factory=list)

    def fatal(self, code: str, detail: str, reason: RejectReason = RejectReason.MALFORMED) -> None:
        self.problems.append(StatementProblem(self.index, code, detail, reason))

    def warn(self, code: str, detail: str) -> None:
        self.warnings.append(ImportWarning(self.index, code, detail))


@dataclass(frozen=True, slots=True)
class Balance:
    """A balance field: "F" (final) or "M" (intermediate) for :60:/:62:, "" for :64:/:65:."""

    kind: str
    mark: str
    balance: StatementBalance


@dataclass(frozen=True, slots=True)
class LineFields:
    """The parts of one :61: statement line (the amount signed by the mark)."""

    value_date: date
    entry_date: date | None
    mark: str
    funds_code: str | None
    amount: Decimal
    type_code: str
    customer_reference: str
    bank_reference: str | None
    supplementary: str | None


def _single_line(tag: RawTag, findings: Findings, what: str) -> str | None:
    text = tag.value.strip()
    if "\n" in text:
        findings.fatal("bad_field", f":{tag.tag}: on line {tag.line} {tag.value!r} spans several lines ({what})")
        return None
    if not text:
        findings.fatal("bad_field", f":{tag.tag}: on line {tag.line} is empty ({what})")
        return None
    return text


def _check_length(tag: str, text: str, limit: int, findings: Findings, what: str = "") -> None:
    if len(text) > limit:
        findings.warn("long_field", f":{tag}:{what} {text!r} is {len(text)} characters, SWIFT allows {limit}")


def read_reference(tag: RawTag, findings: Findings) -> str | None:
    """The :20: transaction reference (16x)."""
    text = _single_line(tag, findings, "16x reference")
    if text is None:
        return None
    _check_length(tag.tag, text, 16, findings)
    if text.startswith("/") or text.endswith("/") or "//" in text:
        findings.warn("reference_slashes", f":20:{text!r} starts or ends with '/' or contains '//'")
    return text


def read_account(tag: RawTag, findings: Findings) -> str | None:
    """The :25: account identification (35x: local number, IBAN, IBAN + currency, bank code/account)."""
    text = _single_line(tag, findings, "35x account")
    if text is not None:
        _check_length(tag.tag, text, 35, findings)
    return text


def read_number(tag: RawTag, findings: Findings) -> StatementNumber | None:
    """The :28C: / :28: statement number and optional sequence number (5n[/5n])."""
    match = _NUMBER.match(tag.value.strip())
    if match is None:
        findings.fatal("bad_field", f":{tag.tag}:{tag.value!r} is not 5n[/5n] (e.g. 00012/001)")
        return None
    number, sequence = match.group("number"), match.group("sequence")
    _check_length(tag.tag, number, 5, findings, " statement number")
    if sequence is not None:
        _check_length(tag.tag, sequence, 5, findings, " sequence number")
    return StatementNumber(int(number), int(sequence) if sequence is not None else None)


def _yymmdd(text: str) -> date | None:
    try:
        return date(2000 + int(text[:2]), int(text[2:4]), int(text[4:6]))
    except ValueError:
        return None


def _entry_date(value_date: date, mmdd: str) -> date | None:
    """The entry date MMDD in the year nearest the value date (a booking across a year end)."""
    candidates: list[date] = []
    for year in (value_date.year - 1, value_date.year, value_date.year + 1):
        try:
            candidates.append(date(year, int(mmdd[:2]), int(mmdd[2:])))
        except ValueError:
            continue
    return min(candidates, key=lambda day: abs((day - value_date).days), default=None)


def currency_decimals(currency: str, where: str, findings: Findings) -> int | None:
    """The ISO 4217 decimals of `currency`, or None after recording "unknown_currency"."""
    try:
        return minor_units(currency)
    except UnknownCurrency as exc:
        findings.fatal("unknown_currency", f"{where}: {exc}")
        return None


def read_amount(text: str, decimals: int, where: str, findings: Findings) -> Decimal | None:
    """The unsigned amount "digits,decimals" as written ("1000," is 1000, "2500,50" is 2500.50), checked
    against the currency's `decimals`; extra zero decimals are dropped (with a warning)."""
    if len(text) > _MAX_AMOUNT_CHARS:
        findings.warn("long_field", f"{where}: amount {text!r} is {len(text)} characters, SWIFT allows 15")
    whole, fraction = text.split(",")
    if len(fraction) > decimals:
        beyond = fraction[decimals:]
        detail = f"{where}: amount {text!r} has {len(fraction)} decimals, the currency has {decimals}"
        if beyond.strip("0"):
            findings.fatal("bad_amount", detail)
            return None
        findings.warn("extra_decimals", detail + " (the extra ones are zeros, dropped)")
        fraction = fraction[:decimals]
    return Decimal(f"{whole}.{fraction}")


def read_balance(tag: RawTag, findings: Findings) -> Balance | None:
    """A :60F:/:60M:/:62F:/:62M:/:64:/:65: balance (1!a6!n3!a15d), signed by its mark."""
    match = _BALANCE.match(tag.value.strip())
    if match is None:
        findings.fatal("bad_field", f":{tag.tag}:{tag.value!r} is not 1!a6!n3!a15d (e.g. C260114TWD1000,)")
        return None
    on = _yymmdd(match.group("date"))
    if on is None:
        findings.fatal("bad_date", f":{tag.tag}: date {match.group('date')!r} is not a calendar date")
    currency = match.group("currency")
    decimals = currency_decimals(currency, f":{tag.tag}:", findings)
    if decimals is None or on is None:
        return None
    amount = read_amount(match.group("amount"), decimals, f":{tag.tag}:", findings)
    if amount is None:
        return None
    mark = match.group("mark")
    kind = tag.tag[2:]
    return Balance(kind, mark, StatementBalance(on, currency, -amount if mark == "D" else amount))


def _line_dates(match: re.Match[str], where: str, findings: Findings) -> tuple[date, date | None] | None:
    value_date = _yymmdd(match.group("value"))
    if value_date is None:
        findings.fatal("bad_date", f"{where}: value date {match.group('value')!r} is invalid")
        return None
    entry = match.group("entry")
    if entry is None:
        return value_date, None
    entry_date = _entry_date(value_date, entry)
    if entry_date is None:
        findings.fatal("bad_date", f"{where}: entry date {entry!r} is invalid")
        return None
    return value_date, entry_date


def _line_references(match: re.Match[str], line: int, findings: Findings) -> tuple[str, str | None]:
    reference = match.group("reference").strip()
    if not reference:
        findings.warn("blank_reference", f":61: on line {line}: the reference for the account owner is blank")
    _check_length("61", reference, 16, findings, f" on line {line}: reference")
    bank = match.group("bank")
    if bank is None:
        return reference, None
    bank = bank.strip()
    if not bank:
        findings.warn("empty_bank_reference", f":61: on line {line}: '//' is followed by no bank reference")
        return reference, None
    _check_length("61", bank, 16, findings, f" on line {line}: bank reference")
    return reference, bank


def read_line(tag: RawTag, decimals: int, findings: Findings) -> LineFields | None:
    """One :61: statement line in a currency with `decimals` decimals (see the module docstring)."""
    where = f":61: on line {tag.line}"
    first, _, supplementary = tag.value.partition("\n")
    match = _LINE.match(first)
    if match is None or "\n" in supplementary:
        findings.fatal("bad_field", f"{where} {tag.value!r} is not a SWIFT statement line")
        return None
    dates = _line_dates(match, where, findings)
    amount = read_amount(match.group("amount"), decimals, where, findings)
    if dates is None or amount is None:
        return None
    reference, bank = _line_references(match, tag.line, findings)
    extra = supplementary.strip() or None
    if extra is not None:
        _check_length("61", extra, 34, findings, f" on line {tag.line}: supplementary details")
    mark = match.group("mark")
    return LineFields(
        value_date=dates[0], entry_date=dates[1], mark=mark, funds_code=match.group("funds"),
        amount=-amount if mark in ("D", "RC") else amount, type_code=match.group("type"),
        customer_reference=reference, bank_reference=bank, supplementary=extra,
    )


def read_details(tag: RawTag, findings: Findings) -> str:
    """The :86: text: lines without trailing spaces, joined with "\\n" (6*65x; more warns "long_field")."""
    lines = [line.rstrip() for line in tag.value.split("\n")]
    if len(lines) > _DETAIL_LINES or any(len(line) > _DETAIL_LINE_CHARS for line in lines):
        longest = max(len(line) for line in lines)
        findings.warn("long_field", f":86: on line {tag.line} has {len(lines)} lines of up to {longest} "
                                    f"characters, SWIFT allows {_DETAIL_LINES} of {_DETAIL_LINE_CHARS}")
    return "\n".join(lines).strip()
