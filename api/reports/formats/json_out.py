"""JSON: `{"report": …, "parameters": …, "as_of": …, "columns": […], "page": {…}, "rows": [{…}, …], "row_count": N}`.

Streamed; `page` (where the rows are in the whole result, and the next page's link) when the route paged it.

Money and decimals are strings ("1234.50": exact), dates ISO 8601, datetimes with their +08:00 offset. A report
with drill-through adds `"_drill": {"<report id>": "/reports/<id>?…"}` to each row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from api.reports.formats import RenderContext, Rows

_CHUNK_ROWS = 1_000


def header(ctx: RenderContext) -> dict[str, Any]:
    """The document's head: the report, its parameters, how old its data is, its columns."""
    report = ctx.report
    return {
        "report": {"id": report.id, "group": report.group, "title_zh": report.title_zh, "title_en": report.title_en},
        "parameters": dict(ctx.values),
        "generated_at": ctx.generated_at,
        "as_of": ctx.as_of,
        "branches": None if ctx.branches is None else list(ctx.branches),
        "columns": [{"name": c.name, "kind": c.kind, "label_zh": c.label_zh, "label_en": c.label_en,
                     "unit": c.unit} for c in report.columns],
        **({} if ctx.page is None else {"page": dict(ctx.page)}),
    }


def _default(value: Any) -> Any:
    return str(value)  # Decimal: exact text


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, default=_default, option=orjson.OPT_NON_STR_KEYS)


def render(ctx: RenderContext, rows: Rows) -> Iterator[bytes]:
    names = [c.name for c in ctx.report.columns]
    head = dumps(header(ctx))
    yield head[:-1] + b',"rows":['
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any] = dict(zip(names, row, strict=True))
        if ctx.links is not None:
            item["_drill"] = ctx.links(row)
        chunk.append(item)
        if len(chunk) >= _CHUNK_ROWS:
            yield _items(chunk, count)
            count += len(chunk)
            chunk = []
    if chunk:
        yield _items(chunk, count)
        count += len(chunk)
    yield b'],"row_count":' + str(count).encode() + b"}"


def _items(chunk: list[dict[str, Any]], before: int) -> bytes:
    """A chunk of rows as the members of the rows array (one orjson call per chunk: a third of one per row)."""
    return (b"," if before else b"") + dumps(chunk)[1:-1]
