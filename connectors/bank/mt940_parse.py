"""Turn the bytes of an MT940 file into messages, and a message whose tags passed into a typed page.

Steps, each with its own contract:
- `decode_statement_bytes`: UTF-8 (with or without BOM) or Big5 (decoded as cp950, the Windows superset
  Taiwanese banks produce); anything else is undecodable. UTF-8 is tried first because Big5 text
  practically never forms valid UTF-8, while ASCII is both.
- `frame_messages` (from `framing`): the messages of the text (SOH/ETX, SWIFT envelopes, header lines,
  "-" markers, any line ends), with the framing's warnings and problems; `split_statements` gives just
  the messages.
- `read_page`: every field of one message read with `fields` (the SWIFT formats, tolerant where real
  banks deviate harmlessly), :86: sub-fields with `details`. Call it only on a message that passed
  `validate.check_tags` (it reads what is there either way).

The fields are read by our own grammar, not by the `mt-940` library: the library truncates a :20: or :25:
longer than SWIFT allows without a word, refuses statement numbers over 5 digits, cuts a :61: reference
over 16 characters into "extra details", and accepts invalid input silently (0 transactions, Feb 30
"fixed up"), so what we check and what we read would differ. The unit tests compare our reading of
in-format statements with the library's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.bank.currency import UnknownCurrency, minor_units
from connectors.bank.details import detail_fields
from connectors.bank.fields import (
    Balance,
    Findings,
    LineFields,
    read_account,
    read_balance,
    read_details,
    read_line,
    read_number,
    read_reference,
)
from connectors.bank.framing import FramedText, NoStatements, RawStatement, RawTag, frame_messages
from connectors.bank.pages import Page, PageLine
from connectors.bank.statement import StatementBalance

__all__ = [
    "DecodedFile",
    "FramedText",
    "NoStatements",
    "RawStatement",
    "RawTag",
    "UndecodableFile",
    "decode_statement_bytes",
    "frame_messages",
    "read_page",
    "split_statements",
]

_T = TypeVar("_T")
_UNCHECKED_DECIMALS = 99  # when the page currency is unknown (already fatal): skip the decimals check


class UndecodableFile(ValueError):
    """The bytes are neither UTF-8 nor Big5."""


@dataclass(frozen=True, slots=True)
class DecodedFile:
    text: str
    encoding: str  # "utf-8" or "big5"


def decode_statement_bytes(data: bytes) -> DecodedFile:
    """Decode a statement file; raises `UndecodableFile` when it is neither UTF-8 nor Big5 (cp950)."""
    body = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return DecodedFile(body.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return DecodedFile(body.decode("cp950"), "big5")
    except UnicodeDecodeError as exc:
        raise UndecodableFile(f"neither UTF-8 nor Big5 (byte {exc.start}: {body[exc.start:exc.start + 2]!r})") from exc


def split_statements(text: str) -> list[RawStatement]:
    """The messages of a decoded file, in order; raises `NoStatements` when there is none."""
    return list(frame_messages(text).messages)


def _first(raw: RawStatement, *names: str) -> RawTag | None:
    return next((tag for tag in raw.tags if tag.tag in names), None)


def _read(raw: RawStatement, names: tuple[str, ...], reader: Callable[[RawTag, Findings], _T | None],
          findings: Findings) -> _T | None:
    tag = _first(raw, *names)
    return None if tag is None else reader(tag, findings)


def _page_currency(raw: RawStatement) -> str:
    tag = _first(raw, "60F", "60M")
    return "" if tag is None else tag.value.strip()[7:10]


class _PageReader:
    """Reads the repeated tags (:61: with its :86:, :64:, :65:, statement-level :86:) in order."""

    def __init__(self, findings: Findings, decimals: int) -> None:
        self.findings = findings
        self.decimals = decimals
        self.lines: list[tuple[LineFields | None, str, int]] = []
        self.available: Balance | None = None
        self.forward: list[Balance | None] = []
        self.information: list[str] = []

    def read(self, raw: RawStatement) -> None:
        previous = ""
        for tag in raw.tags:
            if tag.tag == "61":
                self.lines.append((read_line(tag, self.decimals, self.findings), "", tag.line))
            elif tag.tag == "86" and previous == "61":
                fields, _, line = self.lines[-1]
                self.lines[-1] = (fields, read_details(tag, self.findings), line)
            elif tag.tag == "86":
                self.information.append(read_details(tag, self.findings))
            elif tag.tag == "64":
                self.available = read_balance(tag, self.findings)
            elif tag.tag == "65":
                self.forward.append(read_balance(tag, self.findings))
            previous = tag.tag

    def page_lines(self) -> tuple[PageLine, ...]:
        return tuple(PageLine(fields, text, detail_fields(text), line)
                     for fields, text, line in self.lines if fields is not None)


def _balances(found: list[Balance | None]) -> tuple[StatementBalance, ...]:
    return tuple(b.balance for b in found if b is not None)


def read_page(raw: RawStatement, findings: Findings) -> Page | None:
    """The typed page of a message, or None after recording its field problems (warnings for tolerated
    deviations go to `findings` either way). Missing tags are `validate.check_tags`' business: the fields
    present are still read (so a file cut inside a field reports that field), but no page is built."""
    before = len(findings.problems)
    reference = _read(raw, ("20",), read_reference, findings)
    account = _read(raw, ("25",), read_account, findings)
    number = _read(raw, ("28C", "28"), read_number, findings)
    opening = _read(raw, ("60F", "60M"), read_balance, findings)
    closing = _read(raw, ("62F", "62M"), read_balance, findings)
    try:
        decimals = minor_units(_page_currency(raw))
    except UnknownCurrency:
        decimals = _UNCHECKED_DECIMALS
    reader = _PageReader(findings, decimals)
    reader.read(raw)
    if (len(findings.problems) > before or reference is None or account is None or number is None
            or opening is None or closing is None):
        return None
    return Page(
        index=raw.index, reference=reference, account=account, number=number, opening=opening, closing=closing,
        lines=reader.page_lines(), available=reader.available.balance if reader.available else None,
        forward_available=_balances(reader.forward), information="\n".join(reader.information),
    )
