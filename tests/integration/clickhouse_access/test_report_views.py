"""The report catalog's BI views on the stack as `make up` provisions them (api/reports/bi_views.py,
infra/clickhouse/report_views.py): every view holds the rows of its catalog report run through api.reports.runner
with the view's parameters, so a BI tool and the API cannot disagree about a number:

- every branch: the view in the analytics database, read by `default`, is the report as the head office runs it;
- `bi_analyst` (every branch, personal data masked), over HTTP and native TCP, reads the report as an analyst runs
  it (the `_masked` view where the view has personal columns; the plain one refuses them);
- `bi_branch_tpe` (branch manager of TPE), over HTTP and native TCP, reads the report as the TPE branch manager
  runs it, TPE rows only, and is refused the company totals (collections per month, trial balance, bank);
- the BI database shows every column's zh-TW / English label, and `report_view_columns` lists them.

Reads only, restarts nothing. The stack may still be applying changes (the worker, the bank landing) and a view
and its report are two reads: each comparison is retried until they agree or SETTLE_SECONDS pass.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from api.access.policy import load_policy
from api.access.principal import Principal
from api.access.rows import RowScope
from api.reports.bi_views import BI_VIEWS, LABELS_VIEW, BiView, bi_view, column_comment, column_type, run_values
from api.reports.definition import Report
from api.reports.runner import all_rows, prepare
from infra.clickhouse.access import bi_access_settings, bi_users, current_plan
from infra.clickhouse.runner import get_client
from infra.clock import TAIPEI, SystemClock, business_day
from infra.settings import StackSettings
from tests.integration.clickhouse_access.probes import Runner, connect, granted_views

pytestmark = pytest.mark.integration
PROTOCOLS = ["http", "native"]
POLICY = load_policy()
SETTLE_SECONDS = 60.0
REFUSED = r"Not enough privileges|Unknown table|UNKNOWN_TABLE"
# What the stack's history fills for every branch and for TPE (the trial balance of a month just begun, the newest
# bank reconciliation and a month's collections may be empty; a branch login does not read company totals).
FILLED = {"report_sales_daily", "report_fulfilment_daily", "report_receivables_aging_today", "report_stock_status",
          "report_dispatch_runs", "report_customers_profile", "report_reference_price_list"}
Rows = Counter[tuple[Any, ...]]


def _principal(role: str, branches: frozenset[str] | None = None) -> Principal:
    return Principal(f"test:{role}", "service", role, branches, frozenset(), None, None)


def _cell(kind: str, value: Any) -> Any:
    """A cell as both sides are compared: decimals by value, rates to 9 places, times as instants."""
    if value is None:
        return None
    if kind in ("money", "decimal"):
        return Decimal(value).normalize()
    if kind in ("rate", "float"):
        return round(float(value), 9)
    if kind == "datetime":
        return (value if value.tzinfo is not None else value.replace(tzinfo=TAIPEI)).timestamp()
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    return value


def _rows(report: Report, rows: Sequence[Sequence[Any]]) -> Rows:
    return Counter(tuple(_cell(c.kind, v) for c, v in zip(report.columns, row, strict=True)) for row in rows)


def _report(client: Client, view: BiView, who: Principal) -> Callable[[], list[tuple[Any, ...]]]:
    """The view's report run through the runner as `who`, on the business day of the moment it runs."""
    def read() -> list[tuple[Any, ...]]:
        today = business_day(SystemClock().now())
        return all_rows(client, prepare(view.report, run_values(view, today), RowScope(who, POLICY), today))

    return read


def _query(run: Runner, sql: str) -> Callable[[], list[tuple[Any, ...]]]:
    return lambda: run(sql)


def _same_rows(view: BiView, read_view: Callable[[], Sequence[Sequence[Any]]],
               read_report: Callable[[], Sequence[Sequence[Any]]]) -> tuple[Rows, Rows]:
    """(the report's rows, the view's rows), read again until they agree or SETTLE_SECONDS pass."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        expected, seen = _rows(view.report, read_report()), _rows(view.report, read_view())
        if seen == expected or time.monotonic() > deadline:
            return expected, seen
        time.sleep(1.0)


def _explain(name: str, expected: Rows, seen: Rows) -> str:
    only_report = sorted((expected - seen).elements(), key=repr)[:3]
    only_view = sorted((seen - expected).elements(), key=repr)[:3]
    return (f"{name}: the report has {sum(expected.values())} rows, the view {sum(seen.values())}; "
            f"only in the report {only_report}; only in the view {only_view}")


def _default_runner(client: Client) -> Runner:
    return lambda sql: [tuple(r) for r in client.query(sql).result_rows]


def test_every_view_holds_its_reports_rows_for_every_branch(stack: StackSettings) -> None:
    default = get_client(stack)
    run, head = _default_runner(default), _principal("head_office")
    filled = []
    try:
        for view in BI_VIEWS:
            sql = f"SELECT * FROM `{stack.clickhouse.database}`.`{view.name}`"
            expected, seen = _same_rows(view, _query(run, sql), _report(default, view, head))
            assert seen == expected, _explain(view.name, expected, seen)
            if expected:
                filled.append(view.name)
    finally:
        default.close()
    assert set(filled) >= FILLED, f"views without rows on the stack: {sorted(FILLED - set(filled))}"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_analyst_login_reads_the_reports_figures_masked(stack: StackSettings, protocol: str) -> None:
    login = next(u for u in bi_users(stack) if u.role == "analyst" and u.branches is None)
    role = POLICY.role(login.role)
    granted = set(granted_views(current_plan(stack), login.name))
    default = get_client(stack)
    run, close = connect(protocol, stack, login.name, login.password.get_secret_value(),
                         bi_access_settings(stack).database)
    analyst = _principal(login.role)
    checked = []
    try:
        for view in BI_VIEWS:
            if view.family not in role.families:
                assert view.name not in granted, view.name
                continue
            personal = POLICY.table(view.name).personal_columns
            name = f"{view.name}_masked" if personal else view.name
            assert name in granted, name
            expected, seen = _same_rows(view, _query(run, f"SELECT * FROM `{name}`"),
                                        _report(default, view, analyst))
            assert seen == expected, _explain(name, expected, seen)
            if personal:
                with pytest.raises(Exception, match="Not enough privileges"):
                    run(f"SELECT `{next(iter(personal))}` FROM `{view.name}` LIMIT 1")
            checked.append(view.name)
    finally:
        close()
        default.close()
    assert {"report_customers_profile", "report_receivables_aging_today", "report_collections_monthly"} <= set(checked)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_tpe_login_reads_only_tpe_rows_with_the_reports_figures(stack: StackSettings, protocol: str) -> None:
    login = next(u for u in bi_users(stack) if u.branches == ["TPE"])
    role = POLICY.role(login.role)
    granted = set(granted_views(current_plan(stack), login.name))
    default = get_client(stack)
    run, close = connect(protocol, stack, login.name, login.password.get_secret_value(),
                         bi_access_settings(stack).database)
    tpe = _principal(login.role, frozenset({"TPE"}))
    filled, refused = [], []
    try:
        for view in BI_VIEWS:
            access = POLICY.table(view.name)
            if view.family not in role.families or access.company_wide:
                assert view.name not in granted, view.name
                with pytest.raises(Exception, match=REFUSED):
                    run(f"SELECT count() FROM `{view.name}`")
                refused.append(view.name)
                continue
            expected, seen = _same_rows(view, _query(run, f"SELECT * FROM `{view.name}`"),
                                        _report(default, view, tpe))
            assert seen == expected, _explain(view.name, expected, seen)
            if access.branch_column is not None:
                at = [c.name for c in view.report.columns].index(access.branch_column)
                assert {row[at] for row in seen} <= {"TPE"}, f"{view.name} shows another branch"
            if expected:
                filled.append(view.name)
    finally:
        close()
        default.close()
    assert set(filled) >= FILLED, f"views without TPE rows on the stack: {sorted(FILLED - set(filled))}"
    assert {"report_collections_monthly", "report_ledger_trial_balance", "report_bank_reconciliation"} <= set(refused)


def test_the_bi_database_shows_every_columns_labels(stack: StackSettings) -> None:
    database = bi_access_settings(stack).database
    published = [v.name for v in current_plan(stack).views if v.source.startswith("report_")
                 and v.source != LABELS_VIEW]
    assert {"report_sales_daily", "report_customers_profile_masked"} <= set(published)
    default = get_client(stack)
    try:
        for name in published:
            view = bi_view(name.removesuffix("_masked"))
            columns = default.query("SELECT name, type, comment FROM system.columns WHERE database = {db:String} "
                                    "AND table = {t:String} ORDER BY position",
                                    parameters={"db": database, "t": name}).result_rows
            assert [tuple(c) for c in columns] == [(c.name, column_type(c), column_comment(c))
                                                   for c in view.report.columns], name
            comment = default.query("SELECT comment FROM system.tables WHERE database = {db:String} "
                                    "AND name = {t:String}", parameters={"db": database, "t": name}).result_rows
            assert comment and view.report.title_zh in comment[0][0] and view.holds_en in comment[0][0], name
    finally:
        default.close()
    login = next(u for u in bi_users(stack) if u.role == "analyst" and u.branches is None)
    run, close = connect("http", stack, login.name, login.password.get_secret_value(), database)
    try:
        labels = run(f"SELECT view, column, label_zh, label_en, unit FROM `{LABELS_VIEW}`")
    finally:
        close()
    assert len(labels) == sum(len(v.report.columns) for v in BI_VIEWS)
    assert ("report_sales_daily", "gross", "含稅金額", "gross", "TWD") in labels
