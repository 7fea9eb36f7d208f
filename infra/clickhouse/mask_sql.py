"""ClickHouse SQL twins of api/access/masking.py `mask(kind, value)`, for the masked views of direct BI access.

Contract: `mask_sql(kind, column)` is one SQL expression over the column `column` that gives, for every
string, what `mask(kind, value)` gives in Python (tests/integration/clickhouse_access compares them on a
corpus); NULL stays NULL and a blank value stays as it is. Regular expressions are RE2 (ClickHouse's),
written with the Unicode classes Python's `\\d` and `\\s` stand for. The result has the column's type made
Nullable. ValueError for a kind with no mask.
"""

from __future__ import annotations

from collections.abc import Callable

# Python's `\s` (str.isspace): ASCII space and controls, NEL and the Unicode separators (e.g. U+3000);
# Python's `\d`: Unicode decimal digits (full-width ones too).
_S = r"\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}"
_D = r"\p{Nd}"
_STRIP = f"^[{_S}]+|[{_S}]+$"
_EXTENSION = r"(?i)(#|ext\.?|分機|轉).*$"
_WRITTEN_AREA = rf"^[{_S}]*\(?(0{_D}{{1,3}})[)\-{_S}]"
_MASKED_PHONE = rf"^({_D}{{2,4}}-\*+-{_D}{{3,4}}|\*{{3}}{_D}{{0,3}})$"
_MOBILE = rf"^09{_D}{{8}}$"
_MASKED_TAX_ID = rf"^{_D}{{2}}\*{{4}}{_D}{{2}}$"
_POSTAL_PREFIX = rf"^[{_S}]*{_D}{{3,6}}[{_S}]*"
_CITY_DISTRICT = rf"^([^{_D}{_S}*]{{2,3}}?[市縣])([^{_D}{_S}*]{{1,3}}?[區鄉鎮市])?"
_AREA_CODES = ("0826", "0836", "037", "049", "082", "089")  # longest first, as masking.py tries them


def _lit(text: str) -> str:
    """An SQL string literal (ClickHouse escapes: backslash and quote)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _starts(text: str, prefix: str) -> str:
    return f"startsWith({text}, {_lit(prefix)})"


def _phone(x: str) -> str:
    number = f"replaceRegexpAll({x}, {_lit(_EXTENSION)}, '')"
    raw = f"replaceRegexpAll({number}, {_lit('[^' + _D + ']')}, '')"
    leading = f"replaceRegexpOne({number}, {_lit('^[' + _S + ']+')}, '')"
    intl = f"{_starts(leading, '+886')} OR ({_starts(raw, '886')} AND lengthUTF8({raw}) IN (11, 12))"
    digits = f"if({intl}, concat('0', trimLeft(substringUTF8({raw}, 4), '0')), {raw})"
    written = f"extract({number}, {_lit(_WRITTEN_AREA)})"
    known = ", ".join(f"{_starts(digits, code)}, {_lit(code)}" for code in _AREA_CODES)
    area = (f"multiIf({written} != '' AND startsWith({digits}, {written}), {written}, {known}, "
            f"substringUTF8({digits}, 1, 2))")
    local = f"substringUTF8({digits}, lengthUTF8({area}) + 1)"
    stars = f"repeat('*', toUInt64(greatest(lengthUTF8({local}) - 4, 0)))"
    return (f"multiIf(match({x}, {_lit(_MASKED_PHONE)}), {x}, "
            f"match({digits}, {_lit(_MOBILE)}), "
            f"concat(substringUTF8({digits}, 1, 4), '-***-', substringUTF8({digits}, 8)), "
            f"{_starts(digits, '0')} AND lengthUTF8({digits}) BETWEEN 9 AND 10, "
            f"concat({area}, '-', {stars}, '-', rightUTF8({local}, 4)), "
            f"lengthUTF8({digits}) >= 7, concat('***', rightUTF8({digits}, 3)), '***')")


def _tax_id(x: str) -> str:
    compact = f"replaceRegexpAll({x}, {_lit('[' + _S + ']')}, '')"
    n = f"lengthUTF8({compact})"
    return (f"multiIf(match({compact}, {_lit(_MASKED_TAX_ID)}), {compact}, "
            f"{n} >= 6, concat(substringUTF8({compact}, 1, 2), repeat('*', toUInt64(greatest({n} - 4, 0))), "
            f"rightUTF8({compact}, 2)), '****')")


def _address(x: str) -> str:
    rest = f"replaceRegexpOne({x}, {_lit(_POSTAL_PREFIX)}, '')"
    groups = f"extractGroups({rest}, {_lit(_CITY_DISTRICT)})"
    return f"if(empty({groups}), '***', concat({groups}[1], {groups}[2], '***'))"


def _person_name(x: str) -> str:
    n = f"lengthUTF8({x})"
    return f"if({n} = 1, '*', concat(substringUTF8({x}, 1, 1), repeat('*', toUInt64(greatest(least({n} - 1, 2), 0)))))"


def _email(x: str) -> str:
    at = f"position(reverse({x}), '@')"
    local = f"substring({x}, 1, length({x}) - {at})"
    domain = f"substring({x}, length({x}) - {at} + 2)"
    first = f"substringUTF8({local}, 1, 1)"
    return f"if({at} = 0, {_person_name(x)}, concat(if({first} = '*', '', {first}), '***@', {domain}))"


_MASKERS: dict[str, Callable[[str], str]] = {
    "phone": _phone, "address": _address, "tax_id": _tax_id, "person_name": _person_name, "email": _email,
}


def mask_sql(kind: str, column: str) -> str:
    """The SQL expression giving column `column` masked as personal data of `kind`."""
    if kind not in _MASKERS:
        raise ValueError(f"no SQL mask for personal-data kind {kind!r}")
    c = f"`{column}`"
    stripped = f"replaceRegexpAll({c}, {_lit(_STRIP)}, '')"
    return f"if(isNull({c}) OR {stripped} = '', {c}, {_MASKERS[kind](stripped)})"
