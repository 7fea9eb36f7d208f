"""Two branches of synthetic rows in every ClickHouse table, built from the table definitions.

Row i belongs to branch BRANCHES[i - 1]: every integer column is i (so an order, its customer, its invoice,
its dispatch run and its driver all point at each other, and `branch_via` chains resolve to the same
branch), every branch column holds the branch code, personal columns hold realistic Taiwanese values (the
masks' inputs) and other strings are tagged with the branch. agg_sales also gets a row of dimension
'product', which a branch-scoped reader must not see (`branch_rows`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.bank_tables import bank_create_statements, bank_table_defs
from sinks.ddl import TableDef, create_statements, table_defs

BRANCHES = ("TPE", "TXG")
BRANCH_COLUMNS = {"branch_code", "warehouse_code", "branch", "warehouse", "cost_center", "member"}
PERSONAL_VALUES = {
    "mobile": "0912345678",
    "phone": "02-2345-6789",
    "name_zh": "王小明",
    "tax_id": "12345678",
    "buyer_tax_id": "12345678",
    "email": "wang@example.com",
    "address_zh": "台北市大安區復興南路一段1號",
    "line_id": "wang_line",
}
MOMENT = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def value(column: str, kind: str, i: int, branch: str) -> Any:
    """A value of ClickHouse type `kind` for column `column` of row i."""
    kind = kind.removeprefix("LowCardinality(").removeprefix("Nullable(").rstrip(")") if "(" in kind else kind
    if column == "_deleted":
        return 0
    if column == "dimension":
        return "branch"
    if kind.startswith("Array"):
        return []
    if kind in ("String",):
        if column in BRANCH_COLUMNS:
            return branch
        return PERSONAL_VALUES.get(column, f"{branch}-{column}")
    if kind.startswith(("Int", "UInt")):
        return 0 if kind == "UInt8" and column != "_version" else i
    if kind.startswith("Decimal"):
        return Decimal(i)
    if kind.startswith("Float"):
        return float(i)
    if kind == "Bool":
        return True
    if kind.startswith("Date32") or kind == "Date":
        return date(2026, 1, 5)
    if kind.startswith("DateTime"):
        return MOMENT
    raise TypeError(f"no synthetic value for {column} {kind}")


def rows(definition: TableDef) -> list[list[Any]]:
    out = [[value(c, k, i, b) for c, k in definition.columns] for i, b in enumerate(BRANCHES, start=1)]
    if definition.name == "agg_sales":
        extra = dict(zip(definition.column_names, out[0], strict=True))
        extra.update({"dimension": "product", "member": "P-1", "net_cents": 3})
        out.append(list(extra.values()))
    return out


def seed(client: Client, database: str) -> None:
    """Create every table and view of the analytics database and fill each table with the two branches."""
    client.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    for statement in [*create_statements(database), *bank_create_statements(database)]:
        client.command(statement)
    for definition in [*table_defs().values(), *bank_table_defs().values()]:
        client.insert(definition.name, rows(definition), column_names=list(definition.column_names),
                      database=database)
