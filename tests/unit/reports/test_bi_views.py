"""The report catalog's BI views (api/reports/bi_views.py), checked without a server: each is its report's own
query with literals for the parameters and moving days as ClickHouse expressions; every column is typed and
labelled; every view is in roles.yaml with its report's family, a branch column where its rows carry branches
and the report's personal columns; the BI plan publishes them with the branch logins' row filters."""

from __future__ import annotations

import re
from datetime import date

import pytest

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.bi_views import (
    BI_VIEWS,
    HISTORY_FROM,
    HISTORY_TO,
    LABEL_COLUMNS,
    LABELS_VIEW,
    TAIPEI_TODAY,
    THIS_MONTH,
    TODAY,
    BiView,
    Moving,
    ViewDefinitionError,
    bi_view,
    column_type,
    create_statement,
    describe_value,
    label_rows,
    labels_statement,
    run_values,
    sql_literal,
    view_query,
)
from api.reports.catalog import catalog
from api.reports.runner import prepare
from infra.clickhouse.access import BiAccessSettings, BiUser, build_plan
from infra.clickhouse.access_render import view_statements

POLICY = load_policy()
DB = "luckygas"
VIEWS = {v.name: v for v in BI_VIEWS}
IDS = [v.name for v in BI_VIEWS]
FAMILIES = {"sales", "fulfilment", "receivables", "collections", "stock", "dispatch", "customers", "ledger",
            "reference"}


def test_one_view_per_family_named_after_it() -> None:
    assert len(VIEWS) == len(BI_VIEWS)
    families = [v.family for v in BI_VIEWS]
    assert set(families) >= FAMILIES and len(families) == len(set(families))
    for view in BI_VIEWS:
        assert re.fullmatch(rf"report_{view.family}_[a-z0-9_]+", view.name), view.name
        assert view.report_id in catalog()
        assert view.holds_zh and view.holds_en
    assert bi_view("report_stock_status").report_id == "stock_status"
    with pytest.raises(KeyError):
        bi_view("report_nothing")


@pytest.mark.parametrize("name", IDS)
def test_the_view_is_its_reports_query_with_no_placeholder_left(name: str) -> None:
    view = VIEWS[name]
    report = view.report
    select, tables = view_query(view, DB, POLICY)
    assert "{p_" not in select and "{x_" not in select and "{branches" not in select, "a placeholder left"
    assert tables and all(t in POLICY.tables for t in tables)
    for table in tables:
        assert f"(SELECT * FROM `{DB}`.`{table}` WHERE 1)" in select, table
    assert not re.search(r"FROM `(?!luckygas`)", select), "every table read from the analytics database"
    names = ", ".join(f"`{c.name}`" for c in report.columns)
    assert select.endswith(f") AS r ({names})")
    for column in report.columns:
        assert f"AS {column_type(column)}) AS `{column.name}`" in select, column.name


def test_parameters_become_typed_literals_and_moving_days_expressions() -> None:
    sales, _ = view_query(VIEWS["report_sales_daily"], DB, POLICY)
    assert "BETWEEN CAST('1900-01-01' AS Date32) AND CAST('2299-12-31' AS Date32)" in sales
    assert "member = " not in sales  # branch None: the report adds no branch condition
    aging, _ = view_query(VIEWS["report_receivables_aging_today"], DB, POLICY)
    assert f"CAST({TAIPEI_TODAY} AS Date32)" in aging
    assert "c.status NOT IN CAST(['closed', 'blacklisted'] AS Array(String))" in aging
    assert not re.search(r"'20\d\d-\d\d-\d\d'", aging), "today is read at query time, not written in"
    trial, _ = view_query(VIEWS["report_ledger_trial_balance"], DB, POLICY)
    assert f"CAST({THIS_MONTH.sql} AS String)" in trial
    collections, _ = view_query(VIEWS["report_collections_monthly"], DB, POLICY)
    assert "toStartOfMonth(" in collections  # grain month chose the SQL's shape


def test_literals_are_quoted_and_typed() -> None:
    assert sql_literal("a'b\\c", "String") == "CAST('a\\'b\\\\c' AS String)"
    assert sql_literal(None, "Int64") == "CAST(NULL AS Nullable(Int64))"
    assert sql_literal(True, "Bool") == "CAST(true AS Bool)"
    assert sql_literal(7, "Int64") == "CAST(7 AS Int64)"
    assert sql_literal(date(2026, 1, 2), "Date32") == "CAST('2026-01-02' AS Date32)"
    assert sql_literal(["x", "y'"], "Array(String)") == "CAST(['x', 'y\\''] AS Array(String))"
    with pytest.raises(ViewDefinitionError):
        sql_literal(1.5, "Float64")


def test_money_is_rounded_like_the_runner_and_times_are_in_taipei() -> None:
    select, _ = view_query(VIEWS["report_dispatch_runs"], DB, POLICY)
    assert "CAST(r.`day` AS Nullable(Date32)) AS `day`" in select
    assert "if(isNaN(toFloat64(r.`on_time_rate`)), NULL, toFloat64(r.`on_time_rate`))" in select
    aging, _ = view_query(VIEWS["report_receivables_aging_today"], DB, POLICY)
    assert "CAST(roundBankers(r.`outstanding`, 2) AS Nullable(Decimal(18, 2))) AS `outstanding`" in aging
    profile = VIEWS["report_customers_profile"].report
    assert column_type(profile.column("registered_on")) == "Nullable(Date32)"
    stale = catalog()["period_invoices"].column("voided_at")
    assert column_type(stale) == "Nullable(DateTime64(6, 'Asia/Taipei'))"


@pytest.mark.parametrize("name", IDS)
def test_every_column_and_the_view_carry_zh_and_english_labels(name: str) -> None:
    view = VIEWS[name]
    statement = create_statement(view, DB, POLICY)
    assert statement.startswith(f"CREATE OR REPLACE VIEW `{DB}`.`{name}` (")
    for column in view.report.columns:
        assert column.label_zh and column.label_en
        unit = f" ({column.unit})" if column.unit else ""
        assert f"`{column.name}` {column_type(column)} COMMENT '{column.label_zh} / {column.label_en}{unit}" in statement
    comment = re.search(r"\) COMMENT '(.*?)' AS SELECT", statement)
    assert comment is not None
    assert view.report.title_zh in comment.group(1) and view.report.title_en in comment.group(1)
    assert view.holds_zh in comment.group(1) and f"Catalog report {view.report_id}" in comment.group(1)


def test_the_labels_view_has_a_row_per_view_column() -> None:
    rows = label_rows()
    assert len(rows) == sum(len(v.report.columns) for v in BI_VIEWS)
    assert len(rows[0]) == len(LABEL_COLUMNS)
    by_key = {(r[0], r[4]): dict(zip([n for n, _ in LABEL_COLUMNS], r, strict=True)) for r in rows}
    gross = by_key[("report_sales_daily", "gross")]
    assert gross["label_zh"] == "含稅金額" and gross["unit"] == "TWD" and gross["type"] == "Nullable(Decimal(18, 2))"
    assert by_key[("report_customers_profile", "tax_id")]["personal"] == "tax_id"
    statement = labels_statement(DB)
    assert statement.startswith(f"CREATE OR REPLACE VIEW `{DB}`.`{LABELS_VIEW}` COMMENT ")
    assert "'含稅金額'" in statement and "arrayJoin([" in statement and "{" not in statement


@pytest.mark.parametrize("name", IDS)
def test_every_view_is_in_roles_yaml_as_its_report_says(name: str) -> None:
    view = VIEWS[name]
    access = POLICY.table(name)
    assert access.family == view.family
    columns = {c.name for c in view.report.columns}
    personal = {c.name: c.personal for c in view.report.columns if c.personal}
    assert dict(access.personal_columns) == personal, "roles.yaml masks what the report marks personal"
    _, tables = view_query(view, DB, POLICY)
    carries_branches = any(POLICY.table(t).branch_column or POLICY.table(t).company_wide for t in tables)
    if carries_branches:
        assert access.branch_column in columns or access.company_wide, f"{name} needs its branch column"
    else:
        assert access.branch_column is None and not access.company_wide
    if access.branch_column:
        assert access.branch_via is None and access.branch_rows is None
    assert POLICY.table(LABELS_VIEW).family == "reference"


@pytest.mark.parametrize("name", IDS)
def test_the_api_runs_the_same_report_with_the_views_values(name: str) -> None:
    view = VIEWS[name]
    today = date(2026, 11, 20)
    values = run_values(view, today)
    assert set(values) == {p.name for p in view.report.params}
    for key, value in view.params.items():
        assert values[key] == (value.value(today) if isinstance(value, Moving) else value)
    head = Principal("test:head", "service", "head_office", None, frozenset(), None, None)
    prepared = prepare(view.report, values, RowScope(head, POLICY), today)
    _, tables = view_query(view, DB, POLICY)
    assert tuple(prepared.tables) == tables
    assert run_values(VIEWS["report_ledger_trial_balance"], today)["period"] == "2026-11"
    assert run_values(VIEWS["report_sales_daily"], today)["date_from"] == HISTORY_FROM
    assert run_values(VIEWS["report_sales_daily"], today)["date_to"] == HISTORY_TO


def test_a_report_that_computes_with_a_moving_day_in_python_is_refused() -> None:
    turnover = BiView("report_stock_turnover", "stock_turnover", "x", "x",
                      {"date_from": TODAY, "date_to": TODAY, "branch": None})
    with pytest.raises(ViewDefinitionError, match="computes with a moving parameter"):
        view_query(turnover, DB, POLICY)
    sheet = BiView("report_ledger_balance_sheet", "balance_sheet", "x", "x", {"period": THIS_MONTH, "branch": None})
    with pytest.raises(ViewDefinitionError, match="computes with a moving parameter"):
        view_query(sheet, DB, POLICY)
    tax = BiView("report_receivables_output_tax", "output_tax_summary", "x", "x",
                 {"period": THIS_MONTH, "period_to": None, "branch": None})
    with pytest.raises(ViewDefinitionError, match="computes with a moving parameter"):
        view_query(tax, DB, POLICY)  # str() of the period in Python
    shortage = BiView("report_stock_shortage", "shortage_alerts", "x", "x",
                      {"branch": None, "days": 30, "cover_days": 7})
    with pytest.raises(ViewDefinitionError, match="binds a day computed in Python"):
        view_query(shortage, DB, POLICY)
    partial = BiView("report_sales_partial", "daily_sales", "x", "x", {"branch": None})
    with pytest.raises(ViewDefinitionError, match="without a view value"):
        view_query(partial, DB, POLICY)


def test_the_bi_plan_publishes_them_with_the_branch_filters() -> None:
    users = [BiUser.model_validate({"name": "bi_analyst", "password": "pw-a", "role": "analyst"}),
             BiUser.model_validate({"name": "bi_branch_tpe", "password": "pw-b", "role": "branch_manager",
                                    "branches": ["TPE"]})]
    plan = build_plan(POLICY, BiAccessSettings(), users, DB)
    grants = {u.user.name: {g.view: g for g in u.grants} for u in plan.users}
    tpe, analyst = grants["bi_branch_tpe"], grants["bi_analyst"]
    assert tpe["report_sales_daily"].row_filter == "`branch_code` IN ('TPE')"
    assert tpe["report_stock_status"].row_filter == "`warehouse` IN ('TPE')"
    assert tpe["report_reference_price_list"].row_filter is None
    for refused in ("report_collections_monthly", "report_ledger_trial_balance", "report_bank_reconciliation"):
        assert refused not in tpe
    assert analyst["report_customers_profile"].revoked == ("contact_mobile", "contact_name", "customer_name",
                                                           "delivery_address", "tax_id")
    assert "report_customers_profile_masked" in analyst and "report_collections_monthly" in analyst
    assert analyst["report_sales_daily"].row_filter is None
    published = {v.name: v for v in plan.views}
    assert published["report_receivables_aging_today_masked"].masks == {"customer_name": "person_name"}


def test_the_published_views_carry_the_labels_into_the_bi_database() -> None:
    users = [BiUser.model_validate({"name": "bi_analyst", "password": "pw-a", "role": "analyst"})]
    plan = build_plan(POLICY, BiAccessSettings(), users, DB)
    statements = {s.split("`luckygas_bi`.`", 1)[1].split("`", 1)[0]: s for s in view_statements(plan)[1:]}
    for name in ("report_sales_daily", "report_customers_profile_masked"):
        view = VIEWS[name.removesuffix("_masked")]
        statement = statements[name]
        for column in view.report.columns:
            assert f"`{column.name}` {column_type(column)} COMMENT '{column.label_zh} / {column.label_en}" in statement
        assert statement.endswith(f"FROM `luckygas`.`{view.name}` COMMENT '{view.report.title_zh} / "
                                  f"{view.report.title_en}: {view.holds_zh} / {view.holds_en}. Catalog report "
                                  f"{view.report_id} ({', '.join(f'{k}={describe_value(v)}' for k, v in view.params.items())}); "
                                  f"family {view.family}; money TWD Decimal(18,2), days Asia/Taipei.'")
    assert "COMMENT" not in statements["v_w200_order_master"]  # other tables: as their source
