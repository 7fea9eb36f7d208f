"""MT940 test statements written from the SWIFT field rules (not produced by the code under test).

:20: 16x reference | :25: 35x account | :28C: 5n[/5n] | :60F:/:62F: 1!a6!n3!a15d (mark, YYMMDD,
currency, amount with decimal comma) | :61: 6!n[4!n]2a[1!a]15d1!a3!c16x[//16x] | :86: 6*65x.
TWD amounts are whole dollars, written "1000,". The closing balance is computed from the lines unless a
test overrides it (to make an unbalanced statement).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

ACCOUNT = "0081234567890"
OTHER_ACCOUNT = "0089876543210"

# A hand-written file, exactly as a Taiwanese bank might send it (CRLF line ends, two statements).
TWO_STATEMENTS_CRLF = (
    ":20:STMT260114A\r\n"
    ":25:0081234567890\r\n"
    ":28C:00012/001\r\n"
    ":60F:C260113TWD150000,\r\n"
    ":61:2601140114C1000,NTRFVA12345678901234//BK0001\r\n"
    ":86:大同瓦斯行 虛擬帳號 12345678901234 一月貨款\r\n"
    ":61:2601140114D250,NCHGNONREF\r\n"
    ":86:跨行手續費\r\n"
    ":62F:C260114TWD150750,\r\n"
    "-\r\n"
    ":20:STMT260114B\r\n"
    ":25:0089876543210\r\n"
    ":28C:00007\r\n"
    ":60F:D260113TWD500,\r\n"
    ":61:260114C2500,50NTRFINV-2026-0007\r\n"
    ":86:INV-2026-0007 台中分公司\r\n"
    ":62F:C260114TWD2000,50\r\n"
    "-\r\n"
)


def _swift_amount(value: Decimal) -> str:
    text = f"{abs(value):.2f}".replace(".", ",")
    return text.removesuffix(",00") + ("," if text.endswith(",00") else "")


@dataclass(frozen=True)
class Line:
    """One :61: line and its :86: details."""

    amount: str = "1000,"
    mark: str = "C"
    value: str = "260114"
    entry: str | None = "0114"
    type_code: str = "NTRF"
    reference: str = "NONREF"
    bank_reference: str | None = None
    details: str | None = None

    def signed(self) -> Decimal:
        value = Decimal(self.amount.replace(",", "."))
        return -value if self.mark in ("D", "RC") else value

    def render(self) -> str:
        text = f":61:{self.value}{self.entry or ''}{self.mark}{self.amount}{self.type_code}{self.reference}"
        if self.bank_reference:
            text += f"//{self.bank_reference}"
        if self.details is not None:
            text += f"\n:86:{self.details}"
        return text


def statement(
    *,
    reference: str = "STMT260114",
    account: str = ACCOUNT,
    number: str = "00012/001",
    opening: str = "150000,",
    opening_mark: str = "C",
    opening_date: str = "260113",
    closing_date: str = "260114",
    lines: Sequence[Line] = (Line(),),
    closing: str | None = None,
    closing_mark: str | None = None,
    currency: str = "TWD",
    information: str | None = None,
) -> str:
    """One statement's text (LF line ends, trailing newline)."""
    opening_value = Decimal(opening.replace(",", "."))
    signed_opening = -opening_value if opening_mark == "D" else opening_value
    computed = signed_opening + sum((line.signed() for line in lines), Decimal(0))
    closing_text = closing if closing is not None else _swift_amount(computed)
    mark = closing_mark or ("D" if computed < 0 else "C")
    parts = [
        f":20:{reference}",
        f":25:{account}",
        f":28C:{number}",
        f":60F:{opening_mark}{opening_date}{currency}{opening}",
        *(line.render() for line in lines),
        f":62F:{mark}{closing_date}{currency}{closing_text}",
    ]
    if information is not None:
        parts.append(f":86:{information}")
    return "\n".join(parts) + "\n"


def statement_file(*statements: str, separator: str = "-\n") -> str:
    """Several statements in one file, each ended by the customary "-" line."""
    return "".join(s + separator for s in statements)


def without_tag(text: str, tag: str) -> str:
    """The statement text with every line of `tag` (e.g. ":28C:") removed."""
    return "\n".join(line for line in text.split("\n") if not line.startswith(tag))
