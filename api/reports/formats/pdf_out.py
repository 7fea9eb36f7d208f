"""PDF: a printed report on A4 in Traditional Chinese, made by WeasyPrint from templates/report.html.

The page has the company header (樂氣瓦斯 Lucky Gas), the report's titles (zh-TW and English), its parameters,
when it was generated and how old its data is (Asia/Taipei), the caller's branches, the report's `Chart` as
inline SVG when it has one (`api.reports.formats._chart`), then the rows as a table whose header (zh-TW labels
with units, English below) repeats on every page; numbers are right-aligned with thousands separators (codes
such as order ids without), a rate without a unit (a fraction) as a percentage.
Pages are numbered "第 N 頁 / 共 M 頁". Text is set in Noto Sans CJK TC (Debian fonts-noto-cjk, installed by
infra/install-system.sh), which WeasyPrint embeds. A report with more than `_LANDSCAPE_COLUMNS` columns is
printed landscape. A PDF is bounded: the route checks the count first (`BOUNDED["pdf"]`); the renderer holds
its rows (it must: the chart and the page count need them all) and refuses more than the bound.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup
from weasyprint import HTML, URLFetcher  # type: ignore[import-untyped]

from api.reports.definition import Column
from api.reports.formats import BOUNDED, RenderContext, Rows
from api.reports.formats._chart import WIDTH as CHART_WIDTH
from api.reports.formats._chart import svg
from api.reports.formats._common import head_lines, identifier, label, taipei, width

TEMPLATES = Path(__file__).parent / "templates"
COMPANY_ZH, COMPANY_EN = "樂氣瓦斯", "Lucky Gas"
_LANDSCAPE_COLUMNS = 9
_CHUNK = 256 * 1024
_NUMERIC = ("money", "decimal", "int", "rate", "float")
_CENTERED = ("date", "datetime", "bool")
_MAX_WEIGHT = 30.0
_PADDING = 2.0
_LANDSCAPE_CHART_WIDTH = 1100

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
    trim_blocks=True, lstrip_blocks=True,
)


def _trimmed(text: str, places: int) -> str:
    """"1,234.5000" → "1,234.50" (trailing zeros dropped down to `places` places)."""
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(places, "0")
    return f"{whole}.{fraction}" if fraction else whole


def _money(value: Any) -> str:
    return f"{Decimal(value):,.2f}"


def _decimal(value: Any) -> str:
    return f"{Decimal(value):,f}"  # exactly the places the query gave


def _rate(value: Any) -> str:
    return f"{float(value):,.2f}"  # unit "%": already in percent


def _fraction(value: Any) -> str:
    return f"{float(value) * 100:,.2f}%"  # a rate without a unit is a fraction: 0.95 → 95.00%


def _float(value: Any) -> str:
    return _trimmed(f"{float(value):,.4f}", 2)


def _datetime(value: Any) -> str:
    return taipei(value).strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return taipei(value).date().isoformat()
    return value.isoformat() if isinstance(value, date) else str(value)


_FORMATTERS: dict[str, Callable[[Any], str]] = {
    "money": _money, "decimal": _decimal, "rate": _rate, "float": _float, "date": _date, "datetime": _datetime,
    "bool": lambda v: "是" if v else "否", "text": str,
}


def cell_text(column: Column, value: Any) -> str:
    """How a value is printed: "1,234.50", "95.00%", "2026-03-01", "2026-03-01 09:30", "是"; None as "—" ("" for
    text)."""
    if value is None:
        return "" if column.kind == "text" else "—"
    if isinstance(value, str) and column.kind != "text":
        return value  # a masked personal value
    if column.kind == "int":
        return str(value) if identifier(column) else f"{int(value):,}"
    if column.kind == "rate" and column.unit is None:
        return _fraction(value)
    return _FORMATTERS[column.kind](value)


@dataclass(frozen=True, slots=True)
class _Head:
    label: str
    label_en: str
    align: str


def _align(column: Column) -> str:
    if column.kind in _NUMERIC and not identifier(column):
        return "num"
    return "mid" if column.kind in _CENTERED or identifier(column) else "text"


def widths(columns: tuple[Column, ...], texts: list[list[str]]) -> list[float]:
    """Each column's share of the table width (percent), from its longest value and its label, in digit widths
    plus the cell's padding: the table is laid out fixed (much faster in WeasyPrint than measuring every cell
    twice). A zh-TW label stays on one line; its unit and the English label (smaller) may wrap below."""
    weights = []
    for at, column in enumerate(columns):
        longest = max((width(row[at]) for row in texts), default=0.0)
        unit = width(f"({column.unit})") if column.unit else 0.0
        heading = max(width(column.label_zh) * 1.1, unit, width(column.label_en) * 0.8)
        weights.append(min(max(longest, heading, 3.0), _MAX_WEIGHT) + _PADDING)
    total = sum(weights)
    return [round(100 * w / total, 2) for w in weights]


def html(ctx: RenderContext, rows: list[tuple[Any, ...]]) -> str:
    """The report as the HTML WeasyPrint prints."""
    report = ctx.report
    columns = report.columns
    chart = report.chart
    texts = [[cell_text(c, v) for c, v in zip(columns, row, strict=True)] for row in rows]
    landscape = len(columns) > _LANDSCAPE_COLUMNS
    drawing = svg(chart, report, rows, _LANDSCAPE_CHART_WIDTH if landscape else CHART_WIDTH) if chart else ""
    return _environment.get_template("report.html").render(
        company_zh=COMPANY_ZH, company_en=COMPANY_EN, report=report,
        head=head_lines(ctx)[1:], css=(TEMPLATES / "report.css").read_text(encoding="utf-8"),
        landscape=landscape,
        generated=taipei(ctx.generated_at).strftime("%Y-%m-%d %H:%M"),
        columns=[_Head(label(c), c.label_en, _align(c)) for c in columns],
        rows=texts, widths=widths(columns, texts),
        chart=chart, chart_svg=Markup(drawing),
    )


def render(ctx: RenderContext, rows: Rows) -> Iterator[bytes]:
    held: list[tuple[Any, ...]] = []
    for row in rows:
        if len(held) >= BOUNDED["pdf"]:
            raise ValueError(f"{ctx.report.id}: more than {BOUNDED['pdf']} rows for a PDF")
        held.append(row)
    fetch_nothing = URLFetcher(allowed_protocols=())  # everything is inline: the rows' text cannot fetch a URL
    document: bytes = HTML(string=html(ctx, held), url_fetcher=fetch_nothing).write_pdf()
    for start in range(0, len(document), _CHUNK):
        yield document[start:start + _CHUNK]
