"""A synthetic report with every column kind and Chinese text, its rows, and a render context, for the format
tests: the renderers are exercised without ClickHouse, on values typed as `api.reports.definition` says."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.reports.definition import Chart, Column, Param, Report
from api.reports.formats import RenderContext, renderer

COLUMNS = (
    Column("day", "date", "日期", "day"),
    Column("branch_code", "text", "分公司", "branch"),
    Column("customer_name", "text", "客戶名稱", "customer"),
    Column("phone", "text", "電話", "phone", personal="phone"),
    Column("order_id", "int", "訂單編號", "order id"),
    Column("cylinders", "int", "鋼瓶數", "cylinders"),
    Column("gross", "money", "含稅金額", "gross", "TWD"),
    Column("weight", "decimal", "重量", "weight", "kg"),
    Column("margin", "rate", "毛利率", "margin"),
    Column("distance", "float", "里程", "distance", "km"),
    Column("ordered_at", "datetime", "下單時間", "ordered at"),
    Column("paid", "bool", "已付款", "paid"),
)

REPORT = Report(
    id="test_everything", group="W200", family="sales", title_zh="測試用每日銷售報表", title_en="Test daily sales",
    answers="每一種欄位型別各一欄，供格式測試使用。", params=(
        Param("date_from", "date", "起日", "from"), Param("date_to", "date", "迄日", "to"),
        Param("branch", "branch", "分公司", "branch")),
    columns=COLUMNS, sql=lambda ctx: "SELECT 1", source="query_time", how="Synthetic rows for the format tests.",
    formats=("json", "csv", "xlsx", "parquet", "pdf"),
    chart=Chart("bar", "day", ("gross",), "每日含稅銷售額", "Gross sales per day"),
)

CUSTOMERS = ("王小明", "陳美玲瓦斯行", "林記小吃店", "=HYPERLINK(\"http://x\")", "張三 & 李四 <公司>")
BRANCHES = ("TPE", "TXG", "KHH")
START = date(2026, 3, 1)


def row(i: int) -> tuple[Any, ...]:
    """Row `i`: deterministic, with None in a few places, a negative and a large amount."""
    gross = Decimal("1234567.89") if i == 0 else Decimal(-350) if i == 1 else Decimal(i * 137 % 90_000) / 4
    return (
        START + timedelta(days=i // 3 % 31),
        BRANCHES[i % 3],
        CUSTOMERS[i % len(CUSTOMERS)],
        None if i % 4 == 3 else f"09{i % 100_000_000:08d}",
        100_000 + i,
        i % 40,
        gross.quantize(Decimal("0.01")),
        Decimal("12.5") + Decimal(i) / 1000 if i % 7 else None,
        None if i % 5 == 4 else (i % 100) / 400,
        i * 0.37,
        datetime(2026, 3, 1, 1, 30, tzinfo=UTC) + timedelta(minutes=17 * i),
        i % 2 == 0,
    )


def rows(n: int) -> Iterator[tuple[Any, ...]]:
    """`n` rows, made one at a time (the memory tests read 200,000 of them)."""
    for i in range(n):
        yield row(i)


def many_rows(n: int) -> Iterator[tuple[Any, ...]]:
    """`n` rows made one at a time from a block of a thousand: each a new tuple with a new order id (a renderer
    that kept its rows would keep them all), cheap enough for the memory tests' 200,000."""
    block = [row(i) for i in range(1_000)]
    for i in range(n):
        base = block[i % 1_000]
        yield (*base[:4], 100_000 + i, *base[5:])


def context(report: Report = REPORT) -> RenderContext:
    return RenderContext(
        report=report,
        values={"date_from": date(2026, 3, 1), "date_to": date(2026, 3, 31), "branch": None},
        generated_at=datetime(2026, 4, 1, 2, 15, 30, tzinfo=UTC),
        as_of=datetime(2026, 4, 1, 2, 10, tzinfo=UTC),
        branches=("TPE", "TXG", "KHH"),
    )


def render(name: str, n: int, ctx: RenderContext | None = None) -> bytes:
    return b"".join(renderer(name)(ctx or context(), rows(n)))
