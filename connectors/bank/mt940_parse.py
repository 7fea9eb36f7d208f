"""Turn the bytes of an MT940 file into raw statements, and a checked raw statement into a typed one.

Steps, each with its own contract:
- `decode_statement_bytes`: UTF-8 (with or without BOM) or Big5 (decoded as cp950, the Windows superset
  Taiwanese banks produce); anything else is undecodable. UTF-8 is tried first because Big5 text
  practically never forms valid UTF-8, while ASCII is both.
- `split_statements`: strips an optional SWIFT envelope ({1:..}{2:..}{4: ... -}) and cuts the text at
  every line starting with ":20:". We split ourselves because `mt940.parse` merges several :20: blocks
  into one collection that keeps only the last balances.
- `tokenize_tags`: the (tag, value) sequence of one statement, continuation lines joined with "\n".
- `to_imported_statement`: parses one statement with the `mt-940` library. Call it only on a statement
  whose tags and fields passed `validate.check_fields`: the library accepts invalid input silently
  (0 transactions, a Feb 30 "fixed up" to Feb 28), so it is not our validator.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import mt940
from mt940.models import Transactions

from connectors.bank.statement import BankTransaction, ImportedStatement, StatementBalance, StatementNumber

# Options beyond the 5.0.0 defaults: sign reversals (RC is money out), read lowercase marks, keep long
# :86: texts whole, and never let a structured :86: overwrite the :61: references with None.
_OPTIONS = mt940.Options(
    reversal_sign=True,
    case_insensitive_marks=True,
    unbounded_details=True,
    merge_keeps_values=True,
    strip_bom=True,
)
# No date "fix-ups" on :61: (we reject bad dates instead) and no German structured-:86: splitting
# (it would replace the Chinese text by sub-fields).
_PROCESSORS: dict[str, list[Any]] = {"pre_statement": [], "post_transaction_details": []}

_TAG_LINE = re.compile(r"^:(?P<tag>\d{2}[A-Z]?|NS):(?P<value>.*)$")
_ENVELOPE_BODY = re.compile(r"\{4:\s*\n(?P<body>.*?)\n-\}", re.DOTALL)
_STATEMENT_START = re.compile(r"(?m)^(?=:20:)")


class UndecodableFile(ValueError):
    """The bytes are neither UTF-8 nor Big5."""


class NoStatements(ValueError):
    """The text holds no statement, or holds text outside statements."""


@dataclass(frozen=True, slots=True)
class DecodedFile:
    text: str
    encoding: str  # "utf-8" or "big5"


@dataclass(frozen=True, slots=True)
class RawTag:
    tag: str  # "20", "28C", "61", "NS" ...
    value: str
    line: int  # 1-based line within its statement


@dataclass(frozen=True, slots=True)
class RawStatement:
    index: int  # 1-based position in the file
    tags: tuple[RawTag, ...]

    def values(self, tag: str) -> list[str]:
        return [t.value for t in self.tags if t.tag == tag]


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


def _unwrap_envelope(text: str) -> str:
    """The text blocks of SWIFT messages ({4: ... -}) joined, or the text itself when it has no envelope."""
    if not text.lstrip().startswith("{1:"):
        return text
    bodies = [m.group("body") for m in _ENVELOPE_BODY.finditer(text)]
    if not bodies:
        raise NoStatements("SWIFT envelope without a text block {4: ... -}")
    return "\n".join(bodies)


def split_statements(text: str) -> list[RawStatement]:
    """The statements of a decoded file, in order; raises `NoStatements` on none or on stray text."""
    body = _unwrap_envelope(text.replace("\r\n", "\n").replace("\r", "\n"))
    chunks = _STATEMENT_START.split(body)
    preamble = chunks[0] if chunks and not chunks[0].startswith(":20:") else ""
    if preamble.replace("-", "").strip():
        first = preamble.strip().splitlines()[0][:40]
        raise NoStatements(f"text before the first :20: tag: {first!r}")
    blocks = [c for c in chunks if c.startswith(":20:")]
    if not blocks:
        raise NoStatements("no statement (no line starting with :20:)")
    return [RawStatement(i, tokenize_tags(block)) for i, block in enumerate(blocks, start=1)]


def tokenize_tags(block: str) -> tuple[RawTag, ...]:
    """The tags of one statement block; blank lines and "-" end-of-message lines are dropped."""
    tags: list[RawTag] = []
    for number, line in enumerate(block.split("\n"), start=1):
        stripped = line.rstrip()
        if not stripped or stripped == "-":
            continue
        match = _TAG_LINE.match(stripped)
        if match:
            tags.append(RawTag(match.group("tag"), match.group("value"), number))
        elif tags:
            last = tags[-1]
            tags[-1] = RawTag(last.tag, f"{last.value}\n{stripped}", last.line)
        else:  # cannot happen: every block starts with ":20:"
            raise NoStatements(f"line {number} is outside any tag")
    return tuple(tags)


def statement_information(raw: RawStatement) -> str:
    """The :86: texts that describe the whole statement (any :86: not right after a :61:)."""
    texts: list[str] = []
    previous = ""
    for tag in raw.tags:
        if tag.tag == "86" and previous != "61":
            texts.append(tag.value)
        previous = tag.tag
    return "\n".join(texts)


def _library_text(raw: RawStatement) -> str:
    """The statement as text for the library, minus statement-level :86: (the library would glue it onto
    the last transaction)."""
    lines: list[str] = []
    previous = ""
    for tag in raw.tags:
        if tag.tag != "86" or previous == "61":
            lines.append(f":{tag.tag}:{tag.value}")
        previous = tag.tag
    return "\n".join(lines) + "\n"


def _balance(value: Any) -> StatementBalance:
    amount = value.amount
    return StatementBalance(on=value.date, currency=str(amount.currency), amount=amount.amount)


def _number(data: dict[str, Any]) -> StatementNumber:
    sequence = data.get("sequence_number")
    return StatementNumber(int(data["statement_number"]), int(sequence) if sequence else None)


def _transaction(data: dict[str, Any], account: str, number: StatementNumber, line: int) -> BankTransaction:
    amount = data["amount"]
    details = data.get("transaction_details") or ""
    return BankTransaction(
        account=account,
        statement_number=number,
        line=line,
        value_date=data["date"],
        entry_date=data.get("entry_date"),
        mark=str(data["status"]).upper(),
        amount=amount.amount,
        currency=str(amount.currency),
        type_code=data.get("id"),
        customer_reference=(data.get("customer_reference") or "").strip(),
        bank_reference=(data.get("bank_reference") or "").strip() or None,
        details=details.strip(),
    )


def to_imported_statement(raw: RawStatement, *, file_name: str, sha256: str, encoding: str) -> ImportedStatement:
    """Parse one checked statement with the mt-940 library into our typed model.

    Raises whatever the library raises (RuntimeError, ValueError, decimal errors) on input it cannot read;
    callers turn that into a rejection.
    """
    parsed = Transactions(processors=_PROCESSORS, options=_OPTIONS)
    parsed.parse(_library_text(raw))
    data = parsed.data
    account = str(data["account_identification"]).strip()
    number = _number(data)
    return ImportedStatement(
        reference=str(data["transaction_reference"]).strip(),
        account=account,
        number=number,
        opening=_balance(data["final_opening_balance"]),
        closing=_balance(data["final_closing_balance"]),
        transactions=tuple(
            _transaction(tx.data, account, number, line) for line, tx in enumerate(parsed.transactions, start=1)
        ),
        source_file=file_name,
        file_sha256=sha256,
        encoding=encoding,
        information=statement_information(raw),
    )
