"""The formats a report is written in: one renderer per format, all with the same signature.

Contract: a renderer takes a `RenderContext` (the report, its parameter values, how old its data is, the
caller's branches) and an iterator of rows typed as `api.reports.definition` says, and yields the document's
bytes in pieces, reading the rows once; the formats that can be streamed (json, csv, parquet) never hold more
than a block of rows. `MEDIA_TYPES` gives each format's content type, `BOUNDED` the row limit of formats that
must be built whole (an XLSX sheet's 1,048,575 data rows; a printed PDF), `renderer(name)` the function.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.reports.definition import Report

Rows = Iterator[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class RenderContext:
    """What a renderer knows beside the rows. `links(row)` gives a JSON row's drill-through links."""

    report: Report
    values: Mapping[str, Any]
    generated_at: datetime
    as_of: datetime | None
    branches: tuple[str, ...] | None
    links: Callable[[tuple[Any, ...]], dict[str, str]] | None = field(default=None, repr=False)
    page: Mapping[str, Any] | None = None  # a JSON page's place (api/reports/paging.py)


Renderer = Callable[[RenderContext, Rows], Iterator[bytes]]

MEDIA_TYPES: Mapping[str, str] = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
    "pdf": "application/pdf",
}
EXTENSIONS: Mapping[str, str] = {"json": "json", "csv": "csv", "xlsx": "xlsx", "parquet": "parquet", "pdf": "pdf"}
BOUNDED: Mapping[str, int] = {"xlsx": 1_048_575, "pdf": 2_000}  # a printed statement, not an export
_MODULES = {"json": "json_out", "csv": "csv_out", "xlsx": "xlsx_out", "parquet": "parquet_out", "pdf": "pdf_out"}


def renderer(name: str) -> Renderer:
    """The renderer of format `name` (KeyError for an unknown one)."""
    module = importlib.import_module(f"api.reports.formats.{_MODULES[name]}")
    render: Renderer = module.render
    return render


def format_for_media_type(accept: str, offered: tuple[str, ...]) -> str | None:
    """The first offered format the Accept header names (json for */* or no header), None if none fits."""
    if not accept.strip():
        return "json"
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media in ("*/*", "application/*") and "json" in offered:
            return "json"
        for name in offered:
            if MEDIA_TYPES[name].split(";")[0] == media:
                return name
    return None
