"""Creating the report catalog's BI views (infra/clickhouse/report_views.py) against a stand-in client: only the
views whose tables exist, stale `report_*` views dropped, a refused statement named; the README lists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from api.reports.bi_views import BI_VIEWS, LABELS_VIEW
from infra.clickhouse.report_views import END, START, create_report_views, statements, views_markdown
from infra.process import StackError
from infra.settings import PROJECT_ROOT
from sinks.bank_tables import bank_table_defs
from sinks.ddl import table_defs, view_statements


@dataclass
class _Result:
    result_rows: list[tuple[Any, ...]]


@dataclass
class FakeClient:
    tables: set[str]
    views: set[str] = field(default_factory=set)
    refuse: str | None = None
    commands: list[str] = field(default_factory=list)

    def query(self, sql: str, parameters: dict[str, Any] | None = None) -> _Result:
        if "engine = 'View'" in sql:
            return _Result([(name,) for name in sorted(self.views)])
        return _Result([(name,) for name in sorted(self.tables)])

    def command(self, sql: str) -> None:
        if self.refuse and f"`{self.refuse}`" in sql and sql.startswith("CREATE"):
            raise DatabaseError("Code: 47. Unknown expression identifier")
        self.commands.append(sql)


def _analytics_tables() -> set[str]:
    names = set(table_defs()) | set(bank_table_defs())
    for statement in view_statements("luckygas"):
        names.add(statement.split("`luckygas`.", 1)[1].split(" ", 1)[0].strip("`"))
    return names | {"bank_reconciliation_latest", "bank_reconciliation_summary", "v_bank_statements",
                    "v_bank_movements"}


def test_every_view_is_created_when_its_tables_exist_and_stale_ones_go() -> None:
    client = FakeClient(_analytics_tables(), views={"report_sales_daily", "report_old_thing", "v_w110_branch"})
    created, missing = create_report_views(client, "luckygas")  # type: ignore[arg-type]
    assert created == [v.name for v in BI_VIEWS] + [LABELS_VIEW] and missing == []
    assert client.commands[-1] == "DROP VIEW IF EXISTS `luckygas`.`report_old_thing`"
    assert sum(c.startswith("CREATE OR REPLACE VIEW") for c in client.commands) == len(BI_VIEWS) + 1


def test_a_view_whose_tables_are_missing_waits_for_the_next_provision() -> None:
    tables = _analytics_tables() - {"bank_reconciliation_latest"}
    created, missing = create_report_views(FakeClient(tables), "luckygas")  # type: ignore[arg-type]
    assert "report_bank_reconciliation" not in created and "report_sales_daily" in created
    assert missing == ["bank_reconciliation_latest"]


def test_a_refused_statement_names_the_view() -> None:
    client = FakeClient(_analytics_tables(), refuse="report_stock_status")
    with pytest.raises(StackError, match="report view report_stock_status"):
        create_report_views(client, "luckygas")  # type: ignore[arg-type]


def test_the_statements_read_only_policy_tables() -> None:
    for name, tables, statement in statements("luckygas"):
        assert name.startswith("report_") and statement.startswith(f"CREATE OR REPLACE VIEW `luckygas`.`{name}`")
        assert set(tables) <= _analytics_tables(), name


def test_the_readme_lists_the_views_as_defined() -> None:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert START in text and END in text, "run python -m infra.clickhouse.report_views readme"
    section = text.split(START, 1)[1].split(END, 1)[0]
    assert section == "\n" + views_markdown(), "stale: run python -m infra.clickhouse.report_views readme"
    for view in BI_VIEWS:
        assert f"`{view.name}`" in section
