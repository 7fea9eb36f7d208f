"""JSON answers are pages: `limit` rows (default `DEFAULT_LIMIT`, at most `MAX_LIMIT`) from `offset`.

Why: JSON is read by screens and API clients a page at a time; a report of 50,000 customers rendered whole
as JSON costs seconds of Python per request whatever ClickHouse does. Whole results are exports (csv,
parquet: streamed with constant memory) or report runs. The query still computes and orders the whole result
(an aggregate over every customer is the same work), so a page is exactly the slice of the full answer.

Contract: `parse_page(raw, fmt)` is the `Page` asked for, `None` for the formats that are not paged (they
export the whole result; `limit`/`offset` with one of them is a `ParameterError`), or a `ParameterError`
naming the parameter. The route reads `page.limit + 1` rows to know whether more follow; `page.described(...)`
is the `page` object of the JSON document, with the link of the next page when there is one. Pages follow the
report's ORDER BY, which in every report ends with the columns that identify a row, so consecutive pages neither
overlap nor skip while the data version stays the same (the ETag says when it changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from api.reports.parameters import ParameterError

DEFAULT_LIMIT = 1_000
MAX_LIMIT = 10_000  # the spec's chunk of 10,000 rows
MAX_OFFSET = 10_000_000
PAGED_FORMATS = frozenset({"json"})
PAGE_PARAMETERS = ("limit", "offset")


@dataclass(frozen=True, slots=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def described(self, report_id: str, raw: Mapping[str, str], returned: int, more: bool) -> dict[str, Any]:
        """The JSON document's `page`: where this page is, how many rows it has, and the next page's link."""
        following = None
        if more:
            query = {**{k: v for k, v in raw.items() if k not in PAGE_PARAMETERS},
                     "limit": str(self.limit), "offset": str(self.offset + self.limit)}
            following = f"/reports/{report_id}?{urlencode(query)}"
        return {"offset": self.offset, "limit": self.limit, "rows": returned, "more": more, "next": following}


def parse_page(raw: Mapping[str, str], fmt: str) -> Page | None:
    """The page asked for (see the module contract)."""
    given = [name for name in PAGE_PARAMETERS if name in raw]
    if fmt not in PAGED_FORMATS:
        if given:
            raise ParameterError(given[0], f"only JSON answers are paged; {fmt} exports the whole result")
        return None
    return Page(_bounded(raw, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT), _bounded(raw, "offset", 0, 0, MAX_OFFSET))


def _bounded(raw: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = raw.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text.strip())
    except ValueError:
        raise ParameterError(name, f"{text[:40]!r} is not a whole number") from None
    if not low <= value <= high:
        raise ParameterError(name, f"must be from {low:,} to {high:,}")
    return value


def openapi_parameters() -> list[dict[str, Any]]:
    """`limit` and `offset` as the OpenAPI document lists them for every report route."""
    return [{"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
             "description": "JSON only: rows per page (csv and parquet export the whole result)"},
            {"name": "offset", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0},
             "description": "JSON only: rows skipped before this page (the previous page's page.next has it)"}]
