"""Masking of personal data for roles that may see a record but not who it is about.

Contract: `mask(kind, value)` never returns the input's hidden part, whatever the input: None stays None, an
empty or blank string stays as it is, an unrecognised shape is masked whole or down to its last few
characters, and masking an already masked value gives the same value (idempotent). Shapes kept (Taiwan):

    phone        0912345678 / 0912-345-678 / +886 912 345 678 -> 0912-***-678;  02-2345-6789 -> 02-****-6789
    tax_id       統一編號 12345678 -> 12****78 (other identifiers: first 2 and last 2 characters)
    address      台北市大安區忠孝東路四段100號 -> 台北市大安區*** (city and district kept, postal code dropped)
    person_name  王小明 -> 王** (first character, then at most two stars: the length is not told)
    email        wang@example.com -> w***@example.com

`mask_row(row, columns, masked)` returns a copy of `row` with each column of `columns` whose kind is in
`masked` masked (values that are not strings are masked as their text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from api.access.policy import MaskKind

_MOBILE = re.compile(r"^09\d{8}$")
_MASKED_PHONE = re.compile(r"^(\d{2,4}-\*+-\d{3,4}|\*{3}\d{0,3})$")
_MASKED_TAX_ID = re.compile(r"^\d{2}\*{4}\d{2}$")
_EXTENSION = re.compile(r"(#|ext\.?|分機|轉).*$", re.IGNORECASE)
_LONG_AREA_CODES = ("0826", "0836")  # 烏坵, 馬祖
_AREA_CODES_3 = ("037", "049", "082", "089")  # 苗栗, 南投, 金門, 台東
_POSTAL_PREFIX = re.compile(r"^\s*\d{3,6}\s*")
_CITY_DISTRICT = re.compile(r"^(?P<city>[^\d\s*]{2,3}?[市縣])(?P<district>[^\d\s*]{1,3}?[區鄉鎮市])?")


def mask(kind: MaskKind, value: str | None) -> str | None:
    """`value` masked as personal data of `kind` (see the module docstring for the shapes)."""
    if value is None or not value.strip():
        return value
    return _MASKERS[kind](value.strip())


def mask_row(row: Mapping[str, Any], columns: Mapping[str, MaskKind], masked: frozenset[MaskKind]) -> dict[str, Any]:
    """A copy of `row` with every column in `columns` whose kind is in `masked` masked; other columns as they are."""
    out = dict(row)
    for column, kind in columns.items():
        if kind in masked and column in out and out[column] is not None:
            out[column] = mask(kind, str(out[column]))
    return out


def _phone(value: str) -> str:
    if _MASKED_PHONE.match(value):
        return value
    number = _EXTENSION.sub("", value)
    digits = re.sub(r"\D", "", number)
    if number.lstrip().startswith("+886") or (digits.startswith("886") and len(digits) in (11, 12)):
        digits = "0" + digits[3:].lstrip("0")
    if _MOBILE.match(digits):
        return f"{digits[:4]}-***-{digits[7:]}"
    if digits.startswith("0") and 9 <= len(digits) <= 10:
        area = _area_code(number, digits)
        local = digits[len(area):]
        return f"{area}-{'*' * (len(local) - 4)}-{local[-4:]}"
    return "***" + digits[-3:] if len(digits) >= 7 else "***"


def _area_code(written: str, digits: str) -> str:
    """The area code as written before a separator ("(02)", "02-", "037 "), else by the known prefixes."""
    first = re.match(r"^\s*\(?(0\d{1,3})[)\-\s]", written)
    if first and digits.startswith(first.group(1)):
        return first.group(1)
    for codes in (_LONG_AREA_CODES, _AREA_CODES_3):
        for code in codes:
            if digits.startswith(code):
                return code
    return digits[:2]


def _tax_id(value: str) -> str:
    compact = re.sub(r"\s", "", value)
    if _MASKED_TAX_ID.match(compact):
        return compact
    if re.fullmatch(r"\d{8}", compact):
        return f"{compact[:2]}****{compact[-2:]}"
    if len(compact) >= 6:
        return f"{compact[:2]}{'*' * (len(compact) - 4)}{compact[-2:]}"
    return "****"


def _address(value: str) -> str:
    rest = _POSTAL_PREFIX.sub("", value)
    found = _CITY_DISTRICT.match(rest)
    if found is None:
        return "***"
    return f"{found.group('city')}{found.group('district') or ''}***"


def _person_name(value: str) -> str:
    if len(value) == 1:
        return "*"
    return value[0] + "*" * min(len(value) - 1, 2)


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at:
        return _person_name(value)
    first = local[:1] if local[:1] != "*" else ""
    return f"{first}***@{domain}"


_MASKERS: dict[str, Callable[[str], str]] = {
    "phone": _phone, "address": _address, "tax_id": _tax_id, "person_name": _person_name, "email": _email,
}
