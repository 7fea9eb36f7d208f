"""What the file formats share: column labels, Taipei times, and the words of a report's head (zh-TW).

Contract: `label(column)` is the zh-TW column label with its unit ("含稅金額 (TWD)"); `taipei(moment)` is an
aware datetime in Asia/Taipei (a naive one is taken as UTC, as the runner does); `identifier(column)` says an
int column is a code (order id, line no: no thousands separator); `head_lines(ctx)` are the (label, text) pairs
the XLSX "說明" sheet and the PDF head print: report, parameters, generated at, as of, branches.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from api.reports.definition import Column, Param
from api.reports.formats import RenderContext
from infra.clock import TAIPEI

DATETIME_TEXT = "%Y-%m-%d %H:%M:%S"
_IDENTIFIER_SUFFIXES = ("_id", "_no", "_code")


def label(column: Column) -> str:
    """The zh-TW label of `column`, with its unit when it has one: "含稅金額 (TWD)"."""
    return f"{column.label_zh} ({column.unit})" if column.unit else column.label_zh


def width(text: str) -> float:
    """How wide `text` shows, in widths of a digit: a CJK character is two."""
    return float(sum(2 if ord(ch) > 0x2E7F else 1 for ch in text))


def taipei(moment: datetime) -> datetime:
    """`moment` in Asia/Taipei (naive: UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TAIPEI)


def taipei_text(moment: datetime | None) -> str:
    """"2026-03-01 09:30:00 (Asia/Taipei)", or "—" when there is no time."""
    return "—" if moment is None else f"{taipei(moment).strftime(DATETIME_TEXT)} (Asia/Taipei)"


def identifier(column: Column) -> bool:
    """An int column that is a code, not a quantity: printed without thousands separators."""
    return column.kind == "int" and (column.name == "id" or column.name.endswith(_IDENTIFIER_SUFFIXES))


def parameter_text(param: Param | None, value: Any) -> str:
    """A parameter's value as people read it."""
    if value is None or value == "":
        return "全部 (all)" if param is not None and param.kind == "branch" else "—"
    if isinstance(value, bool):
        return "是 (yes)" if value else "否 (no)"
    if isinstance(value, datetime):
        return taipei(value).strftime(DATETIME_TEXT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return "、".join(str(v) for v in value) or "—"
    return str(value)


def parameter_lines(ctx: RenderContext) -> list[tuple[str, str]]:
    """Each parameter of the run as ("起日 (from)", "2026-03-01"), in the report's order, then any other."""
    known = {p.name: p for p in ctx.report.params}
    lines = [(f"{p.label_zh} ({p.label_en})", parameter_text(p, ctx.values.get(p.name)))
             for p in ctx.report.params if p.name in ctx.values]
    lines += [(name, parameter_text(None, value)) for name, value in ctx.values.items() if name not in known]
    return lines


def branches_text(ctx: RenderContext) -> str:
    """The caller's branches: "全部分公司 (all branches)" when unrestricted."""
    if ctx.branches is None:
        return "全部分公司 (all branches)"
    return "、".join(ctx.branches) or "—"


def head_lines(ctx: RenderContext) -> list[tuple[str, str]]:
    """The head of a printed or described report, as (label, text) pairs."""
    report = ctx.report
    return [
        ("報表 (Report)", f"{report.title_zh} {report.title_en}"),
        ("報表代號 (Report id)", report.id),
        *parameter_lines(ctx),
        ("產生時間 (Generated at)", taipei_text(ctx.generated_at)),
        ("資料截至 (Data as of)", taipei_text(ctx.as_of)),
        ("分公司範圍 (Branches)", branches_text(ctx)),
    ]
