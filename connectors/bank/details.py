"""Structured :86: information to account owner, as (key, value) pairs in order of appearance.

Contract of `detail_fields(text)`: the sub-fields of a structured :86: text, or () for free text (e.g. the
Taiwanese "大同瓦斯行 虛擬帳號 12345678901234 一月貨款"). The raw text itself is kept elsewhere, unchanged.
Line breaks in :86: only wrap the 65-character lines, so lines are joined without a separator first.

- German GVC style (DFÜ/ZKA): "166?00GUTSCHRIFT?20EREF+TX123?21SVWZ+Rechnung 7?30BLZ?31ACCT?32NAME":
  ("GVC", "166"), then every "?NN" sub-field as ("?NN", value) in order: ("?00", "GUTSCHRIFT"),
  ("?20", "EREF+TX123"), ... and after them the SEPA keywords found in the purpose lines ?20-?29 joined
  (EREF+ KREF+ MREF+ CRED+ SVWZ+ ABWA+ ABWE+, at the start of a sub-field or after a space) as
  ("EREF", "TX123"), ("SVWZ", "Rechnung 7"), in order.
- SWIFT / Dutch style: "/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/BIC/ABNANL2A/NAME/ACME/REMI/..":
  ("TRTP", "SEPA OVERBOEKING"), ("IBAN", ...), ... A value runs to the next "/KEY/" of a known key, so it
  may contain "/" (ING's "/REMI/USTD//Factuur 12/" gives ("REMI", "USTD//Factuur 12")).
Values are stripped of surrounding spaces.
"""

from __future__ import annotations

import re

_GVC = re.compile(r"^(?P<code>\d{3})(?=\?\d{2})")
_GVC_SUBFIELD = re.compile(r"\?(?P<key>\d{2})")
_SEPA_KEYWORD = re.compile(r"(?:^|(?<=[\x00 ]))(?P<key>EREF|KREF|MREF|CRED|SVWZ|ABWA|ABWE)\+")
_PURPOSE_KEYS = frozenset(f"?2{digit}" for digit in range(10))
# Sub-field codes of the SWIFT/Dutch style (ABN AMRO, ING, Rabobank, Triodos, SWIFT structured narrative).
SWIFT_KEYS = frozenset({
    "ADDR", "ATTR", "BENM", "BIC", "BUSP", "CDTRREF", "CDTRREFTP", "CHGS", "CITY", "CNTP", "CREF", "CSID",
    "EREF", "EXCH", "IBAN", "ID", "ISDT", "KREF", "MARF", "MREF", "NAME", "OCMT", "ORDP", "PREF", "PURP",
    "REMI", "RTRN", "SVCL", "TRTP", "ULTB", "ULTC", "ULTD",
})


def _values(marks: list[re.Match[str]], text: str) -> list[tuple[re.Match[str], str]]:
    """Each mark with the text from its end to the next mark's start (or the end of `text`)."""
    ends = [mark.start() for mark in marks[1:]] + [len(text)]
    return [(mark, text[mark.end():end]) for mark, end in zip(marks, ends, strict=False)]


def _gvc_fields(code: str, body: str) -> list[tuple[str, str]]:
    """GVC sub-fields of `body` (the text after the 3-digit code), then the SEPA keywords of ?20-?29."""
    fields: list[tuple[str, str]] = [("GVC", code)]
    purpose: list[str] = []
    for mark, value in _values(list(_GVC_SUBFIELD.finditer(body)), body):
        key = f"?{mark.group('key')}"
        fields.append((key, value.strip()))
        if key in _PURPOSE_KEYS:
            purpose.append(value)
    return fields + sepa_keywords("\x00".join(purpose))


def sepa_keywords(purpose: str) -> list[tuple[str, str]]:
    """The SEPA keywords (EREF+ ... ABWE+) of a purpose text; "\\x00" marks where sub-fields were joined."""
    return [(mark.group("key"), value.replace("\x00", "").strip())
            for mark, value in _values(list(_SEPA_KEYWORD.finditer(purpose)), purpose)]


def _swift_fields(text: str) -> list[tuple[str, str]] | None:
    """The /KEY/value/ sub-fields, or None when `text` does not start with a known "/KEY/"."""
    tokens = text[1:].split("/")
    if tokens and tokens[-1] == "":
        tokens.pop()  # the customary closing "/"
    if len(tokens) < 2 or tokens[0] not in SWIFT_KEYS:
        return None
    fields: list[tuple[str, str]] = []
    key: str | None = None
    value: list[str] = []
    for token in tokens:
        if key is not None and value and token in SWIFT_KEYS:
            fields.append((key, "/".join(value).strip()))
            key, value = token, []
        elif key is None:
            key = token
        else:
            value.append(token)
    if key is not None:
        fields.append((key, "/".join(value).strip()))
    return fields


def detail_fields(text: str) -> tuple[tuple[str, str], ...]:
    """The structured sub-fields of a :86: text (see the module docstring); () when it is free text."""
    joined = text.replace("\n", "")
    gvc = _GVC.match(joined)
    if gvc is not None:
        return tuple(_gvc_fields(gvc.group("code"), joined[gvc.end():]))
    if joined.startswith("/"):
        return tuple(_swift_fields(joined) or ())
    return ()
