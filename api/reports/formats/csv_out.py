"""CSV as Excel (zh-TW) opens it: UTF-8 with a BOM, CRLF line ends, one header row of zh-TW labels, streamed.

The header row is the zh-TW column labels with their unit ("含稅金額 (TWD)"). Values: money as plain "1234.50"
(two places, no thousands separator), decimals as plain digits (never exponent notation), dates ISO
("2026-03-01"), datetimes "2026-03-01 09:30:00" in Asia/Taipei, booleans TRUE/FALSE, None as an empty field.
A text value Excel would run as a formula (starting with = + - @, a tab or a CR) is written with a leading
apostrophe, as OWASP advises against CSV injection; other text is written as it is. Rows are written in
blocks of `_CHUNK_ROWS`: memory stays flat whatever the result's size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api.reports.definition import Column
from api.reports.formats import RenderContext, Rows
from api.reports.formats._common import DATETIME_TEXT, label, taipei

_CHUNK_ROWS = 1_000
_BOM = "\ufeff"
_CENT = Decimal("0.01")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: Any) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _money(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.quantize(_CENT), "f")
    if isinstance(value, int | float):
        return format(Decimal(str(value)).quantize(_CENT), "f")
    return _text(value)  # masked


def _decimal(value: Any) -> str:
    return format(value, "f") if isinstance(value, Decimal) else _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return _text(value)


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return taipei(value).date().isoformat()
    return value.isoformat() if isinstance(value, date) else _text(value)


def _datetime(value: Any) -> str:
    return taipei(value).strftime(DATETIME_TEXT) if isinstance(value, datetime) else _text(value)


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "money": _money, "decimal": _decimal, "int": _plain, "rate": _plain, "float": _plain, "bool": _plain,
    "date": _date, "datetime": _datetime, "text": _text,
}


def _formatter(column: Column) -> Callable[[Any], str]:
    base = _FORMATTERS[column.kind]

    def formatted(value: Any) -> str:
        return "" if value is None else base(value)

    return formatted


def render(ctx: RenderContext, rows: Rows) -> Iterator[bytes]:
    columns = ctx.report.columns
    formatters = [_formatter(c) for c in columns]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, dialect="excel")
    buffer.write(_BOM)
    writer.writerow([label(c) for c in columns])
    pending = 0
    for row in rows:
        writer.writerow([f(v) for f, v in zip(formatters, row, strict=True)])
        pending += 1
        if pending >= _CHUNK_ROWS:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate(0)
            pending = 0
    yield buffer.getvalue().encode("utf-8")
