"""Running a report: its query under the caller's scope, rows converted to the declared types and masked.

Contract: `prepare(report, values, scope, today)` builds the query (`Prepared`: SQL, bound parameters, tables
read); `stream_rows(client, prepared)` yields each row as a tuple in the report's column order, typed as
`api.reports.definition` says, personal columns masked for the caller's role, reading ClickHouse in blocks of
`BLOCK_ROWS` (the spec's 10,000-row chunks) so memory stays flat whatever the result's size;
`count_rows(client, prepared)` is the result's size without reading it (for formats that must be bounded).
A query whose result does not have the declared number of columns is a `ReportDefinitionError` (a bug in the
definition, logged and answered 500 by the app, caught by the catalog tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from api.access.masking import mask
from api.access.rows import RowScope
from api.reports.definition import Column, Report
from api.reports.query import QueryContext
from infra.clock import TAIPEI

BLOCK_ROWS = 10_000
QUERY_SECONDS = 30  # the spec's report generation limit; longer is a report run
QUERY_SETTINGS: dict[str, Any] = {"max_execution_time": QUERY_SECONDS}
CENT = Decimal("0.01")


class ReportDefinitionError(RuntimeError):
    """A report's query does not return what its definition declares."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """A report's query for one caller: SQL, parameters, tables read, and how to turn a raw row into output."""

    report: Report
    values: dict[str, Any]
    sql: str
    parameters: dict[str, Any]
    tables: tuple[str, ...]
    convert: Callable[[Sequence[Any]], tuple[Any, ...]]


def prepare(report: Report, values: dict[str, Any], scope: RowScope, today: date | None = None) -> Prepared:
    """The query of `report` with `values` for the caller of `scope`."""
    ctx = QueryContext(report, values, scope, today)
    sql = report.sql(ctx)
    masked = scope.role.masked
    converters = [_converter(c, c.personal is not None and c.personal in masked) for c in report.columns]
    width = len(converters)

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        if len(row) != width:
            raise ReportDefinitionError(f"{report.id}: the query returned {len(row)} columns, {width} declared")
        return tuple(f(v) for f, v in zip(converters, row, strict=True))

    return Prepared(report, values, sql, ctx.parameters, tuple(ctx.tables), convert)


def stream_rows(client: Client, prepared: Prepared) -> Iterator[tuple[Any, ...]]:
    """Every row of the result, converted and masked, read block by block."""
    settings = {"max_block_size": BLOCK_ROWS, **QUERY_SETTINGS}
    with client.query_rows_stream(prepared.sql, parameters=prepared.parameters, settings=settings) as rows:
        for row in rows:
            yield prepared.convert(row)


def all_rows(client: Client, prepared: Prepared, limit: int | None = None, offset: int = 0) -> list[tuple[Any, ...]]:
    """The whole result (at most `limit` rows, after the first `offset`) in memory: pages, caching, verify."""
    sql = prepared.sql if limit is None else f"SELECT * FROM ({prepared.sql}) LIMIT {int(limit)} OFFSET {int(offset)}"
    result = client.query(sql, parameters=prepared.parameters, settings=QUERY_SETTINGS)
    return [prepared.convert(row) for row in result.result_rows]


def count_rows(client: Client, prepared: Prepared) -> int:
    """How many rows the result has."""
    result = client.query(f"SELECT count() FROM ({prepared.sql})", parameters=prepared.parameters,
                          settings=QUERY_SETTINGS)
    return int(result.result_rows[0][0])


def _converter(column: Column, masked: bool) -> Callable[[Any], Any]:
    base = _CONVERTERS[column.kind]
    if not masked or column.personal is None:
        return base
    kind = column.personal

    def masked_value(value: Any) -> Any:
        return None if value is None else mask(kind, str(value))

    return masked_value


def _money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT)


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if number != number else number  # NaN (0/0 in ClickHouse) is no figure


def _date(value: Any) -> date | None:
    if value is None:
        return None
    day: date = value.date() if isinstance(value, datetime) else value
    return day


def _datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    moment: datetime = value
    if moment.tzinfo is None:  # clickhouse-connect gives naive UTC for columns without a zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TAIPEI)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "money": _money, "decimal": _decimal, "int": _int, "rate": _float, "float": _float, "date": _date,
    "datetime": _datetime, "text": _text, "bool": _bool,
}
